"""The application tier: load balancer + compute (blue and green) + scaling + alarms + the blue-green release record.

Blue-green state: the release flow (``python main.py release``) writes the live weights and each colour's image and
version to the SSM parameter ``/<prefix>/app/release`` (a JSON record, not managed by Terraform). This module reads
it at plan time with ``data.aws_ssm_parameters_by_path`` and feeds the listener weights and the colours' launch
templates from it, falling back to the settings (``app.initial_weights``, the image of ``app.image_ssm_parameter``,
version ``initial``) while no release has happened. A plain ``deploy`` therefore plans exactly the live weights and
never undoes a release, and the record leaves no drift behind (Terraform does not own it).

The workload: the tier owns the artifact bucket (:mod:`modules.app.artifacts`) and the application's secret
(``<prefix>/app/runtime``, no value in the configuration). With ``workload = "reference"`` every deploy publishes
the reference workload (``workload/``) as ``workload/<ref-version>/app.tar.gz`` and a colour without a released
artifact runs it; each colour's version, artifact key, SHA-256 and the bucket reach its instances as launch
template tags (the boot script reads them, see :func:`modules.app.compute.user_data`). :meth:`AppTier.publish_config`
writes what the application connects to (SSM ``/<prefix>/workload/config``), :meth:`AppTier.grant_secret_read`
and the artifact store's ``grant_read`` are the instance role's access to the tier's own resources.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from cdktf import Token
from cdktf_cdktf_provider_aws.autoscaling_policy import (
    AutoscalingPolicy, AutoscalingPolicyStepAdjustment, AutoscalingPolicyTargetTrackingConfiguration,
    AutoscalingPolicyTargetTrackingConfigurationCustomizedMetricSpecification,
    AutoscalingPolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricDimension,
    AutoscalingPolicyTargetTrackingConfigurationPredefinedMetricSpecification)
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery,
                                                              CloudwatchMetricAlarmMetricQueryMetric)
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.data_aws_ssm_parameters_by_path import DataAwsSsmParametersByPath
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from workload import package as workload_package

from envs.contract import (COLOURS, RELEASE_ERROR_ALARM, app_alarm_name, release_parameter_name,
                           release_parameter_path)
from modules.app.artifacts import ArtifactStore, ArtifactStoreSettings
from modules.app.compute import AGENT_NAMESPACE, MEMORY_METRIC, NO_ARTIFACT, ColourRelease, Compute, ComputeSettings
from modules.app.load_balancer import LoadBalancer, LoadBalancerSettings
from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require
from modules.core.helpers import tags

INITIAL_VERSION = "initial"


@dataclass(frozen=True)
class AppTierModuleSettings:
    """Inputs of :class:`AppTier` that are not the load balancer's or compute's own settings."""

    load_balancer: LoadBalancerSettings
    """Settings of the load balancer (its weights come from the release record). Required."""
    compute: ComputeSettings
    """Settings of the instances. Required."""
    initial_weights: Mapping[str, int] = field(default_factory=lambda: {"blue": 100, "green": 0})
    """Weights while no release record exists. Default blue 100, green 0; they add up to 100."""
    image_ssm_parameter: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    """Public SSM parameter of the image used while a colour has no released image. Default AL2023 x86_64."""
    cpu_target_percent: float = 50.0
    """CPU target tracking goal. Default 50."""
    memory_target_percent: float = 70.0
    """Memory (CloudWatch agent) target tracking goal. Default 70."""
    burst_cpu_percent: float = 85.0
    """CPU that triggers the burst step policy. Default 85; above `cpu_target_percent`."""
    burst_step_instances: int = 2
    """Instances the burst step adds (twice as many 15 points higher). Default 2."""
    error_rate_percent: float = 5.0
    """Target 5xx share of requests that raises the 5xx alarm. Default 5."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """The alerting topics by severity (critical: 5xx; warning: unhealthy hosts; info: CPU bursts). Default none:
    alarms without actions."""
    workload: str = "reference"
    """``reference`` (the bundled workload, published by the deploy), ``artifact`` (`artifact_key` and
    `artifact_sha256` in the artifact bucket) or ``image`` (`image_id` holds the application). Default
    ``reference``."""
    artifact_key: str | None = None
    """Key of the user's tarball in the artifact bucket (``artifact``). Default none."""
    artifact_sha256: str | None = None
    """Its SHA-256 (``artifact``). Default none."""
    image_id: str | None = None
    """AMI holding the application (``image``); replaces `image_ssm_parameter`. Default none."""
    secrets_kms_key_arn: str | None = None
    """Key of the application's secret. Default none: the secret uses the EBS key of `compute`."""
    existing_secret_arn: str | None = None
    """Use this secret (e.g. the DR region's replica of the primary's secret) instead of creating
    ``<prefix>/app/runtime``; its key is `secrets_kms_key_arn`. Default none: the tier creates its secret."""
    force_destroy_artifacts: bool = True
    """Let Terraform delete the artifact bucket with its objects. Default true (the stack sets false for
    protected environments)."""

    def __post_init__(self) -> None:
        require(self.workload in ("reference", "artifact", "image"),
                f"`workload` must be reference, artifact or image, got {self.workload!r}")
        require(self.workload != "artifact" or (self.artifact_key is not None and self.artifact_sha256 is not None),
                "`artifact_key` and `artifact_sha256` are required when `workload` is artifact")
        require(self.workload != "image" or self.image_id is not None,
                "`image_id` is required when `workload` is image")
        require(set(self.initial_weights) == set(COLOURS) and sum(self.initial_weights.values()) == 100,
                "`initial_weights` must give blue and green weights that add up to 100")
        require(self.burst_cpu_percent > self.cpu_target_percent,
                "`burst_cpu_percent` must be above `cpu_target_percent`")


class AppTier(Module):
    """Load balancer, blue and green Auto Scaling groups, scaling and alarms.

    Public attributes: ``load_balancer`` and ``compute`` (the sub-constructs), ``alb_arn`` (what a WAF web ACL
    associates with), ``alb_arn_suffix``, ``alb_dns_name``, ``alb_zone_id``, ``http_listener_arn``,
    ``https_listener_arn``, ``alb_security_group_id``, ``app_security_group_id``, ``target_group_arns`` and
    ``target_group_arn_suffixes`` (colour -> value), ``asg_names`` (colour -> name), ``scaling_policy_arns``
    (name -> ARN), ``alarm_arns`` and ``alarm_names`` (name -> value), ``release_parameter_name``,
    ``instance_role_name``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: AppTierModuleSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix = ctx.name_prefix
        self.release_parameter_name = release_parameter_name(prefix)

        # The release record (written by the release flow, never by Terraform) and the default image.
        record = DataAwsSsmParametersByPath(self, "release-record", path=release_parameter_path(prefix),
                                            recursive=False, with_decryption=False)
        if s.image_id is not None:
            default_image = json.dumps(s.image_id)
        else:
            image = DataAwsSsmParameter(self, "image", name=s.image_ssm_parameter, with_decryption=False)
            default_image = f"{image.fqn}.insecure_value"
        doc = (f'jsondecode({record.fqn}.values[index({record.fqn}.names, "{self.release_parameter_name}")])')
        weights = {c: Token.as_number(f"${{try(tonumber({doc}.weights.{c}), {s.initial_weights[c]})}}")
                   for c in COLOURS}

        self.load_balancer = LoadBalancer(self, "lb", ctx, s.load_balancer, weights=weights)
        lb = self.load_balancer

        # The artifact bucket, and what a colour without a released artifact runs.
        self.artifacts = ArtifactStore(self, "artifacts", ctx, ArtifactStoreSettings(
            kms_key_arn=s.compute.ebs_kms_key_arn, log_bucket=lb.access_log_bucket,
            force_destroy=s.force_destroy_artifacts), log_bucket_dependencies=[lb.log_bucket_policy])
        self.default_release = self._default_release()
        version, key, sha = (json.dumps(v) for v in self.default_release)
        releases = {c: ColourRelease(image_id=f"try({doc}.colours.{c}.image_id, {default_image})",
                                     version=f"try({doc}.colours.{c}.version, {version})",
                                     artifact_key=f"try({doc}.colours.{c}.artifact_key, {key})",
                                     sha256=f"try({doc}.colours.{c}.sha256, {sha})")
                    for c in COLOURS}
        self.secret: SecretsmanagerSecret | None = None
        if s.existing_secret_arn is None:
            self.secret = SecretsmanagerSecret(
                self, "secret", name=f"{prefix}/app/runtime",
                description=f"{prefix}: the application's own secret (its value is put out of band, never in "
                            "Terraform)",
                kms_key_id=s.secrets_kms_key_arn or s.compute.ebs_kms_key_arn,
                recovery_window_in_days=0 if s.force_destroy_artifacts else 30,
                tags=tags(ctx, f"{prefix}-app-runtime"))
        self.secret_arn: str = self.secret.arn if self.secret is not None else s.existing_secret_arn

        self.compute = Compute(self, "compute", ctx,
                               replace(s.compute, load_balancer_security_group_id=lb.security_group_id),
                               target_group_arns=lb.target_group_arns,
                               releases=releases, artifact_bucket=f"{self.artifacts.bucket.fqn}.bucket")
        lb.allow_to("app", self.compute.security_group_id, s.compute.app_port)

        self.alb_arn: str = lb.arn
        self.alb_arn_suffix: str = lb.arn_suffix
        self.alb_dns_name: str = lb.dns_name
        self.alb_zone_id: str = lb.zone_id
        self.http_listener_arn: str = lb.http_listener_arn
        self.https_listener_arn: str = lb.https_listener_arn
        self.alb_security_group_id: str = lb.security_group_id
        self.app_security_group_id: str = self.compute.security_group_id
        self.target_group_arns: dict[str, str] = dict(lb.target_group_arns)
        self.target_group_arn_suffixes: dict[str, str] = dict(lb.target_group_arn_suffixes)
        self.asg_names: dict[str, str] = dict(self.compute.asg_names)
        self.instance_role_name: str = self.compute.role_name
        self.scaling_policy_arns: dict[str, str] = {}
        self.alarm_arns: dict[str, str] = {}
        self.alarm_names: dict[str, str] = {}
        for colour in COLOURS:
            self._scaling(colour)
        self._alarms()

    # -- workload --------------------------------------------------------------------------------------------------

    def _default_release(self) -> tuple[str, str, str]:
        """(version, artifact key, SHA-256) of a colour the release flow has not released yet."""
        s = self.settings
        if s.workload == "reference":
            artifact = workload_package.build()
            self.artifacts.publish("reference-workload", artifact.key, artifact.data, artifact.sha256)
            return artifact.version, artifact.key, artifact.sha256
        if s.workload == "artifact":
            assert s.artifact_key is not None and s.artifact_sha256 is not None
            return INITIAL_VERSION, s.artifact_key, s.artifact_sha256
        return INITIAL_VERSION, NO_ARTIFACT, NO_ARTIFACT

    def publish_config(self, config: Mapping[str, Any]) -> str:
        """Write what the application connects to as the JSON SSM parameter ``/<prefix>/workload/config`` (read
        by the boot script into ``/etc/app/config.json``; no secret in it: IAM tokens and secret ARNs only).
        Returns the parameter's name."""
        name = self.compute.boot.config_parameter
        self.config_parameter = SsmParameter(
            self, "workload-config", name=name, type="String", tier="Standard",
            description=f"{self.ctx.name_prefix}: endpoints and names the application connects to",
            value=json.dumps(dict(config), sort_keys=True), tags=tags(self.ctx, f"{self.ctx.name_prefix}-workload"))
        self.config_parameter_arn: str = self.config_parameter.arn
        return name

    def grant_config_read(self) -> list[dict[str, Any]]:
        """IAM statements letting a role read the configuration parameter (call :meth:`publish_config` first)."""
        return [{"Sid": "ReadWorkloadConfig", "Effect": "Allow", "Action": "ssm:GetParameter",
                 "Resource": self.config_parameter_arn}]

    def grant_secret_read(self) -> list[dict[str, Any]]:
        """IAM statements letting a role read the application's secret, decrypted through Secrets Manager only."""
        key = self.settings.secrets_kms_key_arn or self.settings.compute.ebs_kms_key_arn
        return [
            {"Sid": "ReadAppSecret", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": self.secret_arn},
            {"Sid": "DecryptAppSecretThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": key,
             "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.ctx.region}.amazonaws.com"}}},
        ]

    # -- scaling ---------------------------------------------------------------------------------------------------

    def _scaling(self, colour: str) -> None:
        s, prefix = self.settings, self.ctx.name_prefix
        asg = self.compute.asg_names[colour]
        cpu = AutoscalingPolicy(
            self, f"{colour}-cpu-target", name=f"{prefix}-{colour}-cpu-target", autoscaling_group_name=asg,
            policy_type="TargetTrackingScaling", estimated_instance_warmup=120,
            target_tracking_configuration=AutoscalingPolicyTargetTrackingConfiguration(
                predefined_metric_specification=AutoscalingPolicyTargetTrackingConfigurationPredefinedMetricSpecification(
                    predefined_metric_type="ASGAverageCPUUtilization"),
                target_value=s.cpu_target_percent, disable_scale_in=False))
        memory = AutoscalingPolicy(
            self, f"{colour}-memory-target", name=f"{prefix}-{colour}-memory-target", autoscaling_group_name=asg,
            policy_type="TargetTrackingScaling", estimated_instance_warmup=120,
            target_tracking_configuration=AutoscalingPolicyTargetTrackingConfiguration(
                customized_metric_specification=(
                    AutoscalingPolicyTargetTrackingConfigurationCustomizedMetricSpecification(
                        metric_name=MEMORY_METRIC, namespace=AGENT_NAMESPACE, statistic="Average",
                        metric_dimension=[
                            AutoscalingPolicyTargetTrackingConfigurationCustomizedMetricSpecificationMetricDimension(
                                name="AutoScalingGroupName", value=asg)])),
                target_value=s.memory_target_percent, disable_scale_in=False))
        n = s.burst_step_instances
        burst = AutoscalingPolicy(
            self, f"{colour}-cpu-burst", name=f"{prefix}-{colour}-cpu-burst", autoscaling_group_name=asg,
            policy_type="StepScaling", adjustment_type="ChangeInCapacity", metric_aggregation_type="Average",
            estimated_instance_warmup=120,
            step_adjustment=[
                AutoscalingPolicyStepAdjustment(metric_interval_lower_bound="0", metric_interval_upper_bound="15",
                                                scaling_adjustment=n),
                AutoscalingPolicyStepAdjustment(metric_interval_lower_bound="15", scaling_adjustment=2 * n),
            ])
        self.scaling_policy_arns.update({f"{colour}-cpu-target": cpu.arn, f"{colour}-memory-target": memory.arn,
                                         f"{colour}-cpu-burst": burst.arn})
        self._alarm(f"{colour}-cpu-burst", alarm_description=(
                        f"{colour}: average CPU above {s.burst_cpu_percent:g}% for a minute; adds instances in "
                        "steps (burst)"),
                    namespace="AWS/EC2", metric_name="CPUUtilization", statistic="Average", period=60,
                    evaluation_periods=1, threshold=s.burst_cpu_percent,
                    comparison_operator="GreaterThanThreshold", dimensions={"AutoScalingGroupName": asg},
                    treat_missing_data="notBreaching",
                    alarm_actions=[burst.arn] + s.alarm_topics.actions("info"))

    # -- alarms ----------------------------------------------------------------------------------------------------

    def _alarms(self) -> None:
        s, lb = self.settings, self.load_balancer
        critical, warning = s.alarm_topics.actions("critical"), s.alarm_topics.actions("warning")
        for colour in COLOURS:
            self._alarm(f"{colour}-unhealthy-hosts", alarm_description=(
                            f"{colour}: at least one target failed its health checks for 3 minutes"),
                        namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount", statistic="Maximum",
                        period=60, evaluation_periods=3, threshold=0, comparison_operator="GreaterThanThreshold",
                        dimensions={"TargetGroup": lb.target_group_arn_suffixes[colour],
                                    "LoadBalancer": lb.arn_suffix},
                        treat_missing_data="notBreaching", alarm_actions=warning, ok_actions=warning)
        self._alarm(RELEASE_ERROR_ALARM, alarm_description=(
                        f"more than {s.error_rate_percent:g}% of requests answered 5xx by the targets in 3 of 5 "
                        "minutes"),
                    comparison_operator="GreaterThanThreshold", evaluation_periods=5, datapoints_to_alarm=3,
                    threshold=s.error_rate_percent, treat_missing_data="notBreaching",
                    metric_query=[
                        CloudwatchMetricAlarmMetricQuery(id="errors", return_data=False,
                                                         metric=CloudwatchMetricAlarmMetricQueryMetric(
                            namespace="AWS/ApplicationELB", metric_name="HTTPCode_Target_5XX_Count", stat="Sum",
                            period=60, dimensions={"LoadBalancer": lb.arn_suffix})),
                        CloudwatchMetricAlarmMetricQuery(id="requests", return_data=False,
                                                         metric=CloudwatchMetricAlarmMetricQueryMetric(
                            namespace="AWS/ApplicationELB", metric_name="RequestCount", stat="Sum", period=60,
                            dimensions={"LoadBalancer": lb.arn_suffix})),
                        CloudwatchMetricAlarmMetricQuery(
                            id="rate", label="target 5xx (% of requests)", return_data=True,
                            expression="IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"),
                    ],
                    alarm_actions=critical, ok_actions=critical)
        self._alarm("elb-5xx", alarm_description="the load balancer itself answered 5xx (no healthy target, "
                                                 "misconfiguration) more than 10 times a minute for 3 minutes",
                    namespace="AWS/ApplicationELB", metric_name="HTTPCode_ELB_5XX_Count", statistic="Sum",
                    period=60, evaluation_periods=3, threshold=10, comparison_operator="GreaterThanThreshold",
                    dimensions={"LoadBalancer": lb.arn_suffix}, treat_missing_data="notBreaching",
                    alarm_actions=critical, ok_actions=critical)

    def _alarm(self, key: str, **kwargs) -> None:
        name = app_alarm_name(self.ctx.name_prefix, key)
        alarm = CloudwatchMetricAlarm(self, f"alarm-{key}", alarm_name=name,
                                      tags=tags(self.ctx, name), **kwargs)
        self.alarm_arns[key] = alarm.arn
        self.alarm_names[key] = name
