"""Customer-managed KMS keys: one key per data class, rotation on, a key policy that names its services.

Key policy shape (nothing broader):

- ``AccountAdministration``: the account root manages the key (describe, policy, rotation, tags, deletion) but
  cannot use it for cryptography; no lockout, and no IAM policy alone can grant decryption.
- ``ServiceUse``, ``ServiceUse1``, ...: each AWS service principal of ``service_principals`` may encrypt/decrypt/generate data keys,
  restricted to this account by encryption context or ``aws:SourceAccount`` where the service supports it.
- ``ServiceDescribe``: the same principals may describe the key (CloudTrail and Config check it before use).
- ``UseThroughServices`` / ``GrantsForServices``: principals of this account (as their IAM policies allow) may use
  the key only through the services in ``via_services`` (``kms:ViaService``), and create grants only for AWS
  resources (RDS, EBS, Backup attach grants).
- ``CloudFrontOriginAccessControl``: added by :meth:`EncryptionKey.allow_cloudfront_read` for a key that encrypts
  an S3 origin read through origin access control: ``cloudfront.amazonaws.com`` may decrypt, only on behalf of that
  distribution (``AWS:SourceArn``). Without it every object request fails with 403 on AWS (PLAT_AWS_001;
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from envs.contract import kms_alias_name

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, tags

#: Key administration without cryptographic use.
ADMIN_ACTIONS = ("kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                 "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                 "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand")
USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
#: Services that put the caller's account into ``aws:SourceAccount`` when they call KMS as themselves.
SOURCE_ACCOUNT_SERVICES = ("config.amazonaws.com", "delivery.logs.amazonaws.com", "logging.s3.amazonaws.com")


@dataclass(frozen=True)
class KeyServices:
    """Who uses a key of one data class: AWS service principals, and services used by this account's principals."""

    principals: tuple[str, ...] = ()
    """Service principals calling KMS themselves (``cloudtrail.amazonaws.com``)."""
    via: tuple[str, ...] = ()
    """Service endpoints through which principals of the account use the key (``s3.us-east-1.amazonaws.com``)."""


@dataclass(frozen=True)
class EncryptionKeySettings:
    """Inputs of :class:`EncryptionKey`."""

    data_class: str
    """Short name of what the key protects (``logs``, ``data``, ...); becomes ``alias/<prefix>-<data_class>``."""
    service_principals: tuple[str, ...] = ()
    """Service principals allowed to use the key (e.g. ``logs.us-east-1.amazonaws.com``). Default: none."""
    via_services: tuple[str, ...] = ()
    """Service endpoints (``s3.us-east-1.amazonaws.com``) through which the account's principals may use the key
    (``kms:ViaService``). Default: none."""
    logs_encryption_context: bool = False
    """Restrict the CloudWatch Logs grant to log groups of this account and region by encryption context.
    Default false; set it for a key that CloudWatch Logs uses."""
    deletion_window_days: int = 30
    """Waiting period before a scheduled deletion completes, 7 to 30 days. Default 30."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags for the key on top of the module tags. Default: none."""

    def __post_init__(self) -> None:
        require(7 <= self.deletion_window_days <= 30,
                f"`deletion_window_days` must be 7..30, got {self.deletion_window_days}")
        require(self.data_class.replace("-", "").isalnum(), f"`data_class` must be alphanumeric, got {self.data_class!r}")
        require(bool(self.service_principals or self.via_services),
                f"key `{self.data_class}`: name the services that use it in `service_principals` or `via_services`")
        require(all(p.endswith(".amazonaws.com") for p in self.service_principals + self.via_services),
                "`service_principals` and `via_services` must be AWS service names ending in .amazonaws.com")


def key_policy_statements(ctx: Context, settings: EncryptionKeySettings) -> list[dict[str, Any]]:
    """The statements of the key policy (see the module docstring)."""
    root = f"arn:{ctx.partition}:iam::{ctx.account_id}:root"
    statements: list[dict[str, Any]] = [{
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": list(ADMIN_ACTIONS),
        "Resource": "*",
    }]
    for n, principal in enumerate(settings.service_principals):
        use: dict[str, Any] = {
            "Sid": f"ServiceUse{n or ''}",  # ServiceUse, ServiceUse1, ServiceUse2, ...
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": [a for a in USE_ACTIONS if a != "kms:DescribeKey"],
            "Resource": "*",
        }
        if principal.startswith("logs.") and settings.logs_encryption_context:
            use["Condition"] = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                            f"arn:{ctx.partition}:logs:{principal.split('.')[1]}:{ctx.account_id}:*"}}
        elif principal == "cloudtrail.amazonaws.com":
            use["Condition"] = {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                               f"arn:{ctx.partition}:cloudtrail:*:{ctx.account_id}:trail/*"}}
        elif principal in SOURCE_ACCOUNT_SERVICES:
            use["Condition"] = {"StringEquals": {"aws:SourceAccount": ctx.account_id}}
        statements.append(use)
    if settings.service_principals:
        statements.append({
            "Sid": "ServiceDescribe",
            "Effect": "Allow",
            "Principal": {"Service": list(settings.service_principals)},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        })
    if settings.via_services:
        statements.append({
            "Sid": "UseThroughServices",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": list(USE_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": list(settings.via_services),
                                           "kms:CallerAccount": ctx.account_id}},
        })
        statements.append({
            "Sid": "GrantsForServices",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": list(settings.via_services),
                                           "kms:CallerAccount": ctx.account_id},
                          "Bool": {"kms:GrantIsForAWSResource": "true"}},
        })
    return statements


def cloudfront_read_statement(distribution_arn: str) -> dict[str, Any]:
    """Key policy statement letting one CloudFront distribution's origin access control decrypt SSE-KMS objects
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html)."""
    return {
        "Sid": "CloudFrontOriginAccessControl",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


class EncryptionKey(Module):
    """A symmetric customer-managed key with yearly rotation and an alias.

    Public attributes: ``key`` (escape hatch), ``arn``, ``alias_name``. ``provider`` places the key in another
    region (e.g. us-east-1 for CloudFront-scoped resources); default: the stack's primary provider.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: EncryptionKeySettings,
                 provider: TerraformProvider | None = None) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        name = f"{ctx.name_prefix}-{settings.data_class}"
        self.key = KmsKey(
            self, "key",
            description=f"{name}: customer-managed key for {settings.data_class}",
            enable_key_rotation=True,
            deletion_window_in_days=settings.deletion_window_days,
            policy=policy_json(*key_policy_statements(ctx, settings)),
            tags=tags(ctx, name, settings.extra_tags),
            provider=provider,
        )
        self.alias = KmsAlias(self, "alias", name=kms_alias_name(ctx.name_prefix, settings.data_class), target_key_id=self.key.key_id, provider=provider)
        self.arn: str = self.key.arn
        self.alias_name: str = self.alias.name
        self._extra: list[dict[str, Any]] = []

    def allow_cloudfront_read(self, distribution_arn: str) -> None:
        """Let one CloudFront distribution (origin access control) decrypt objects encrypted with this key."""
        self._extra.append(cloudfront_read_statement(distribution_arn))
        self.key.policy = policy_json(*key_policy_statements(self.ctx, self.settings), *self._extra)
