"""Monitoring: application log groups (KMS, retention), metric filters that turn logs into the service's request and
error metrics, saved Logs Insights queries, anomaly-detection alarms, and the environment's CloudWatch dashboard.

The service's request metrics (namespace ``Platform/<prefix>``: ``Requests``, ``ServerErrors``, ``Latency``) come
from the access log (one JSON object per request with ``status`` and ``latency_ms``); the SLO alarms and the
``sla report`` command read the same metrics. Load balancer, Auto Scaling, RDS, ElastiCache, CloudFront and WAF
widgets appear when the other tiers expose those resources (:class:`ObservedResources`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import (CloudwatchLogMetricFilter,
                                                                  CloudwatchLogMetricFilterMetricTransformation)
from cdktf_cdktf_provider_aws.cloudwatch_query_definition import CloudwatchQueryDefinition
from constructs import Construct

from envs.contract import APP_ERRORS_METRIC, LATENCY_METRIC, REQUESTS_METRIC, SERVER_ERRORS_METRIC, metric_namespace

from modules.core.alarms import AlarmTopics, metric_alarm
from modules.core.base import Context, Module, require
from modules.core.helpers import tags

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


@dataclass(frozen=True)
class ObservedResources:
    """What the other tiers expose for dashboards and alarms; every field is optional (absent tier -> no widget)."""

    alb_arn_suffix: str | None = None
    """``app/<name>/<id>`` of the public load balancer."""
    target_group_arn_suffixes: dict[str, str] = field(default_factory=dict)
    """Colour -> target group ARN suffix."""
    asg_names: dict[str, str] = field(default_factory=dict)
    """Colour -> Auto Scaling group name."""
    agent_namespace: str | None = None
    """Namespace of the CloudWatch agent's instance metrics (memory), when the compute tier publishes them."""
    memory_metric: str | None = None
    """Name of the agent's memory-used metric."""
    db_identifiers: tuple[str, ...] = ()
    """RDS instance identifiers (primary first, then replicas)."""
    cache_cluster_ids: tuple[str, ...] = ()
    """ElastiCache member cluster ids."""
    cloudfront_distribution_id: str | None = None
    """The CDN distribution id."""
    web_acl_names: tuple[str, ...] = ()
    """WAFv2 web ACL names (regional)."""
    cloudfront_web_acl_names: tuple[str, ...] = ()
    """WAFv2 web ACL names of CloudFront scope (metrics in us-east-1, no Region dimension)."""
    public_endpoint: str | None = None
    """Host name of the public service (the load balancer's DNS name) for the canary."""
    artifact_bucket_name: str | None = None
    """Bucket for the canary's artifacts (the data tier's ``logs`` bucket)."""


@dataclass(frozen=True)
class MonitoringSettings:
    """Inputs of :class:`Monitoring`."""

    logs_kms_key_arn: str
    """KMS key of the log groups (the environment's ``logs`` key). Required."""
    log_retention_days: int = 30
    """Retention of the log groups; a value CloudWatch Logs accepts. Default 30."""
    error_log_pattern: str = "?ERROR ?Error ?Exception ?FATAL"
    """Filter pattern counting application errors. Default ``?ERROR ?Error ?Exception ?FATAL``."""
    enable_anomaly_detection: bool = True
    """Anomaly-detection alarms on request count and latency. Default true."""
    latency_objective_ms: int = 500
    """Latency line drawn on the dashboard. Default 500."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(bool(self.logs_kms_key_arn), "`logs_kms_key_arn` is required: log groups are always encrypted")
        require(self.log_retention_days in LOG_RETENTION_DAYS,
                f"`log_retention_days` {self.log_retention_days} is not a value CloudWatch Logs accepts")
        require(bool(self.error_log_pattern.strip()), "`error_log_pattern` must not be empty")


def _metric(namespace: str, name: str, stat: str, period: int, dims: dict[str, str] | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"metric_name": name, "namespace": namespace, "period": period, "stat": stat}
    if dims:
        m["dimensions"] = dims
    return m


class Monitoring(Module):
    """Logs, metrics, queries, anomaly alarms and the dashboard of one environment.

    Public attributes: ``log_groups`` (``application``/``access`` -> CloudwatchLogGroup, escape hatch),
    ``log_group_names``, ``namespace``, ``dashboard_name``, ``query_names``, ``alarm_names``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: MonitoringSettings,
                 alarm_topics: AlarmTopics, observed: ObservedResources) -> None:
        super().__init__(scope, id_, ctx)
        self.settings, self.alarm_topics, self.observed = settings, alarm_topics, observed
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.namespace = metric_namespace(prefix)

        self.log_groups: dict[str, CloudwatchLogGroup] = {
            source: CloudwatchLogGroup(self, f"log-{source}", name=f"/app/{prefix}/{source}",
                                       retention_in_days=settings.log_retention_days,
                                       kms_key_id=settings.logs_kms_key_arn,
                                       tags=tags(ctx, f"{prefix}-{source}-logs", extra))
            for source in ("application", "access")
        }
        self.log_group_names = {k: g.name for k, g in self.log_groups.items()}
        self._metric_filters()
        self.query_names: list[str] = self._queries()
        self.alarm_names: dict[str, str] = {}
        if settings.enable_anomaly_detection and alarm_topics:
            self._anomaly_alarms()
        self.dashboard_name = f"{prefix}-overview"
        self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=self.dashboard_name,
                                             dashboard_body=json.dumps({"widgets": self._widgets()}))

    # -- logs -> metrics ------------------------------------------------------------------------------------------

    def _metric_filters(self) -> None:
        access, app = self.log_groups["access"].name, self.log_groups["application"].name
        filters = [
            ("requests", access, "{ $.status = * }", REQUESTS_METRIC, "1", "Count", None),
            ("server-errors", access, "{ $.status >= 500 }", SERVER_ERRORS_METRIC, "1", "Count", 0),
            ("latency", access, "{ $.latency_ms >= 0 }", LATENCY_METRIC, "$.latency_ms", "Milliseconds", None),
            ("app-errors", app, self.settings.error_log_pattern, APP_ERRORS_METRIC, "1", "Count", 0),
        ]
        for id_, group, pattern, metric, value, unit, default in filters:
            transformation: dict[str, Any] = {"name": metric, "namespace": self.namespace, "value": value,
                                              "unit": unit}
            if default is not None:
                transformation["default_value"] = str(default)
            CloudwatchLogMetricFilter(self, f"filter-{id_}", name=f"{self.ctx.name_prefix}-{id_}",
                                      log_group_name=group, pattern=pattern,
                                      metric_transformation=CloudwatchLogMetricFilterMetricTransformation(**transformation))

    def _queries(self) -> list[str]:
        prefix = self.ctx.name_prefix
        access, app = self.log_groups["access"].name, self.log_groups["application"].name
        queries = {
            "recent-errors": ([app], "fields @timestamp, @logStream, @message | filter @message like /(?i)(error|"
                                     "exception|fatal)/ | sort @timestamp desc | limit 100"),
            "server-errors-by-path": ([access], "filter status >= 500 | stats count(*) as errors by path, status "
                                                "| sort errors desc | limit 50"),
            "slowest-requests": ([access], "fields @timestamp, path, status, latency_ms | sort latency_ms desc "
                                           "| limit 50"),
            "latency-percentiles": ([access], "stats pct(latency_ms, 50) as p50, pct(latency_ms, 90) as p90, "
                                              "pct(latency_ms, 99) as p99, count(*) as requests by bin(5m)"),
        }
        names = []
        for id_, (groups, query) in queries.items():
            name = f"{prefix}/{id_}"
            CloudwatchQueryDefinition(self, f"query-{id_}", name=name, log_group_names=groups, query_string=query)
            names.append(name)
        return names

    # -- anomaly detection ----------------------------------------------------------------------------------------

    def _anomaly_alarms(self) -> None:
        o, prefix = self.observed, self.ctx.name_prefix
        if o.alb_arn_suffix:
            requests = _metric("AWS/ApplicationELB", "RequestCount", "Sum", 300, {"LoadBalancer": o.alb_arn_suffix})
            latency = _metric("AWS/ApplicationELB", "TargetResponseTime", "p90", 300,
                              {"LoadBalancer": o.alb_arn_suffix})
        else:
            requests = _metric(self.namespace, REQUESTS_METRIC, "Sum", 300)
            latency = _metric(self.namespace, LATENCY_METRIC, "p90", 300)
        for id_, metric, operator, description in (
                ("requests", requests, "LessThanLowerOrGreaterThanUpperThreshold",
                 "Request count outside its expected band (traffic drop or surge)"),
                ("latency", latency, "GreaterThanUpperThreshold", "p90 latency above its expected band")):
            name = f"{prefix}-anomaly-{id_}"
            metric_alarm(
                self, f"anomaly-{id_}", self.ctx, self.alarm_topics, extra_tags=self.settings.extra_tags,
                severity="warning", alarm_name=name, period=300, evaluation_periods=3,
                datapoints_to_alarm=2, comparison_operator=operator, threshold_metric_id="band",
                treat_missing_data="notBreaching", alarm_description=description,
                metric_query=[{"id": "m1", "return_data": True, "metric": metric},
                              {"id": "band", "expression": "ANOMALY_DETECTION_BAND(m1, 2)",
                               "label": "expected band", "return_data": True}])
            self.alarm_names[f"anomaly-{id_}"] = name

    # -- dashboard ------------------------------------------------------------------------------------------------

    def _widgets(self) -> list[dict[str, Any]]:
        o, region, ns = self.observed, self.ctx.region, self.namespace
        widgets: list[dict[str, Any]] = []

        def graph(title: str, metrics: list[list[Any]], **props: Any) -> None:
            widgets.append({"type": "metric", "width": 12, "height": 6,
                            "properties": {"title": title, "region": region, "view": "timeSeries",
                                           "metrics": metrics, "period": 60, **props}})

        latency_line = {"horizontal": [{"label": "latency objective",
                                        "value": self.settings.latency_objective_ms}]}
        graph("Service requests and server errors", [[ns, REQUESTS_METRIC, {"stat": "Sum"}],
                                                     [ns, SERVER_ERRORS_METRIC, {"stat": "Sum"}],
                                                     [ns, APP_ERRORS_METRIC, {"stat": "Sum"}]])
        graph("Service latency (ms)", [[ns, LATENCY_METRIC, {"stat": s}] for s in ("p50", "p90", "p99")],
              annotations=latency_line)
        if o.alb_arn_suffix:
            lb = ["LoadBalancer", o.alb_arn_suffix]
            graph("ALB requests and 5xx", [["AWS/ApplicationELB", "RequestCount", *lb, {"stat": "Sum"}],
                                           ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *lb, {"stat": "Sum"}],
                                           ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *lb, {"stat": "Sum"}]])
            graph("ALB target response time (s)",
                  [["AWS/ApplicationELB", "TargetResponseTime", *lb, {"stat": s}] for s in ("p50", "p90", "p99")],
                  annotations={"horizontal": [{"label": "latency objective",
                                               "value": self.settings.latency_objective_ms / 1000}]})
        for colour, asg in sorted(o.asg_names.items()):
            dims = ["AutoScalingGroupName", asg]
            graph(f"ASG {colour}: capacity", [["AWS/AutoScaling", "GroupInServiceInstances", *dims],
                                              ["AWS/AutoScaling", "GroupDesiredCapacity", *dims]])
            cpu_mem: list[list[Any]] = [["AWS/EC2", "CPUUtilization", *dims, {"stat": "Average"}]]
            if o.agent_namespace and o.memory_metric:
                cpu_mem.append([o.agent_namespace, o.memory_metric, *dims, {"stat": "Average"}])
            graph(f"ASG {colour}: CPU and memory (%)", cpu_mem)
        for i, db in enumerate(o.db_identifiers):
            dims = ["DBInstanceIdentifier", db]
            graph(f"RDS {'primary' if i == 0 else 'replica ' + str(i)}: CPU, connections, storage",
                  [["AWS/RDS", "CPUUtilization", *dims], ["AWS/RDS", "DatabaseConnections", *dims],
                   ["AWS/RDS", "FreeStorageSpace", *dims, {"yAxis": "right"}]]
                  + ([["AWS/RDS", "ReplicaLag", *dims]] if i > 0 else []))
        for cluster in o.cache_cluster_ids:
            dims = ["CacheClusterId", cluster]
            graph("Redis: CPU, memory, evictions", [["AWS/ElastiCache", "EngineCPUUtilization", *dims],
                                                    ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", *dims],
                                                    ["AWS/ElastiCache", "Evictions", *dims, {"yAxis": "right"}]])
        if o.cloudfront_distribution_id:
            dims = ["DistributionId", o.cloudfront_distribution_id, "Region", "Global"]
            graph("CloudFront error rates (%)", [["AWS/CloudFront", "4xxErrorRate", *dims],
                                                 ["AWS/CloudFront", "5xxErrorRate", *dims]], region="us-east-1")
        for acl in o.web_acl_names:
            graph(f"WAF {acl}: blocked requests", [["AWS/WAFV2", "BlockedRequests", "WebACL", acl, "Rule", "ALL",
                                                   "Region", region, {"stat": "Sum"}]])
        for acl in o.cloudfront_web_acl_names:
            graph(f"WAF {acl}: blocked requests", [["AWS/WAFV2", "BlockedRequests", "WebACL", acl, "Rule", "ALL",
                                                   {"stat": "Sum"}]], region="us-east-1")
        for i, w in enumerate(widgets):
            w["x"], w["y"] = (i % 2) * 12, (i // 2) * 6
        return widgets
