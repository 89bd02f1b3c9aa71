"""Outbound integrations: private paths to AWS APIs, credentials of external systems, and their error alarms.

- Interface VPC endpoints (private DNS) in the private subnets for the configured AWS services, behind a security
  group that admits HTTPS from the VPC only, each with an endpoint policy admitting only this account's principals
  to that service's actions. Calls to external systems leave through the network's NAT gateways; ``clients`` is a
  security group for workloads that call them (egress HTTPS only).
- One Secrets Manager secret per external system, encrypted with the ``secrets`` key; its value is never in the
  configuration (set it with ``aws secretsmanager put-secret-value``). Automatic rotation when the integration names
  a rotation Lambda function.
- A KMS-encrypted log group integration clients write JSON lines to; per integration a metric filter counts its
  errors into ``<metric namespace>/<name>-errors`` and an alarm fires above the configured error count.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import CloudwatchLogMetricFilter
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import SecretsmanagerSecretRotation
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require
from modules.core.helpers import allow_tcp, allow_tcp_between_groups, policy_json, security_group, tags

#: Endpoint service (suffix of ``com.amazonaws.<region>.``) -> IAM action prefix its endpoint policy admits.
ENDPOINT_ACTION_PREFIX = {
    "secretsmanager": "secretsmanager", "ssm": "ssm", "ssmmessages": "ssmmessages", "ec2messages": "ec2messages",
    "sts": "sts", "logs": "logs", "ecr.api": "ecr", "ecr.dkr": "ecr", "kms": "kms", "monitoring": "cloudwatch",
    "sqs": "sqs", "sns": "sns",
}


@dataclass(frozen=True)
class ExternalIntegration:
    """One external system."""

    name: str
    """Name (lowercase, dashes). Required."""
    description: str = ""
    """Description of the secret. Default empty."""
    rotation_lambda_arn: str | None = None
    """Rotation function. Default none (no rotation); set together with `rotation_days`."""
    rotation_days: int | None = None
    """Days between rotations. Default none; set together with `rotation_lambda_arn`."""
    error_pattern: str | None = None
    """Logs filter pattern of one error. Default ``{ $.integration = "<name>" && $.level = "ERROR" }``."""
    error_threshold: int = 5
    """Errors per period raising the alarm. Default 5."""
    error_period_seconds: int = 300
    """Alarm period. Default 300."""


@dataclass(frozen=True)
class IntegrationsSettings:
    """Inputs of :class:`Integrations`."""

    vpc_id: str
    """The VPC. Required."""
    vpc_cidr: str
    """The VPC's CIDR (the only source the endpoints admit). Required."""
    subnet_ids: tuple[str, ...]
    """Private subnets the interface endpoints live in (one per AZ). Required."""
    secrets_kms_key_arn: str
    """KMS key of the integration secrets (the environment's ``secrets`` key). Required."""
    logs_kms_key_arn: str
    """KMS key of the integration log group (the environment's ``logs`` key). Required."""
    endpoint_services: tuple[str, ...] = ("secretsmanager", "ssm", "sts", "logs", "ecr.api", "ecr.dkr")
    """Interface endpoint services. Default Secrets Manager, SSM, STS, Logs, ECR API and ECR Docker."""
    integrations: tuple[ExternalIntegration, ...] = ()
    """External systems. Default none."""
    secret_recovery_window_days: int = 30
    """Recovery window of deleted secrets, 7..30. Default 30."""
    log_retention_days: int = 30
    """Retention of the integration log group. Default 30."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """The topics the error alarms notify (severity warning). Default none (alarms without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        unknown = [s for s in self.endpoint_services if s not in ENDPOINT_ACTION_PREFIX]
        require(not unknown, f"`endpoint_services` has unknown services {unknown}; use some of "
                             f"{', '.join(ENDPOINT_ACTION_PREFIX)}")
        require(not self.endpoint_services or bool(self.subnet_ids),
                "`subnet_ids` is required when `endpoint_services` is not empty")
        require(7 <= self.secret_recovery_window_days <= 30, "`secret_recovery_window_days` must be 7..30")
        names = [i.name for i in self.integrations]
        require(len(set(names)) == len(names), "`integrations` names must be unique")
        for i in self.integrations:
            require((i.rotation_lambda_arn is None) == (i.rotation_days is None),
                    f"`integrations` {i.name}: set both `rotation_lambda_arn` and `rotation_days`, or neither")


class Integrations(Module):
    """Outbound integration plumbing of one environment.

    Public attributes: ``endpoint_security_group_id``, ``client_security_group_id``, ``endpoint_ids`` (service ->
    id), ``secret_arns`` (integration -> ARN), ``log_group_name``, ``metric_namespace``, ``alarm_names``
    (integration -> alarm name). Helper: :meth:`grant_read_secret`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: IntegrationsSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, s.extra_tags

        self.endpoint_security_group = security_group(
            self, "endpoints-sg", ctx, name=f"{prefix}-endpoints", vpc_id=s.vpc_id,
            description=f"{prefix} interface VPC endpoints: HTTPS from the VPC only", extra_tags=extra)
        self.endpoint_security_group_id: str = self.endpoint_security_group.id
        allow_tcp(self, "endpoints-in-443", ctx, security_group_id=self.endpoint_security_group.id, port=443,
                  cidr=s.vpc_cidr, description="HTTPS from the VPC", tag_name=f"{prefix}-endpoints-in-443",
                  extra_tags=extra)

        self.client_security_group = security_group(
            self, "clients-sg", ctx, name=f"{prefix}-integration-clients", vpc_id=s.vpc_id,
            description=f"{prefix} integration clients: HTTPS out to the endpoints and, through NAT, the internet",
            extra_tags=extra)
        self.client_security_group_id: str = self.client_security_group.id
        allow_tcp(self, "clients-out-443", ctx, security_group_id=self.client_security_group.id, port=443,
                  inbound=False, cidr="0.0.0.0/0",
                  description="HTTPS to external integrations through the NAT gateways",
                  tag_name=f"{prefix}-integration-clients-out-443", extra_tags=extra)
        allow_tcp_between_groups(self, "clients-out-endpoints", security_group_id=self.client_security_group.id,
                                 port=443, peer_security_group_id=self.endpoint_security_group.id, inbound=False,
                                 description="HTTPS to the VPC endpoints")

        self.endpoint_ids: dict[str, str] = {}
        for service in s.endpoint_services:
            self._endpoint(service)

        self.log_group = CloudwatchLogGroup(
            self, "log-group", name=f"/platform/{prefix}/integrations", retention_in_days=s.log_retention_days,
            kms_key_id=s.logs_kms_key_arn, tags=tags(ctx, f"{prefix}-integrations", extra))
        self.log_group_name: str = self.log_group.name
        self.metric_namespace = f"Platform/{prefix}/Integrations"
        self.secrets: dict[str, SecretsmanagerSecret] = {}
        self.secret_arns: dict[str, str] = {}
        self.alarm_names: dict[str, str] = {}
        for integration in s.integrations:
            self._integration(integration)

    def grant_read_secret(self, integration: str) -> list[dict]:
        """IAM statements allowing to read the secret of ``integration``, decrypted through Secrets Manager only
        (``kms:ViaService``)."""
        sid = "".join(c for c in integration.title() if c.isalnum())
        return [
            {"Sid": f"Read{sid}IntegrationSecret", "Effect": "Allow",
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
             "Resource": self.secret_arns[integration]},
            {"Sid": f"Decrypt{sid}IntegrationSecretThroughSecretsManager", "Effect": "Allow",
             "Action": "kms:Decrypt", "Resource": self.settings.secrets_kms_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{self.ctx.region}.amazonaws.com"}}},
        ]

    def _endpoint(self, service: str) -> None:
        ctx, s = self.ctx, self.settings
        slug = service.replace(".", "-")
        endpoint = VpcEndpoint(
            self, f"endpoint-{slug}", vpc_id=s.vpc_id, vpc_endpoint_type="Interface",
            service_name=f"com.amazonaws.{ctx.region}.{service}", subnet_ids=list(s.subnet_ids),
            security_group_ids=[self.endpoint_security_group.id], private_dns_enabled=True,
            policy=policy_json({
                "Sid": "ThisAccountOnly",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": f"{ENDPOINT_ACTION_PREFIX[service]}:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ctx.account_id}},
            }),
            tags=tags(ctx, f"{ctx.name_prefix}-{slug}", s.extra_tags))
        self.endpoint_ids[service] = endpoint.id

    def _integration(self, i: ExternalIntegration) -> None:
        ctx, s = self.ctx, self.settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        # No aws_secretsmanager_secret_version: the value is put out of band and never enters the configuration.
        secret = SecretsmanagerSecret(
            self, f"secret-{i.name}", name=f"{prefix}/integrations/{i.name}",
            description=i.description or f"credentials of the {i.name} integration",
            kms_key_id=s.secrets_kms_key_arn, recovery_window_in_days=s.secret_recovery_window_days,
            tags=tags(ctx, f"{prefix}-{i.name}", {**extra, "Integration": i.name}))
        self.secrets[i.name] = secret
        self.secret_arns[i.name] = secret.arn
        if i.rotation_lambda_arn is not None:
            SecretsmanagerSecretRotation(
                self, f"secret-{i.name}-rotation", secret_id=secret.id, rotation_lambda_arn=i.rotation_lambda_arn,
                rotation_rules={"automatically_after_days": i.rotation_days})

        metric = f"{i.name}-errors"
        pattern = i.error_pattern or f'{{ $.integration = "{i.name}" && $.level = "ERROR" }}'
        CloudwatchLogMetricFilter(
            self, f"errors-{i.name}", name=f"{prefix}-{i.name}-errors", log_group_name=self.log_group.name,
            pattern=pattern,
            metric_transformation={"name": metric, "namespace": self.metric_namespace, "value": "1",
                                   "default_value": "0", "unit": "Count"})
        alarm_name = f"{prefix}-integration-{i.name}-errors"
        actions = s.alarm_topics.actions("warning")
        CloudwatchMetricAlarm(
            self, f"alarm-{i.name}", alarm_name=alarm_name,
            alarm_description=f"more than {i.error_threshold} errors of the {i.name} integration in "
                              f"{i.error_period_seconds} s",
            namespace=self.metric_namespace, metric_name=metric, statistic="Sum", period=i.error_period_seconds,
            evaluation_periods=1, threshold=i.error_threshold, comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions,
            tags=tags(ctx, alarm_name, {**extra, "Severity": "warning", "Integration": i.name}))
        self.alarm_names[i.name] = alarm_name
