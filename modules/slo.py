"""SLO monitoring: multi-window error-budget burn-rate alarms, the latency objective alarm, and a Synthetics canary
on the public health endpoint.

Burn rate = (failed / total requests over a window) / error budget. Fast burn (critical): the 1 h and the 5 min
windows both above `fast_burn_rate`; slow burn (warning): the 6 h and the 30 min windows both above
`slow_burn_rate`. Each pair is one composite alarm (the window alarms themselves notify nobody: less noise); where
composite alarms are unavailable (local emulator) the window alarms still exist. A fast burn that lasts
`escalation_minutes` re-notifies the escalation topic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_composite_alarm import CloudwatchCompositeAlarm
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from constructs import Construct

from envs.observability import LATENCY_METRIC, REQUESTS_METRIC, SERVER_ERRORS_METRIC

from .alerting import Alerting
from .base import Context, Module, require, tags

#: (name, long window seconds, short window seconds, severity)
BURN_WINDOWS = (("fast", 3600, 300, "critical"), ("slow", 21600, 1800, "warning"))


@dataclass(frozen=True)
class SloSettings:
    """Inputs of :class:`Slo`."""

    namespace: str
    """Namespace of the service's request metrics. Required."""
    availability_percent: float = 99.9
    """Availability objective in percent, strictly between 0 and 100. Default 99.9."""
    latency_p99_ms: int = 500
    """p99 latency objective in milliseconds. Default 500."""
    fast_burn_rate: float = 14.4
    """Burn rate of the fast-burn alarm. Default 14.4."""
    slow_burn_rate: float = 6.0
    """Burn rate of the slow-burn alarm; below `fast_burn_rate`. Default 6."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(0 < self.availability_percent < 100,
                f"`availability_percent` must be strictly between 0 and 100, got {self.availability_percent}")
        require(1 < self.slow_burn_rate < self.fast_burn_rate,
                "`slow_burn_rate` must be above 1 and below `fast_burn_rate`")
        require(self.latency_p99_ms > 0, "`latency_p99_ms` must be positive")

    @property
    def error_budget(self) -> float:
        return round(1 - self.availability_percent / 100, 10)


def error_ratio_query(namespace: str, period: int) -> list[dict[str, Any]]:
    """Metric math: failed / total requests over ``period`` (0 when there was no request)."""
    return [
        {"id": "errors", "return_data": False,
         "metric": {"namespace": namespace, "metric_name": SERVER_ERRORS_METRIC, "period": period, "stat": "Sum"}},
        {"id": "requests", "return_data": False,
         "metric": {"namespace": namespace, "metric_name": REQUESTS_METRIC, "period": period, "stat": "Sum"}},
        {"id": "ratio", "expression": "IF(requests > 0, errors / requests, 0)", "label": "error ratio",
         "return_data": True},
    ]


class Slo(Module):
    """Burn-rate and latency alarms of the service's SLOs.

    Public attributes: ``window_alarms`` (name -> CloudwatchMetricAlarm), ``composite_alarms`` (``fast``/``slow`` ->
    CloudwatchCompositeAlarm; empty where the target lacks them), ``alarm_names``, ``thresholds`` (window name ->
    error-ratio threshold).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: SloSettings, alerting: Alerting) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.window_alarms: dict[str, CloudwatchMetricAlarm] = {}
        self.composite_alarms: dict[str, CloudwatchCompositeAlarm] = {}
        self.thresholds: dict[str, float] = {}
        composites = ctx.target.supports("aws_cloudwatch_composite_alarm")
        for burn, long_s, short_s, severity in BURN_WINDOWS:
            rate = settings.fast_burn_rate if burn == "fast" else settings.slow_burn_rate
            threshold = min(1.0, round(rate * settings.error_budget, 10))
            pair = []
            for window, period in (("long", long_s), ("short", short_s)):
                name = f"{prefix}-slo-{burn}-burn-{_label(period)}"
                # The fast pair's short window escalates: a fast burn that goes on pages the second line.
                alarm = alerting.alarm(
                    self, f"{burn}-{window}", severity=severity, alarm_name=name, period=period,
                    evaluation_periods=1, notify=not composites, escalate=burn == "fast" and window == "short",
                    comparison_operator="GreaterThanThreshold", threshold=threshold, treat_missing_data="notBreaching",
                    alarm_description=f"error budget burning > {rate}x over {_label(period)} "
                                      f"(error ratio > {threshold:g}; SLO {settings.availability_percent} %)",
                    metric_query=error_ratio_query(settings.namespace, period))
                self.window_alarms[name] = alarm
                self.thresholds[name] = threshold
                pair.append(alarm)
            if composites:
                name = f"{prefix}-slo-{burn}-burn"
                actions = alerting.actions(severity)
                self.composite_alarms[burn] = CloudwatchCompositeAlarm(
                    self, f"{burn}-burn", alarm_name=name,
                    alarm_rule=" AND ".join(f'ALARM("{a.alarm_name}")' for a in pair),
                    alarm_description=f"{burn} error-budget burn (> {rate}x): both windows in ALARM",
                    alarm_actions=actions, ok_actions=actions,
                    tags=tags(ctx, name, {**extra, "Severity": severity}))
        latency_name = f"{prefix}-slo-latency-p99"
        self.latency_alarm = alerting.alarm(
            self, "latency-p99", severity="critical", alarm_name=latency_name, period=300, evaluation_periods=3,
            comparison_operator="GreaterThanThreshold", threshold=settings.latency_p99_ms, namespace=settings.namespace,
            metric_name=LATENCY_METRIC, extended_statistic="p99", treat_missing_data="notBreaching",
            evaluate_low_sample_count_percentiles="ignore",
            alarm_description=f"p99 latency above the {settings.latency_p99_ms} ms objective for 15 minutes")
        self.alarm_names = [*self.window_alarms, latency_name, *(c.alarm_name for c in self.composite_alarms.values())]


def _label(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"
