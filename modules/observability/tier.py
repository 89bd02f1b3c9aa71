"""Observability of one environment: monitoring (logs, metrics, queries, anomaly alarms, dashboard), tracing, SLOs
and cost, composed over whatever the other tiers expose.

:func:`observed_resources` reads the app, data and security tiers (each may be None) through the public attributes
their modules document, and leaves out what a tier does not expose.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from envs.contract import metric_namespace
from envs.observability import ObservabilitySettings

from modules.observability.alerting import Alerting
from modules.core.base import Context, Module, require
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


def observability_settings(settings: Any, logs_kms_key_arn: str) -> ObservabilityModuleSettings:
    """Map an environment's settings (``EnvironmentSettings``) onto :class:`ObservabilityModuleSettings`."""
    o: ObservabilitySettings = settings.observability
    return ObservabilityModuleSettings(
        monitoring=MonitoringSettings(logs_kms_key_arn=logs_kms_key_arn, log_retention_days=settings.log_retention_days,
                                      error_log_pattern=o.error_log_pattern,
                                      enable_anomaly_detection=o.enable_anomaly_detection,
                                      latency_objective_ms=o.slo.latency_p99_ms),
        tracing=TracingSettings(default_sampling_rate=o.tracing.default_sampling_rate,
                                reservoir_per_second=o.tracing.reservoir_per_second, services=dict(o.tracing.services),
                                fault_rate_percent=o.tracing.fault_rate_percent, latency_ms=o.slo.latency_p99_ms),
        slo=SloSettings(namespace=metric_namespace(settings.name_prefix),
                        availability_percent=o.slo.availability_percent, latency_p99_ms=o.slo.latency_p99_ms,
                        fast_burn_rate=o.slo.fast_burn_rate, slow_burn_rate=o.slo.slow_burn_rate),
        cost=CostSettings(environment=settings.name, monthly_limit_usd=o.budget.monthly_limit_usd,
                          actual_thresholds_percent=o.budget.actual_thresholds_percent,
                          forecast_thresholds_percent=o.budget.forecast_thresholds_percent,
                          anomaly_threshold_usd=o.budget.anomaly_threshold_usd,
                          cost_allocation_tags=o.budget.cost_allocation_tags),
        enable_canary=o.enable_canary, canary_url=o.canary_url, health_check_path=o.health_check_path,
        canary_interval_minutes=o.canary_interval_minutes,
    )


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict):
        return tuple(v for v in value.values() if isinstance(v, str))
    try:
        return tuple(v for v in value if isinstance(v, str))
    except TypeError:
        return ()


def observed_resources(app: Any, data: Any, security: Any) -> ObservedResources:
    """What the tiers expose (documented public attributes), for dashboards and alarms; None tiers give nothing."""
    agent_ns = memory = None
    if app is not None:
        try:
            from modules.app.compute import AGENT_NAMESPACE, MEMORY_METRIC

            agent_ns, memory = AGENT_NAMESPACE, MEMORY_METRIC
        except ImportError:  # compute module absent: no memory widget
            pass
    database = _get(data, "database")
    db_ids = (*_strs(_get(database, "identifier")), *_strs(_get(database, "replica_identifiers")))
    cache_ids = _strs(_get(data, "cache", "member_cluster_ids"))
    acls = _get(security, "web_acl_names")
    if isinstance(acls, dict):  # scope -> name
        web_acls = tuple(v for k, v in sorted(acls.items()) if k != "cloudfront" and isinstance(v, str))
        cloudfront_acls = tuple(v for k, v in acls.items() if k == "cloudfront" and isinstance(v, str))
    else:
        web_acls, cloudfront_acls = _strs(acls), ()
    return ObservedResources(
        alb_arn_suffix=_get(app, "alb_arn_suffix"),
        target_group_arn_suffixes=dict(_get(app, "target_group_arn_suffixes") or {}),
        asg_names=dict(_get(app, "asg_names") or {}),
        agent_namespace=agent_ns, memory_metric=memory,
        db_identifiers=db_ids, cache_cluster_ids=cache_ids,
        cloudfront_distribution_id=_get(data, "cdn", "distribution_id") or _get(data, "distribution_id"),
        web_acl_names=web_acls, cloudfront_web_acl_names=cloudfront_acls,
        public_endpoint=_get(app, "alb_dns_name"),
        artifact_bucket_name=(_get(data, "bucket_names") or {}).get("logs"),
    )


class Observability(Module):
    """Monitoring, tracing, SLOs and cost of one environment.

    Public attributes: ``monitoring``, ``tracing``, ``slo``, ``cost`` (the parts), ``dashboard_name``,
    ``canary`` (or None), ``metric_namespace``, ``log_group_names``, ``alarm_names`` (every alarm this module created).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ObservabilityModuleSettings,
                 alerting: Alerting | None, observed: ObservedResources) -> None:
        super().__init__(scope, id_, ctx)
        require(alerting is not None, "`alerting` is required: SLO and cost alerts notify its topics")
        assert alerting is not None
        self.settings = settings
        self.monitoring = Monitoring(self, "monitoring", ctx, settings.monitoring, alerting, observed)
        self.tracing = Tracing(self, "tracing", ctx, settings.tracing, alerting)
        self.slo = Slo(self, "slo", ctx, settings.slo, alerting)
        self.cost = Cost(self, "cost", ctx, settings.cost, alerting)
        self.canary: HealthCanary | None = None
        url = settings.canary_url or (f"https://{observed.public_endpoint}{settings.health_check_path}"
                                      if observed.public_endpoint else None)
        if (settings.enable_canary and url and observed.artifact_bucket_name
                and ctx.target.supports("aws_synthetics_canary")):
            self.canary = HealthCanary(self, "canary", ctx, CanarySettings(
                url=url, artifact_bucket_name=observed.artifact_bucket_name,
                artifact_kms_key_arn=settings.monitoring.logs_kms_key_arn, verify_tls=settings.canary_url is not None,
                interval_minutes=settings.canary_interval_minutes), alerting)
        self.dashboard_name = self.monitoring.dashboard_name
        self.metric_namespace = self.monitoring.namespace
        self.log_group_names = self.monitoring.log_group_names
        self.alarm_names = [*self.monitoring.alarm_names.values(), *self.tracing.alarm_names, *self.slo.alarm_names,
                            *([self.canary.alarm_name] if self.canary else [])]
