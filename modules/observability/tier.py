"""Observability of one environment: monitoring (logs, metrics, queries, anomaly alarms, dashboard), tracing, SLOs
and cost, composed over whatever the other tiers expose.

:func:`observed_resources` reads the app, data and security tiers (each may be None) through the public attributes
their modules document, and leaves out what a tier does not expose.
"""
from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct


from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require
from modules.core.helpers import serves_only
from modules.observability.cost import Cost, CostSettings
from modules.observability.monitoring import Monitoring, MonitoringSettings, ObservedResources
from modules.observability.slo import CanarySettings, HealthCanary, Slo, SloSettings
from modules.observability.tracing import Tracing, TracingSettings


@dataclass(frozen=True)
class ObservabilityModuleSettings:
    """Inputs of :class:`Observability`: one settings object per part."""

    monitoring: MonitoringSettings
    tracing: TracingSettings
    slo: SloSettings
    cost: CostSettings
    enable_canary: bool = True
    """A health canary when a public endpoint (or `canary_url`) and an artifact bucket exist. Default true."""
    canary_url: str | None = None
    """Explicit canary URL (certificate verified). Default: the load balancer's DNS name + `health_check_path`."""
    health_check_path: str = "/health"
    """Path the default canary URL ends with. Default ``/health``."""
    canary_interval_minutes: int = 5
    """Minutes between canary runs. Default 5."""


class Observability(Module):
    """Monitoring, tracing, SLOs and cost of one environment.

    Public attributes: ``monitoring``, ``tracing``, ``slo``, ``cost`` (the parts), ``dashboard_name``,
    ``canary`` (or None), ``metric_namespace``, ``log_group_names``, ``alarm_names`` (every alarm this module created).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ObservabilityModuleSettings,
                 alarm_topics: AlarmTopics, observed: ObservedResources) -> None:
        super().__init__(scope, id_, ctx)
        require(bool(alarm_topics), "`alarm_topics` are required: SLO and cost alerts notify the alerting topics")
        self.settings = settings
        self.monitoring = Monitoring(self, "monitoring", ctx, settings.monitoring, alarm_topics, observed)
        self.tracing = Tracing(self, "tracing", ctx, settings.tracing, alarm_topics)
        self.slo = Slo(self, "slo", ctx, settings.slo, alarm_topics)
        self.cost = Cost(self, "cost", ctx, settings.cost, alarm_topics)
        self.canary: HealthCanary | None = None
        url = settings.canary_url or (f"https://{observed.public_endpoint}{settings.health_check_path}"
                                      if observed.public_endpoint else None)
        if settings.enable_canary and url and observed.artifact_bucket_name:
            # The canary with its role, code and alarms exists only for the Synthetics canary: where the target cannot
            # create one, the stack's local variant leaves all of it out (modules/stack/local_variant.py).
            self.canary = serves_only(HealthCanary(self, "canary", ctx, CanarySettings(
                url=url, artifact_bucket_name=observed.artifact_bucket_name,
                artifact_kms_key_arn=settings.monitoring.logs_kms_key_arn, verify_tls=settings.canary_url is not None,
                interval_minutes=settings.canary_interval_minutes), alarm_topics), "aws_synthetics_canary")
        self.dashboard_name = self.monitoring.dashboard_name
        self.metric_namespace = self.monitoring.namespace
        self.log_group_names = self.monitoring.log_group_names
        self.alarm_names = [*self.monitoring.alarm_names.values(), *self.tracing.alarm_names, *self.slo.alarm_names,
                            *([self.canary.alarm_name] if self.canary else [])]
