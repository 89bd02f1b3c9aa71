"""SLO monitoring: multi-window error-budget burn-rate alarms, the latency objective alarm, and a Synthetics canary
on the public health endpoint.

Burn rate = (failed / total requests over a window) / error budget. Fast burn (critical): the 1 h and the 5 min
windows both above `fast_burn_rate`; slow burn (warning): the 6 h and the 30 min windows both above
`slow_burn_rate`. Each pair is one composite alarm (the window alarms themselves notify nobody: less noise); where
composite alarms are unavailable (local emulator) the stack's local variant leaves the composite out and the window
alarms notify in its place (``modules.core.helpers.notifies_for``). A fast burn that lasts
`escalation_minutes` re-notifies the escalation topic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_composite_alarm import CloudwatchCompositeAlarm
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.synthetics_canary import (SyntheticsCanary, SyntheticsCanaryArtifactConfig,
                                                        SyntheticsCanaryArtifactConfigS3Encryption,
                                                        SyntheticsCanaryRunConfig, SyntheticsCanarySchedule)
from constructs import Construct

from envs.contract import LATENCY_METRIC, REQUESTS_METRIC, SERVER_ERRORS_METRIC

from modules.core.alarms import AlarmTopics, metric_alarm
from modules.core.base import Context, Module, require
from modules.core.helpers import notifies_for, policy_json, service_role, tags

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
    CloudwatchCompositeAlarm; left out of the local variant, see the module's docstring), ``alarm_names``, ``thresholds`` (window name ->
    error-ratio threshold).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: SloSettings,
                 alarm_topics: AlarmTopics) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.window_alarms: dict[str, CloudwatchMetricAlarm] = {}
        self.composite_alarms: dict[str, CloudwatchCompositeAlarm] = {}
        self.thresholds: dict[str, float] = {}
        for burn, long_s, short_s, severity in BURN_WINDOWS:
            rate = settings.fast_burn_rate if burn == "fast" else settings.slow_burn_rate
            threshold = min(1.0, round(rate * settings.error_budget, 10))
            pair = []
            for window, period in (("long", long_s), ("short", short_s)):
                name = f"{prefix}-slo-{burn}-burn-{_label(period)}"
                # The fast pair's short window escalates: a fast burn that goes on pages the second line.
                alarm = metric_alarm(
                    self, f"{burn}-{window}", ctx, alarm_topics, extra_tags=extra, severity=severity, alarm_name=name, period=period,
                    evaluation_periods=1, notify=False, escalate=burn == "fast" and window == "short",
                    comparison_operator="GreaterThanThreshold", threshold=threshold, treat_missing_data="notBreaching",
                    alarm_description=f"error budget burning > {rate}x over {_label(period)} "
                                      f"(error ratio > {threshold:g}; SLO {settings.availability_percent} %)",
                    metric_query=error_ratio_query(settings.namespace, period))
                self.window_alarms[name] = alarm
                self.thresholds[name] = threshold
                pair.append(alarm)
            name = f"{prefix}-slo-{burn}-burn"
            actions = alarm_topics.actions(severity)
            self.composite_alarms[burn] = CloudwatchCompositeAlarm(
                self, f"{burn}-burn", alarm_name=name,
                alarm_rule=" AND ".join(f'ALARM("{a.alarm_name}")' for a in pair),
                alarm_description=f"{burn} error-budget burn (> {rate}x): both windows in ALARM",
                alarm_actions=actions, ok_actions=actions,
                tags=tags(ctx, name, {**extra, "Severity": severity}))
            # Where the target has no composite alarms, the window alarms notify in its place (the local variant).
            notifies_for(pair, self.composite_alarms[burn])
        latency_name = f"{prefix}-slo-latency-p99"
        self.latency_alarm = metric_alarm(
            self, "latency-p99", ctx, alarm_topics, extra_tags=extra, severity="critical", alarm_name=latency_name, period=300, evaluation_periods=3,
            comparison_operator="GreaterThanThreshold", threshold=settings.latency_p99_ms, namespace=settings.namespace,
            metric_name=LATENCY_METRIC, extended_statistic="p99", treat_missing_data="notBreaching",
            evaluate_low_sample_count_percentiles="ignore",
            alarm_description=f"p99 latency above the {settings.latency_p99_ms} ms objective for 15 minutes")
        self.alarm_names = [*self.window_alarms, latency_name, *(c.alarm_name for c in self.composite_alarms.values())]


def _label(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


CANARY_CODE_DIR = Path(__file__).resolve().parent / "canary"
CANARY_RUNTIME = "syn-nodejs-puppeteer-9.1"


@dataclass(frozen=True)
class CanarySettings:
    """Inputs of :class:`HealthCanary`."""

    url: str
    """``https://`` URL of the public health endpoint. Required."""
    artifact_bucket_name: str
    """S3 bucket receiving the canary's run artifacts (under ``canary/``). Required."""
    artifact_kms_key_arn: str
    """KMS key encrypting the artifacts (the bucket's key). Required."""
    verify_tls: bool = True
    """Verify the endpoint's certificate. Default true; false only for the load balancer's own DNS name, which the
    service certificate does not cover."""
    interval_minutes: int = 5
    """Minutes between runs, 1 to 60. Default 5."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.url.startswith("https://"), f"`url` must be an https:// URL, got {self.url!r}")
        require(1 <= self.interval_minutes <= 60, f"`interval_minutes` must be 1..60, got {self.interval_minutes}")


class HealthCanary(Module):
    """A CloudWatch Synthetics canary calling the public health endpoint, and a critical alarm on its success rate.

    Public attributes: ``canary`` (escape hatch), ``name``, ``role_arn``, ``alarm_name``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: CanarySettings,
                 alarm_topics: AlarmTopics) -> None:
        super().__init__(scope, id_, ctx)
        s, prefix, extra = settings, ctx.name_prefix, settings.extra_tags
        # Canary names: at most 21 characters of [0-9a-z_-].
        self.name = f"{prefix[:14]}-health".lower()
        bucket_arn = f"arn:{ctx.partition}:s3:::{s.artifact_bucket_name}"
        role = service_role(self, "role", ctx, name=f"{prefix}-canary-health", service="lambda.amazonaws.com",
                            extra_tags=extra, this_account_only=False)
        IamRolePolicy(self, "policy", name="canary-run", role=role.id, policy=policy_json(
            {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
             "Resource": f"{bucket_arn}/canary/{self.name}/*"},
            {"Sid": "ArtifactBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": bucket_arn},
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
            {"Sid": "ArtifactKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": s.artifact_kms_key_arn},
            {"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:/aws/lambda/cwsyn-{self.name}-*"},
            {"Sid": "Metrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}},
        ))
        self.role_arn: str = role.arn
        code = TerraformAsset(self, "code", path=str(CANARY_CODE_DIR), type=AssetType.ARCHIVE)
        self.canary = SyntheticsCanary(
            self, "canary", name=self.name, runtime_version=CANARY_RUNTIME, handler="healthcheck.handler",
            zip_file=code.path, execution_role_arn=role.arn, start_canary=True,
            artifact_s3_location=f"s3://{s.artifact_bucket_name}/canary/{self.name}/",
            artifact_config=SyntheticsCanaryArtifactConfig(s3_encryption=SyntheticsCanaryArtifactConfigS3Encryption(
                encryption_mode="SSE_KMS", kms_key_arn=s.artifact_kms_key_arn)),
            schedule=SyntheticsCanarySchedule(expression=f"rate({s.interval_minutes} minute"
                                                         f"{'s' if s.interval_minutes > 1 else ''})"),
            run_config=SyntheticsCanaryRunConfig(timeout_in_seconds=30, environment_variables={
                "CANARY_URL": s.url, "CANARY_VERIFY_TLS": "true" if s.verify_tls else "false"}),
            success_retention_period=7, failure_retention_period=31,
            tags=tags(ctx, self.name, extra))
        self.alarm_name = f"{prefix}-canary-health"
        metric_alarm(
            self, "success-alarm", ctx, alarm_topics, extra_tags=extra, severity="critical", alarm_name=self.alarm_name, period=300,
            evaluation_periods=2, comparison_operator="LessThanThreshold", threshold=90,
            namespace="CloudWatchSynthetics", metric_name="SuccessPercent", statistic="Average",
            dimensions={"CanaryName": self.name}, treat_missing_data="breaching",
            alarm_description=f"health canary below 90 % success: {s.url}")
