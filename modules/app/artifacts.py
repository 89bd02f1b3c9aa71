"""The artifact bucket of the application tier: where releases put the application's tarballs and the instances
fetch them with their role.

``<prefix>-artifacts-<account>-<region>``: SSE-KMS with the environment's ``data`` key (bucket key on), versioned
(an overwritten artifact keeps its previous bytes), public access blocked, ACLs off, TLS-only policy, server access
logs to the load balancer's log bucket (``s3/artifacts/``), old versions expired after
`noncurrent_version_expiration_days`.

:meth:`ArtifactStore.publish` uploads one artifact (tarball + ``.sha256``) as Terraform objects: the reference
workload is published by every deploy, so a fresh environment has something to run. The tarball travels inside the
configuration (``content_base64``), so a past run's configuration replayed by ``rollback`` is self-contained.
:meth:`ArtifactStore.grant_read` is the instance role's read access.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from cdktf_cdktf_provider_aws.s3_object import S3Object
from constructs import Construct

from envs.contract import artifact_bucket_name
from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, tags

LOG_PREFIX = "s3/artifacts/"


@dataclass(frozen=True)
class ArtifactStoreSettings:
    """Inputs of :class:`ArtifactStore`."""

    kms_key_arn: str
    """Customer-managed key of the objects (the environment's ``data`` key). Required."""
    log_bucket: str | None = None
    """Bucket receiving the server access logs (prefix ``s3/artifacts/``); its policy must admit
    ``logging.s3.amazonaws.com``. Default none: no access logging."""
    force_destroy: bool = False
    """Let Terraform delete the bucket with its objects (unprotected environments). Default false."""
    noncurrent_version_expiration_days: int = 90
    """Days a replaced or deleted artifact version is kept. Default 90."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(bool(self.kms_key_arn), "`kms_key_arn` is required: artifacts are always encrypted")
        require(self.noncurrent_version_expiration_days >= 1, "`noncurrent_version_expiration_days` must be >= 1")


class ArtifactStore(Module):
    """The artifact bucket.

    Public attributes: ``bucket`` (escape hatch), ``bucket_name``, ``bucket_arn``, ``published`` (key -> SHA-256 of
    what :meth:`publish` uploaded). Helpers: :meth:`publish`, :meth:`grant_read`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ArtifactStoreSettings,
                 log_bucket_dependencies: Sequence[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        name = artifact_bucket_name(prefix, ctx.account_id, ctx.region)
        self.bucket = S3Bucket(self, "bucket", bucket=name, force_destroy=s.force_destroy,
                               tags=tags(ctx, f"{prefix}-artifacts", extra))
        self.bucket_name: str = self.bucket.bucket
        self.bucket_arn: str = self.bucket.arn
        S3BucketOwnershipControls(self, "ownership", bucket=self.bucket.id,
                                  rule={"object_ownership": "BucketOwnerEnforced"})
        public = S3BucketPublicAccessBlock(self, "public-access", bucket=self.bucket.id, block_public_acls=True,
                                           block_public_policy=True, ignore_public_acls=True,
                                           restrict_public_buckets=True)
        versioning = S3BucketVersioningA(self, "versioning", bucket=self.bucket.id,
                                         versioning_configuration={"status": "Enabled"})
        self._encryption = S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=self.bucket.id,
            rule=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": s.kms_key_arn},
                   "bucketKeyEnabled": True}])
        S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=self.bucket.id, depends_on=[versioning],
            rule=[{"id": "expire-old-versions", "status": "Enabled", "filter": [{"prefix": ""}],
                   "noncurrentVersionExpiration": [{"noncurrentDays": s.noncurrent_version_expiration_days}],
                   "abortIncompleteMultipartUpload": [{"daysAfterInitiation": 7}]}])
        self.policy = S3BucketPolicy(self, "policy", bucket=self.bucket.id, depends_on=[public], policy=policy_json({
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": [self.bucket.arn, f"{self.bucket.arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
        if s.log_bucket is not None:
            S3BucketLoggingA(self, "logging", bucket=self.bucket.id, target_bucket=s.log_bucket,
                             target_prefix=LOG_PREFIX, depends_on=list(log_bucket_dependencies))
        self._versioning = versioning
        self.published: dict[str, str] = {}

    def publish(self, id_: str, key: str, data: bytes, sha256: str) -> str:
        """Upload ``data`` at ``key`` and its checksum file at ``key + ".sha256"`` (``sha256sum`` format); returns
        ``key``."""
        require(key not in self.published, f"artifact {key} is published twice")
        common: dict[str, Any] = dict(bucket=self.bucket.id, server_side_encryption="aws:kms",
                                      kms_key_id=self.settings.kms_key_arn,
                                      depends_on=[self._encryption, self._versioning, self.policy],
                                      tags=tags(self.ctx, f"{self.ctx.name_prefix}-{id_}", self.settings.extra_tags))
        S3Object(self, f"{id_}-tarball", key=key, content_base64=base64.b64encode(data).decode(),
                 content_type="application/gzip", **common)
        S3Object(self, f"{id_}-checksum", key=f"{key}.sha256", content=f"{sha256}  {key.rsplit('/', 1)[-1]}\n",
                 content_type="text/plain", **common)
        self.published[key] = sha256
        return key

    def grant_read(self) -> list[dict[str, Any]]:
        """IAM statements letting a role download artifacts: objects of this bucket, decrypted through S3 only
        (``kms:ViaService``: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
        return [
            {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
             "Resource": f"{self.bucket.arn}/*"},
            {"Sid": "DecryptArtifactsThroughS3", "Effect": "Allow", "Action": "kms:Decrypt",
             "Resource": self.settings.kms_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{self.ctx.region}.amazonaws.com"}}},
        ]
