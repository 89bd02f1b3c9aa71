"""Tracing: AWS X-Ray sampling rules (a default and one per service), groups with filter expressions and insights
notifications, and trace-based alarms on fault rate and latency.

X-Ray publishes ``ApproximateTraceCount`` per group (namespace ``AWS/X-Ray``, dimension ``GroupName``); the alarms
compare the fault group and the slow group with the all-traces group.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.xray_group import XrayGroup, XrayGroupInsightsConfiguration
from cdktf_cdktf_provider_aws.xray_sampling_rule import XraySamplingRule
from constructs import Construct

from modules.core.alarms import AlarmTopics, metric_alarm
from modules.core.base import Context, Module, require
from modules.core.helpers import tags

#: Priority of the per-service rules (lower wins); the default rule has the lowest precedence AWS allows.
SERVICE_RULE_PRIORITY = 100
DEFAULT_RULE_PRIORITY = 9000


@dataclass(frozen=True)
class TracingSettings:
    """Inputs of :class:`Tracing`."""

    default_sampling_rate: float = 0.05
    """Fixed rate of the default sampling rule, 0 to 1. Default 0.05."""
    reservoir_per_second: int = 1
    """Reservoir of every rule (traces per second before the fixed rate). Default 1."""
    services: dict[str, float] = field(default_factory=dict)
    """Service name -> sampling rate; one rule and one group per service. Default: none."""
    fault_rate_percent: float = 5.0
    """Fault rate of traced requests that raises the fault alarm. Default 5."""
    latency_ms: int = 500
    """Response time a slow trace exceeds (the latency objective). Default 500."""
    slow_rate_percent: float = 1.0
    """Share of traces slower than `latency_ms` that raises the latency alarm (1 % = the p99 objective). Default 1."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(0 <= self.default_sampling_rate <= 1, "`default_sampling_rate` must be 0..1")
        for name, rate in self.services.items():
            require(0 <= rate <= 1, f"`services` [{name}]: sampling rate must be 0..1, got {rate}")
        require(0 < self.fault_rate_percent <= 100, "`fault_rate_percent` must be in (0, 100]")


class Tracing(Module):
    """X-Ray rules, groups and trace alarms.

    Public attributes: ``sampling_rule_names``, ``group_names`` (key -> name: ``all``, ``faults``, ``slow``, and
    ``service-<name>``), ``alarm_names``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: TracingSettings,
                 alarm_topics: AlarmTopics) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.sampling_rule_names: list[str] = []
        rules = [("default", "*", settings.default_sampling_rate, DEFAULT_RULE_PRIORITY)]
        rules += [(f"svc-{name}", name, rate, SERVICE_RULE_PRIORITY + i)
                  for i, (name, rate) in enumerate(sorted(settings.services.items()))]
        for key, service, rate, priority in rules:
            # Rule names: at most 32 characters.
            rule_name = f"{prefix}-{key}"[:32]
            XraySamplingRule(self, f"rule-{key}", rule_name=rule_name, priority=priority, version=1,
                             reservoir_size=settings.reservoir_per_second, fixed_rate=rate, service_name=service,
                             service_type="*", host="*", http_method="*", url_path="*", resource_arn="*",
                             tags=tags(ctx, rule_name, extra))
            self.sampling_rule_names.append(rule_name)

        slow_s = settings.latency_ms / 1000
        groups = {"all": "responsetime >= 0", "faults": "fault = true", "slow": f"responsetime > {slow_s:g}"}
        groups.update({f"service-{name}": f'service("{name}") {{ fault = true OR responsetime > {slow_s:g} }}'
                       for name in sorted(settings.services)})
        self.group_names = {key: f"{prefix}-{key}" for key in groups}
        for key, expression in groups.items():
            XrayGroup(self, f"group-{key}", group_name=self.group_names[key], filter_expression=expression,
                      insights_configuration=XrayGroupInsightsConfiguration(
                          insights_enabled=True, notifications_enabled=key != "all"),
                      tags=tags(ctx, self.group_names[key], extra))

        self.alarm_names: list[str] = []
        if alarm_topics:
            for key, percent, what in (("faults", settings.fault_rate_percent, "fault rate"),
                                       ("slow", settings.slow_rate_percent, f"share of traces > {settings.latency_ms} ms")):
                name = f"{prefix}-traces-{key}"
                metric_alarm(
                    self, f"alarm-{key}", ctx, alarm_topics, extra_tags=extra, severity="warning", alarm_name=name, period=300, evaluation_periods=3,
                    datapoints_to_alarm=2, comparison_operator="GreaterThanThreshold", threshold=percent,
                    treat_missing_data="notBreaching",
                    alarm_description=f"X-Ray {what} above {percent:g} % of traced requests",
                    metric_query=[
                        {"id": "part", "return_data": False, "metric": {
                            "namespace": "AWS/X-Ray", "metric_name": "ApproximateTraceCount", "period": 300,
                            "stat": "Sum", "dimensions": {"GroupName": self.group_names[key]}}},
                        {"id": "total", "return_data": False, "metric": {
                            "namespace": "AWS/X-Ray", "metric_name": "ApproximateTraceCount", "period": 300,
                            "stat": "Sum", "dimensions": {"GroupName": self.group_names["all"]}}},
                        {"id": "pct", "expression": "IF(total > 0, 100 * part / total, 0)", "label": what,
                         "return_data": True}])
                self.alarm_names.append(name)
