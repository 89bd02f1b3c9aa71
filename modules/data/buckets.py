"""S3 buckets of the data tier: application data, static content (the CDN origin), access logs, CDN logs, and their
replicas in the DR region.

Every bucket: versioning, SSE-KMS with a customer-managed key (bucket key on), a public access block with all four
flags, a TLS-only bucket policy, lifecycle rules (transitions, non-current version expiry, incomplete multipart
abort), server access logging to the region's log bucket, object ownership ``BucketOwnerEnforced`` (ACLs off).
Exception: the CloudFront log bucket keeps ACLs (``BucketOwnerPreferred``) because CloudFront standard logging
delivers through a bucket ACL grant. The two log buckets do not log their own access (that would log forever).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_replication_configuration import S3BucketReplicationConfigurationA
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import \
    S3BucketServerSideEncryptionConfigurationA
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, service_role, struct_list, tags

#: Buckets holding data (replicated to the DR region when asked) and log buckets (never replicated).
DATA_BUCKETS = ("app", "static")
LOG_BUCKETS = ("logs", "cdn-logs")


@dataclass(frozen=True)
class StorageSettings:
    """Inputs of :class:`Storage`."""

    kms_key_arn: str
    """Customer-managed key encrypting the data buckets of the primary region. Required."""
    log_kms_key_arn: str
    """Customer-managed key encrypting the log buckets; its policy must let ``logging.s3.amazonaws.com`` (S3 access
    logs) and ``delivery.logs.amazonaws.com`` (CloudFront logs) use it. Required."""
    transition_to_ia_days: int = 30
    """Days before current objects move to STANDARD_IA. Default 30 (the S3 minimum)."""
    transition_to_glacier_days: int = 90
    """Days before current objects move to GLACIER_IR. Default 90; at least `transition_to_ia_days` + 30."""
    noncurrent_version_expiration_days: int = 90
    """Days after which non-current versions are deleted. Default 90."""
    abort_incomplete_multipart_days: int = 7
    """Days after which incomplete multipart uploads are aborted. Default 7."""
    log_expiration_days: int = 365
    """Days after which log objects are deleted. Default 365."""
    replicate_to_dr: bool = False
    """Replicate the data buckets (``app``, ``static``) to buckets in the DR region. Default false."""
    dr_region: str | None = None
    """The DR region. Required when `replicate_to_dr`."""
    dr_kms_key_arn: str | None = None
    """Key in the DR region encrypting the replicas. Required when `replicate_to_dr`."""
    data_buckets: tuple[str, ...] = DATA_BUCKETS
    """Which data buckets exist (a subset of ``app``, ``static``). Default both; the log bucket always exists."""
    create_cdn_log_bucket: bool = True
    """The CloudFront log bucket (ACLs enabled, see the module docstring). Default true."""
    force_destroy: bool = False
    """Let Terraform delete non-empty buckets. Default false; the stack sets it in unprotected environments only."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.transition_to_ia_days >= 30, f"`transition_to_ia_days` must be >= 30, got "
                                                  f"{self.transition_to_ia_days}")
        require(self.transition_to_glacier_days >= self.transition_to_ia_days + 30,
                "`transition_to_glacier_days` must be at least `transition_to_ia_days` + 30")
        require(not self.replicate_to_dr or (self.dr_kms_key_arn is not None and self.dr_region is not None),
                "`dr_kms_key_arn` and `dr_region` are required when `replicate_to_dr` is true")


@dataclass
class Bucket:
    """One bucket and its configuration resources (escape hatches)."""

    key: str
    bucket: S3Bucket
    region: str
    kms_key_arn: str
    policy_statements: list[dict[str, Any]] = field(default_factory=list)
    provider: TerraformProvider | None = None
    public_access_block: S3BucketPublicAccessBlock | None = None
    versioning: S3BucketVersioningA | None = None
    policy: S3BucketPolicy | None = None

    @property
    def name(self) -> str:
        return self.bucket.bucket

    @property
    def arn(self) -> str:
        return self.bucket.arn


class Storage(Module):
    """The data tier's buckets.

    Public attributes: ``buckets`` (key -> :class:`Bucket`: ``app``, ``static``, ``logs``, ``cdn-logs``, and
    ``app-dr``, ``static-dr``, ``logs-dr`` when replicating), ``bucket_names`` / ``bucket_arns`` (key -> value),
    ``replication_role`` (or None). Call :meth:`grant_cloudfront_read` before :meth:`create_policies` (which also
    enables access logging), called once every grant is known.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: StorageSettings,
                 dr_provider: TerraformProvider | None = None) -> None:
        super().__init__(scope, id_, ctx)
        require(not settings.replicate_to_dr or dr_provider is not None,
                "`dr_provider` is required when `replicate_to_dr` is true")
        self.settings = settings
        self.buckets: dict[str, Bucket] = {}
        self._log_targets: list[tuple[Bucket, Bucket]] = []
        self._policies_created = False
        s = settings

        self._make("logs", ctx.region, s.log_kms_key_arn, acl_owner="BucketOwnerEnforced", log_target=None,
                   rules=self._log_rules())
        if s.create_cdn_log_bucket:
            self._make("cdn-logs", ctx.region, s.log_kms_key_arn, acl_owner="BucketOwnerPreferred",
                       log_target=self.buckets["logs"], rules=self._log_rules())
        for key in (k for k in DATA_BUCKETS if k in s.data_buckets):
            self._make(key, ctx.region, s.kms_key_arn, acl_owner="BucketOwnerEnforced",
                       log_target=self.buckets["logs"], rules=self._data_rules())

        self.replication_role: IamRole | None = None
        if s.replicate_to_dr:
            assert s.dr_region and s.dr_kms_key_arn and dr_provider is not None
            dr_logs = self._make("logs-dr", s.dr_region, s.dr_kms_key_arn, acl_owner="BucketOwnerEnforced",
                                 log_target=None, rules=self._log_rules(), provider=dr_provider)
            for key in (k for k in DATA_BUCKETS if k in s.data_buckets):
                self._make(f"{key}-dr", s.dr_region, s.dr_kms_key_arn, acl_owner="BucketOwnerEnforced",
                           log_target=dr_logs, rules=self._data_rules(), provider=dr_provider)
            self._replication()

        self.bucket_names: dict[str, str] = {k: b.name for k, b in self.buckets.items()}
        self.bucket_arns: dict[str, str] = {k: b.arn for k, b in self.buckets.items()}

    # -- public helpers -------------------------------------------------------------------------------------------

    def grant_cloudfront_read(self, key: str, distribution_arn: str) -> None:
        """Let one CloudFront distribution (origin access control) read objects of bucket ``key``."""
        require(not self._policies_created, "grant_cloudfront_read must be called before create_policies")
        b = self.buckets[key]
        b.policy_statements.append({
            "Sid": "CloudFrontOriginAccessControlRead",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{b.arn}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        })

    def grant_read_write(self, key: str) -> list[dict[str, Any]]:
        """IAM statements granting object read/write on bucket ``key`` and use of its key through S3 only
        (``kms:ViaService``: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
        b = self.buckets[key]
        sid = "".join(part.capitalize() for part in key.split("-"))
        return [
            {"Sid": f"ReadWrite{sid}Bucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": b.arn},
            {"Sid": f"ReadWrite{sid}Objects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"{b.arn}/*"},
            {"Sid": f"Use{sid}KeyThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
             "Resource": b.kms_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{self.ctx.region}.amazonaws.com"}}},
        ]

    def create_policies(self) -> None:
        """One bucket policy per bucket (TLS only, plus the grants added so far), then access logging."""
        require(not self._policies_created, "create_policies may be called once")
        self._policies_created = True
        # S3 server access logging delivers as logging.s3.amazonaws.com (no ACLs): each source bucket may write its
        # own prefix of its log bucket only.
        for n, (b, target) in enumerate(self._log_targets):
            target.policy_statements.append({
                "Sid": f"S3ServerAccessLogs{n}",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{target.arn}/s3/{b.key}/*",
                "Condition": {"ArnLike": {"aws:SourceArn": b.arn},
                              "StringEquals": {"aws:SourceAccount": self.ctx.account_id}},
            })
        for key, b in self.buckets.items():
            deny_insecure = {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                # Equivalent to "*" for a Deny; the object form also keeps moto's access-logging check working.
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [b.arn, f"{b.arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
            b.policy = S3BucketPolicy(self, f"{key}-policy", bucket=b.bucket.id,
                                      policy=policy_json(deny_insecure, *b.policy_statements),
                                      depends_on=[b.public_access_block], provider=b.provider)
        # S3 refuses to enable access logging until the target's policy admits the logging service.
        for b, target in self._log_targets:
            S3BucketLoggingA(self, f"{b.key}-logging", bucket=b.bucket.id, target_bucket=target.bucket.id,
                             target_prefix=f"s3/{b.key}/", provider=b.provider, depends_on=[target.policy])

    # -- construction ---------------------------------------------------------------------------------------------

    def _log_rules(self) -> list[dict[str, Any]]:
        s = self.settings
        return [{
            "id": "expire-logs",
            "status": "Enabled",
            "filter": [{"prefix": ""}],
            "expiration": [{"days": s.log_expiration_days}],
            "noncurrent_version_expiration": [{"noncurrent_days": 30}],
            "abort_incomplete_multipart_upload": [{"days_after_initiation": s.abort_incomplete_multipart_days}],
        }]

    def _data_rules(self) -> list[dict[str, Any]]:
        s = self.settings
        return [{
            "id": "tiering-and-cleanup",
            "status": "Enabled",
            "filter": [{"prefix": ""}],
            "transition": [{"days": s.transition_to_ia_days, "storage_class": "STANDARD_IA"},
                           {"days": s.transition_to_glacier_days, "storage_class": "GLACIER_IR"}],
            "noncurrent_version_expiration": [{"noncurrent_days": s.noncurrent_version_expiration_days}],
            "abort_incomplete_multipart_upload": [{"days_after_initiation": s.abort_incomplete_multipart_days}],
        }]

    def _make(self, key: str, region: str, kms_key_arn: str, *, acl_owner: str, log_target: Bucket | None,
              rules: list[dict[str, Any]], provider: TerraformProvider | None = None) -> Bucket:
        ctx, s = self.ctx, self.settings
        extra = s.extra_tags
        name = f"{ctx.name_prefix}-{key}-{ctx.account_id}-{region}"
        bucket = S3Bucket(self, key, bucket=name, force_destroy=s.force_destroy, provider=provider,
                          tags=tags(ctx, f"{ctx.name_prefix}-{key}", extra))
        b = Bucket(key, bucket, region, kms_key_arn, provider=provider)
        S3BucketOwnershipControls(self, f"{key}-ownership", bucket=bucket.id, provider=provider,
                                  rule={"object_ownership": acl_owner})
        b.public_access_block = S3BucketPublicAccessBlock(
            self, f"{key}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, provider=provider)
        b.versioning = S3BucketVersioningA(self, f"{key}-versioning", bucket=bucket.id, provider=provider,
                                           versioning_configuration={"status": "Enabled"})
        S3BucketServerSideEncryptionConfigurationA(
            self, f"{key}-encryption", bucket=bucket.id, provider=provider,
            rule=struct_list([{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                           "kms_master_key_id": kms_key_arn},
                               "bucket_key_enabled": True}]))
        S3BucketLifecycleConfiguration(self, f"{key}-lifecycle", bucket=bucket.id, rule=struct_list(rules), provider=provider,
                                       depends_on=[b.versioning])
        if log_target is not None:
            self._log_targets.append((b, log_target))
        self.buckets[key] = b
        return b

    def _replication(self) -> None:
        ctx, s = self.ctx, self.settings
        prefix = ctx.name_prefix
        role = service_role(self, "replication-role", ctx, name=f"{prefix}-s3-replication",
                            service="s3.amazonaws.com", extra_tags=s.extra_tags)
        keys = [k for k in DATA_BUCKETS if k in s.data_buckets]
        sources = [self.buckets[k] for k in keys]
        replicas = [self.buckets[f"{k}-dr"] for k in keys]
        IamRolePolicy(self, "replication-policy", name="replicate-to-dr", role=role.id, policy=policy_json(
            {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
             "Resource": [b.arn for b in sources]},
            {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                           "s3:GetObjectVersionTagging"],
             "Resource": [f"{b.arn}/*" for b in sources]},
            {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
             "Resource": [f"{b.arn}/*" for b in replicas]},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": s.kms_key_arn,
             "Condition": {"StringLike": {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"}}},
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": s.dr_kms_key_arn,
             "Condition": {"StringLike": {"kms:ViaService": f"s3.{s.dr_region}.amazonaws.com"}}},
        ))
        self.replication_role = role
        for src, dst in zip(sources, replicas):
            S3BucketReplicationConfigurationA(
                self, f"{src.key}-replication", bucket=src.bucket.id, role=role.arn,
                depends_on=[src.versioning, dst.versioning],
                rule=struct_list([{
                    "id": "to-dr-region",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {"prefix": ""},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": dst.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": dst.kms_key_arn},
                        "metrics": {"status": "Enabled", "event_threshold": {"minutes": 15}},
                        "replication_time": {"status": "Enabled", "time": {"minutes": 15}},
                    },
                }]))

