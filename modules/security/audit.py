"""Audit: a locked-down log bucket, a multi-region CloudTrail trail, and AWS Config with managed rules.

- Bucket ``<prefix>-audit-<account>``: versioned, SSE-KMS (``logs`` key, bucket key), all public access blocked,
  ACLs off, TLS-only policy that lets only CloudTrail (for this trail) and Config (for this account) write, lifecycle
  to Glacier after 90 days and expiry after `retention_days`, server access logs to ``<prefix>-audit-access-<account>``
  (same controls; it does not log its own access, which would log forever).
- Trail ``<prefix>-trail``: multi-region, global service events, log file validation, KMS, CloudWatch Logs delivery,
  management events and S3 data events of the data buckets (advanced event selectors).
- Config (account singleton, only with ``manage_account_baseline``): recorder of all resource types including global
  ones (IAM) in the home region, delivery channel to the bucket (KMS), recorder on, and managed rules.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudtrail import Cloudtrail
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.config_config_rule import ConfigConfigRule
from cdktf_cdktf_provider_aws.config_configuration_recorder import ConfigConfigurationRecorder
from cdktf_cdktf_provider_aws.config_configuration_recorder_status import ConfigConfigurationRecorderStatus
from cdktf_cdktf_provider_aws.config_delivery_channel import ConfigDeliveryChannel
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import \
    S3BucketServerSideEncryptionConfigurationA
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, service_role, struct_list, tags

TRAIL_PREFIX = "cloudtrail"
CONFIG_PREFIX = "config"


def _tls_only(bucket_arn: str) -> dict[str, Any]:
    # Principal {"AWS": "*"} is "*" for a Deny, and keeps moto's access-logging permission check working.
    return {"Sid": "TlsOnly", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def config_rules(password_min_length: int, password_max_age_days: int, password_reuse: int) -> dict[str, tuple[str, dict]]:
    """Rule id -> (AWS managed rule identifier, input parameters).

    IAM_PASSWORD_POLICY's own defaults are what the project requires (upper/lower case, numbers and symbols
    required, length 14, reuse prevention 24, maximum age 90 days), so only values that differ are passed."""
    return {
        "encrypted-volumes": ("ENCRYPTED_VOLUMES", {}),
        "rds-storage-encrypted": ("RDS_STORAGE_ENCRYPTED", {}),
        "s3-bucket-public-access": ("S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", {}),
        "root-account-mfa": ("ROOT_ACCOUNT_MFA_ENABLED", {}),
        "cloudtrail-enabled": ("CLOUD_TRAIL_ENABLED", {}),
        "restricted-ssh": ("INCOMING_SSH_DISABLED", {}),
        "iam-password-policy": ("IAM_PASSWORD_POLICY", {
            name: str(value) for name, value, default in (
                ("MinimumPasswordLength", password_min_length, 14), ("PasswordReusePrevention", password_reuse, 24),
                ("MaxPasswordAge", password_max_age_days, 90)) if value != default}),
    }


@dataclass(frozen=True)
class AuditSettings:
    """Inputs of :class:`Audit`."""

    logs_kms_key_arn: str
    """KMS key of the bucket, the trail and its log group (the ``logs`` key). Required."""
    manage_account_baseline: bool = True
    """Create the Config recorder, delivery channel and rules (account/region singletons). Default true."""
    retention_days: int = 365
    """Days objects stay in the audit bucket. Default 365; at least 90."""
    log_group_retention_days: int = 365
    """Retention of the trail's CloudWatch log group. Default 365."""
    data_bucket_arns: tuple[str, ...] = ()
    """Buckets whose object-level (data) events the trail records. Default: none."""
    enable_config_rules: bool = True
    """The managed Config rules. Default true."""
    password_min_length: int = 14
    """What the IAM password policy rule expects. Default 14."""
    password_max_age_days: int = 90
    """What the IAM password policy rule expects. Default 90."""
    password_reuse_prevention: int = 24
    """What the IAM password policy rule expects. Default 24."""
    force_destroy: bool = False
    """Let ``destroy`` empty the bucket. Default false; true only for unprotected environments."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.retention_days >= 90, f"`retention_days` must be at least 90, got {self.retention_days}")


class Audit(Module):
    """Audit trail and configuration history of one environment.

    Public attributes: ``bucket`` (escape hatch), ``bucket_name``, ``bucket_arn``, ``access_log_bucket``, ``trail`` (escape hatch),
    ``trail_arn``, ``trail_name``, ``trail_log_group_name``, ``config_recorder_name`` (None without the baseline),
    ``config_rule_names``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: AuditSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix, p, acct = ctx.name_prefix, ctx.partition, ctx.account_id
        extra = settings.extra_tags
        self.trail_name = f"{prefix}-trail"
        trail_arn = f"arn:{p}:cloudtrail:{ctx.region}:{acct}:trail/{self.trail_name}"

        # -- buckets: the audit bucket, and the bucket receiving its server access logs ----------------------------
        self.access_log_bucket = self._locked_bucket("access-logs", f"{prefix}-audit-access-{acct}",
                                                     settings.retention_days)
        access_arn = self.access_log_bucket.arn
        access_policy = S3BucketPolicy(self, "access-logs-policy", bucket=self.access_log_bucket.id,
                                       policy=policy_json(_tls_only(access_arn), {
                                           "Sid": "S3ServerAccessLogsFromTheAuditBucket", "Effect": "Allow",
                                           "Principal": {"Service": "logging.s3.amazonaws.com"},
                                           "Action": "s3:PutObject", "Resource": f"{access_arn}/s3/*",
                                           "Condition": {"StringEquals": {"aws:SourceAccount": acct},
                                                         "ArnLike": {"aws:SourceArn": f"arn:{p}:s3:::{prefix}-audit-*"}},
                                       }))
        self.bucket = self._locked_bucket("bucket", f"{prefix}-audit-{acct}", settings.retention_days)
        self.bucket_name: str = self.bucket.bucket
        self.bucket_arn: str = self.bucket.arn
        S3BucketLoggingA(self, "bucket-logging", bucket=self.bucket.id, target_bucket=self.access_log_bucket.id,
                         target_prefix="s3/", depends_on=[access_policy])
        bucket_arn = self.bucket.arn
        self.bucket_policy = S3BucketPolicy(self, "bucket-policy", bucket=self.bucket.id, policy=policy_json(
            _tls_only(bucket_arn),
            {"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": bucket_arn,
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
            {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{TRAIL_PREFIX}/AWSLogs/{acct}/*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                            "s3:x-amz-acl": "bucket-owner-full-control"}}},
            {"Sid": "ConfigAclCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
             "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": bucket_arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": acct}}},
            {"Sid": "ConfigWrite", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{CONFIG_PREFIX}/AWSLogs/{acct}/Config/*",
             "Condition": {"StringEquals": {"aws:SourceAccount": acct,
                                            "s3:x-amz-acl": "bucket-owner-full-control"}}},
        ))

        # -- trail -------------------------------------------------------------------------------------------------
        group = CloudwatchLogGroup(self, "trail-log-group", name=f"/aws/cloudtrail/{prefix}",
                                   retention_in_days=settings.log_group_retention_days,
                                   kms_key_id=settings.logs_kms_key_arn,
                                   tags=tags(ctx, f"{prefix}-cloudtrail", extra))
        self.trail_log_group_name: str = group.name
        role = service_role(self, "trail-logs-role", ctx, name=f"{prefix}-cloudtrail-logs",
                            service="cloudtrail.amazonaws.com", extra_tags=extra)
        IamRolePolicy(self, "trail-logs-policy", name="deliver-to-log-group", role=role.id, policy=policy_json({
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group.arn}:log-stream:*"}))
        # `equal_to` is the bindings' name of Terraform's `equals` (jsii reserves `equals`).
        selectors = [{"name": "Management events",
                      "field_selector": [{"field": "eventCategory", "equal_to": ["Management"]}]}]
        if settings.data_bucket_arns:
            selectors.append({"name": "S3 data events of the data buckets", "field_selector": [
                {"field": "eventCategory", "equal_to": ["Data"]},
                {"field": "resources.type", "equal_to": ["AWS::S3::Object"]},
                {"field": "resources.ARN", "starts_with": [f"{a}/" for a in settings.data_bucket_arns]},
            ]})
        self.trail = Cloudtrail(
            self, "trail", name=self.trail_name, s3_bucket_name=self.bucket.id, s3_key_prefix=TRAIL_PREFIX,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            enable_logging=True, kms_key_id=settings.logs_kms_key_arn,
            cloud_watch_logs_group_arn=f"{group.arn}:*", cloud_watch_logs_role_arn=role.arn,
            advanced_event_selector=struct_list(selectors), depends_on=[self.bucket_policy],
            tags=tags(ctx, self.trail_name, extra))
        self.trail_arn: str = self.trail.arn

        # -- Config ------------------------------------------------------------------------------------------------
        self.config_recorder_name: str | None = None
        self.config_rule_names: list[str] = []
        if settings.manage_account_baseline:
            self._config()

    def _locked_bucket(self, id_: str, name: str, retention_days: int) -> S3Bucket:
        """Versioned, SSE-KMS (``logs`` key), no public access, no ACLs, Glacier after 90 days, expiry."""
        ctx, s = self.ctx, self.settings
        bucket = S3Bucket(self, id_, bucket=name, force_destroy=s.force_destroy,
                          tags=tags(ctx, name.rsplit("-", 1)[0], s.extra_tags))
        S3BucketVersioningA(self, f"{id_}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"})
        S3BucketServerSideEncryptionConfigurationA(self, f"{id_}-encryption", bucket=bucket.id, rule=struct_list([{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                        "kms_master_key_id": s.logs_kms_key_arn},
            "bucket_key_enabled": True}]))
        S3BucketPublicAccessBlock(self, f"{id_}-public-access", bucket=bucket.id, block_public_acls=True,
                                  block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        S3BucketOwnershipControls(self, f"{id_}-ownership", bucket=bucket.id,
                                  rule={"object_ownership": "BucketOwnerEnforced"})
        S3BucketLifecycleConfiguration(self, f"{id_}-lifecycle", bucket=bucket.id, rule=struct_list([{
            "id": "archive-then-expire", "status": "Enabled", "filter": [{"prefix": ""}],
            "transition": [{"days": 90, "storage_class": "GLACIER"}],
            "expiration": [{"days": retention_days}],
            "noncurrent_version_expiration": [{"noncurrent_days": 30}],
            "abort_incomplete_multipart_upload": [{"days_after_initiation": 7}],
        }]))
        return bucket

    def _config(self) -> None:
        ctx, s = self.ctx, self.settings
        prefix, p = ctx.name_prefix, ctx.partition
        extra = s.extra_tags
        role = service_role(self, "config-role", ctx, name=f"{prefix}-config-recorder",
                            service="config.amazonaws.com", extra_tags=extra)
        IamRolePolicyAttachment(self, "config-role-managed", role=role.name,
                                policy_arn=f"arn:{p}:iam::aws:policy/service-role/AWS_ConfigRole")
        IamRolePolicy(self, "config-role-delivery", name="deliver-to-audit-bucket", role=role.id, policy=policy_json(
            {"Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"{self.bucket.arn}/{CONFIG_PREFIX}/AWSLogs/{ctx.account_id}/Config/*",
             "Condition": {"StringLike": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
            {"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": self.bucket.arn},
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": s.logs_kms_key_arn},
        ))
        recorder = ConfigConfigurationRecorder(
            self, "config-recorder", name=f"{prefix}-recorder", role_arn=role.arn,
            recording_group={"all_supported": True, "include_global_resource_types": True})
        self.config_recorder_name = recorder.name
        channel = ConfigDeliveryChannel(
            self, "config-channel", name=f"{prefix}-delivery", s3_bucket_name=self.bucket.id,
            s3_key_prefix=CONFIG_PREFIX, s3_kms_key_arn=s.logs_kms_key_arn,
            snapshot_delivery_properties={"delivery_frequency": "TwentyFour_Hours"},
            depends_on=[recorder, self.bucket_policy])
        status = ConfigConfigurationRecorderStatus(self, "config-recorder-status", name=recorder.name, is_enabled=True,
                                                   depends_on=[channel])
        if not s.enable_config_rules:
            return
        for rule_id, (identifier, params) in config_rules(s.password_min_length, s.password_max_age_days,
                                                          s.password_reuse_prevention).items():
            rule = ConfigConfigRule(
                self, f"config-rule-{rule_id}", name=f"{prefix}-{rule_id}",
                description=f"AWS managed rule {identifier}",
                source={"owner": "AWS", "source_identifier": identifier},
                input_parameters=json.dumps(params) if params else None,
                maximum_execution_frequency="TwentyFour_Hours" if identifier in (
                    "ROOT_ACCOUNT_MFA_ENABLED", "CLOUD_TRAIL_ENABLED", "IAM_PASSWORD_POLICY") else None,
                depends_on=[status], tags=tags(ctx, f"{prefix}-{rule_id}", extra))
            self.config_rule_names.append(rule.name)
