"""Customer-managed KMS keys: one key per data class, rotation on, a key policy that names its services."""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from .base import Context, Module, policy_json, require, tags


@dataclass(frozen=True)
class EncryptionKeySettings:
    """Inputs of :class:`EncryptionKey`."""

    data_class: str
    """Short name of what the key protects (``logs``, ``data``, ...); becomes ``alias/<prefix>-<data_class>``."""
    service_principals: tuple[str, ...] = ()
    """Service principals allowed to use the key (e.g. ``logs.us-east-1.amazonaws.com``). Default: none; the
    account's IAM policies alone then govern use."""
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


class EncryptionKey(Module):
    """A symmetric customer-managed key with yearly rotation and an alias.

    Public attributes: ``key`` (escape hatch), ``arn``, ``alias_name``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: EncryptionKeySettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        name = f"{ctx.name_prefix}-{settings.data_class}"
        root = f"arn:{ctx.partition}:iam::{ctx.account_id}:root"
        statements: list[dict] = [{
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        }]
        if settings.service_principals:
            grant: dict = {
                "Sid": "ServiceUse",
                "Effect": "Allow",
                "Principal": {"Service": list(settings.service_principals)},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:Describe*"],
                "Resource": "*",
            }
            if settings.logs_encryption_context:
                grant["Condition"] = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                                  f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:*"}}
            statements.append(grant)
        self.key = KmsKey(
            self, "key",
            description=f"{name}: customer-managed key for {settings.data_class}",
            enable_key_rotation=True,
            deletion_window_in_days=settings.deletion_window_days,
            policy=policy_json(*statements),
            tags=tags(ctx, name, settings.extra_tags),
        )
        self.alias = KmsAlias(self, "alias", name=f"alias/{name}", target_key_id=self.key.key_id)
        self.arn: str = self.key.arn
        self.alias_name: str = self.alias.name
