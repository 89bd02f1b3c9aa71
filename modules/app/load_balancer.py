"""Internet-facing Application Load Balancer: its security group, access-log bucket, HTTP->HTTPS redirect, a TLS 1.3
HTTPS listener forwarding by weight to one target group per colour (blue/green).

The listener's weights are inputs (numbers or Terraform expressions): :mod:`modules.app.tier` feeds them from the
release record so that a deploy never undoes a release.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cdktf import Token
from cdktf_cdktf_provider_aws.acm_certificate import AcmCertificate
from cdktf_cdktf_provider_aws.data_aws_elb_service_account import DataAwsElbServiceAccount
from cdktf_cdktf_provider_aws.lb import Lb, LbAccessLogs
from cdktf_cdktf_provider_aws.lb_listener import (LbListener, LbListenerDefaultAction, LbListenerDefaultActionForward,
                                                  LbListenerDefaultActionForwardStickiness,
                                                  LbListenerDefaultActionForwardTargetGroup,
                                                  LbListenerDefaultActionRedirect)
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup, LbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration, S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload, S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter, S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls, S3BucketOwnershipControlsRule
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA, S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA, S3BucketVersioningVersioningConfiguration
from constructs import Construct

from envs.contract import COLOURS, load_balancer_name, target_group_name
from modules.app.artifacts import LOG_PREFIX as ARTIFACT_LOG_PREFIX
from modules.core.base import Context, Module, require
from modules.core.helpers import allow_tcp, allow_tcp_between_groups, policy_json, security_group, tags

TLS13_PREFIX = "ELBSecurityPolicy-TLS13-"
ACCESS_LOG_PREFIX = "alb"


@dataclass(frozen=True)
class LoadBalancerSettings:
    """Inputs of :class:`LoadBalancer`."""

    public_subnet_ids: tuple[str, ...]
    """Subnets the ALB spans (public tier, one per AZ, at least 2 on AWS). Required."""
    vpc_id: str
    """VPC of the target groups and the security group. Required."""
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener. Required unless `request_local_certificate` is true."""
    request_local_certificate: bool = False
    """Request an ACM certificate for `local_certificate_domain` instead of using `certificate_arn` (the local
    emulator has no copy of the account's certificates). Default false; only the local target sets it."""
    local_certificate_domain: str = "app.internal"
    """Domain of the requested certificate when `request_local_certificate`. Default ``app.internal``."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS 1.3 security policy of the HTTPS listener. Default ``ELBSecurityPolicy-TLS13-1-2-2021-06``."""
    target_port: int = 8080
    """Port of the targets. Default 8080."""
    health_check_path: str = "/health"
    """Health check path. Default ``/health``."""
    health_check_matcher: str = "200"
    """Healthy HTTP codes. Default ``200``."""
    healthy_threshold: int = 3
    """Successes before healthy. Default 3."""
    unhealthy_threshold: int = 3
    """Failures before unhealthy. Default 3."""
    health_check_interval_seconds: int = 30
    """Seconds between checks. Default 30; greater than `health_check_timeout_seconds`."""
    health_check_timeout_seconds: int = 5
    """Seconds before a check fails. Default 5."""
    deregistration_delay_seconds: int = 60
    """Draining time of deregistered targets. Default 60."""
    idle_timeout_seconds: int = 60
    """Idle connection timeout. Default 60."""
    deletion_protection: bool = False
    """ALB deletion protection; also keeps the access-log bucket when it still holds logs. Default false (set it
    for protected environments)."""
    access_log_retention_days: int = 90
    """Days access logs are kept. Default 90."""
    colours: tuple[str, ...] = COLOURS
    """Target groups, one per colour. Default blue and green."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(len(self.public_subnet_ids) >= 1, "`public_subnet_ids` must list at least one subnet")
        require(self.request_local_certificate or self.certificate_arn is not None,
                "`certificate_arn` is required unless `request_local_certificate` is true; set app.certificate_arn "
                "to the ACM certificate of the site")
        require(not (self.request_local_certificate and self.certificate_arn is not None),
                "Only one of `certificate_arn` or `request_local_certificate` may be set")
        require(self.ssl_policy.startswith(TLS13_PREFIX),
                f"`ssl_policy` must be a TLS 1.3 policy ({TLS13_PREFIX}*), got {self.ssl_policy!r}")
        require(self.health_check_interval_seconds > self.health_check_timeout_seconds,
                "`health_check_interval_seconds` must be greater than `health_check_timeout_seconds`")
        require(len(self.colours) >= 1 and len(set(self.colours)) == len(self.colours),
                "`colours` must list distinct colours")


class LoadBalancer(Module):
    """The public entry point of the application tier.

    Public attributes: ``lb`` (escape hatch), ``arn``, ``arn_suffix``, ``dns_name``, ``zone_id``,
    ``security_group_id``, ``http_listener_arn``, ``https_listener_arn``, ``certificate_arn``,
    ``target_groups`` (colour -> LbTargetGroup), ``target_group_arns`` and ``target_group_arn_suffixes``
    (colour -> value), ``access_log_bucket`` (name). ``arn`` is what a WAF web ACL associates with.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: LoadBalancerSettings,
                 weights: Mapping[str, int | str]) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        require(set(weights) == set(s.colours), "`weights` must give one weight per colour")
        prefix, extra = ctx.name_prefix, s.extra_tags

        self.security_group = security_group(
            self, "sg", ctx, name=f"{prefix}-alb", vpc_id=s.vpc_id,
            description=f"{prefix} load balancer: HTTP/HTTPS from the internet, out to the app tier only",
            extra_tags=extra)
        self.security_group_id: str = self.security_group.id
        for port in (443, 80):
            allow_tcp(self, f"sg-in-{port}", ctx, security_group_id=self.security_group.id, port=port,
                      cidr="0.0.0.0/0",
                      description=f"{'HTTPS' if port == 443 else 'HTTP (redirected to HTTPS)'} from the internet",
                      tag_name=f"{prefix}-alb-in-{port}", extra_tags=extra)

        self.access_log_bucket = self._access_logs()

        self.lb = Lb(
            self, "alb", name=load_balancer_name(prefix), load_balancer_type="application", internal=False,
            subnets=list(s.public_subnet_ids), security_groups=[self.security_group.id],
            drop_invalid_header_fields=True, enable_deletion_protection=s.deletion_protection,
            desync_mitigation_mode="defensive", enable_http2=True, idle_timeout=s.idle_timeout_seconds,
            ip_address_type="ipv4",
            access_logs=LbAccessLogs(bucket=self.access_log_bucket, prefix=ACCESS_LOG_PREFIX, enabled=True),
            depends_on=[self._log_policy],
            tags=tags(ctx, f"{prefix}-alb", extra))
        self.arn: str = self.lb.arn
        self.arn_suffix: str = self.lb.arn_suffix
        self.dns_name: str = self.lb.dns_name
        self.zone_id: str = self.lb.zone_id

        self.target_groups: dict[str, LbTargetGroup] = {
            colour: LbTargetGroup(
                self, f"tg-{colour}", name=target_group_name(prefix, colour), port=s.target_port, protocol="HTTP",
                target_type="instance", vpc_id=s.vpc_id, deregistration_delay=str(s.deregistration_delay_seconds),
                health_check=LbTargetGroupHealthCheck(
                    enabled=True, protocol="HTTP", port="traffic-port", path=s.health_check_path,
                    matcher=s.health_check_matcher, interval=s.health_check_interval_seconds,
                    timeout=s.health_check_timeout_seconds, healthy_threshold=s.healthy_threshold,
                    unhealthy_threshold=s.unhealthy_threshold),
                tags=tags(ctx, f"{prefix}-{colour}", {**extra, "Colour": colour}))
            for colour in s.colours
        }
        self.target_group_arns = {c: tg.arn for c, tg in self.target_groups.items()}
        self.target_group_arn_suffixes = {c: tg.arn_suffix for c, tg in self.target_groups.items()}

        if s.request_local_certificate:
            cert = AcmCertificate(self, "local-certificate", domain_name=s.local_certificate_domain,
                                  validation_method="DNS", key_algorithm="RSA_2048",
                                  tags=tags(ctx, f"{prefix}-local-certificate", extra))
            self.certificate_arn: str = cert.arn
        else:
            self.certificate_arn = s.certificate_arn  # type: ignore[assignment]

        self.http_listener = LbListener(
            self, "http", load_balancer_arn=self.lb.arn, port=80, protocol="HTTP",
            default_action=[LbListenerDefaultAction(type="redirect", redirect=LbListenerDefaultActionRedirect(
                protocol="HTTPS", port="443", status_code="HTTP_301"))],
            tags=tags(ctx, f"{prefix}-http", extra))
        self.https_listener = LbListener(
            self, "https", load_balancer_arn=self.lb.arn, port=443, protocol="HTTPS", ssl_policy=s.ssl_policy,
            certificate_arn=self.certificate_arn,
            default_action=[LbListenerDefaultAction(type="forward", forward=LbListenerDefaultActionForward(
                target_group=[LbListenerDefaultActionForwardTargetGroup(
                    arn=self.target_groups[c].arn,
                    weight=Token.as_number(weights[c]) if isinstance(weights[c], str) else weights[c])
                    for c in s.colours],
                stickiness=LbListenerDefaultActionForwardStickiness(enabled=False, duration=1)))],
            tags=tags(ctx, f"{prefix}-https", extra))
        self.http_listener_arn: str = self.http_listener.arn
        self.https_listener_arn: str = self.https_listener.arn

    def allow_to(self, id_: str, security_group_id: str, port: int) -> None:
        """Let the load balancer reach ``security_group_id`` on ``port`` (its only egress)."""
        allow_tcp_between_groups(self, f"sg-out-{id_}", security_group_id=self.security_group.id, port=port,
                                 peer_security_group_id=security_group_id, description=f"to the {id_} targets",
                                 inbound=False)

    def _access_logs(self) -> str:
        """The access-log bucket. ALB log delivery supports only SSE-S3 (not SSE-KMS), so the bucket uses AES256."""
        ctx, s, prefix, extra = self.ctx, self.settings, self.ctx.name_prefix, self.settings.extra_tags
        bucket = S3Bucket(self, "logs", bucket=f"{prefix}-alb-logs-{ctx.account_id}",
                          force_destroy=not s.deletion_protection,
                          tags=tags(ctx, f"{prefix}-alb-logs", extra))
        S3BucketPublicAccessBlock(self, "logs-public-access", bucket=bucket.id, block_public_acls=True,
                                  block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        S3BucketOwnershipControls(self, "logs-ownership", bucket=bucket.id,
                                  rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"))
        S3BucketVersioningA(self, "logs-versioning", bucket=bucket.id,
                            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
        S3BucketServerSideEncryptionConfigurationA(
            self, "logs-encryption", bucket=bucket.id,
            rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="AES256")))])
        S3BucketLifecycleConfiguration(
            self, "logs-lifecycle", bucket=bucket.id,
            rule=[S3BucketLifecycleConfigurationRule(
                id="expire-access-logs", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=s.access_log_retention_days)],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=7)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)])])
        elb_account = DataAwsElbServiceAccount(self, "elb-account")
        logs_arn = f"{bucket.arn}/{ACCESS_LOG_PREFIX}/AWSLogs/{ctx.account_id}/*"
        self._log_policy = S3BucketPolicy(self, "logs-policy", bucket=bucket.id, policy=policy_json(
            {"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": {"AWS": elb_account.arn},
             "Action": "s3:PutObject", "Resource": logs_arn},
            {"Sid": "ElbLogDeliveryService", "Effect": "Allow",
             "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": logs_arn},
            # S3 server access logs of the artifact bucket (modules/app/artifacts.py), under its prefix only: an SSE-S3
            # target is what server access logging supports.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
            {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket.arn}/{ARTIFACT_LOG_PREFIX}*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket.arn, f"{bucket.arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ))
        self.log_bucket_policy = self._log_policy
        self.access_log_bucket_arn: str = bucket.arn
        return bucket.bucket
