"""The shipped rotation function of integration secrets (generic API key) and the rotation schedules that use it.

- Function ``<prefix>-rotate-api-key``: the code of ``modules/integration/rotation/`` packaged as a zip by the synthesis
  (``TerraformAsset``, as the health canary is), Python 3.12, in the private subnets with the integration-clients
  security group (HTTPS to the VPC endpoints and, through NAT, to the partner's key endpoint). Its environment holds
  the partner endpoints per secret (URLs, no credential). What each of the four steps does: the module docstring of
  ``modules/integration/rotation/api_key_rotation.py``.
- Role ``<prefix>-rotate-api-key``: the calls AWS documents for a rotation function
  (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html):
  DescribeSecret, GetSecretValue, PutSecretValue and UpdateSecretVersionStage on the rotated secrets only,
  GetRandomPassword (no resource), the ``secrets`` key through Secrets Manager only, its own log group, and the
  network interfaces Lambda creates in the VPC
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).
- Per rotated secret: Secrets Manager's resource-based permission to invoke the function for that secret
  (``aws:SourceArn`` = the secret, source account this account), then the rotation schedule
  (``aws_secretsmanager_secret_rotation``), which waits for the permission (RotateSecret rotates at once).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import SecretsmanagerSecretRotation
from constructs import Construct

from modules.core.base import Context, Module, require
from modules.core.helpers import policy_json, tags
from modules.core.helpers import service_trust_policy as assume_role_policy

ROTATION_CODE_DIR = Path(__file__).resolve().parent / "rotation"
HANDLER = "api_key_rotation.handler"
RUNTIME = "python3.12"


@dataclass(frozen=True)
class SecretRotationSettings:
    """Inputs of :class:`SecretRotation`."""

    secrets_kms_key_arn: str
    """The key encrypting the secrets. Required."""
    logs_kms_key_arn: str
    """The key of the function's log group. Required."""
    subnet_ids: tuple[str, ...]
    """Private subnets of the function. Required."""
    security_group_ids: tuple[str, ...]
    """Security groups of the function (HTTPS out). Required."""
    secret_name_prefix: str
    """Names of the secrets the function may rotate start with this (``<prefix>/integrations/``). Required."""
    endpoints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Secret name -> {"set": url, "test": url, "method": "POST"|"PUT"} for partners with a key endpoint."""
    log_retention_days: int = 30
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(bool(self.subnet_ids), "`subnet_ids` is required: the function runs in the VPC")
        require(self.secret_name_prefix.endswith("/"), "`secret_name_prefix` must end with '/'")
        for name, ep in self.endpoints.items():
            require(all(str(u).startswith("https://") for k, u in ep.items() if k in ("set", "test")),
                    f"`endpoints` [{name}]: the key endpoints must be https:// URLs")


class SecretRotation(Module):
    """The rotation function and the schedules that use it.

    Public attributes: ``function`` (escape hatch), ``function_arn``, ``function_name``, ``role_arn``,
    ``log_group_name``, ``rotations`` (secret name -> days). Method: :meth:`rotate`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: SecretRotationSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, p = ctx.name_prefix, ctx.partition
        self.function_name = f"{prefix}-rotate-api-key"
        group = CloudwatchLogGroup(self, "log-group", name=f"/aws/lambda/{self.function_name}",
                                   retention_in_days=s.log_retention_days, kms_key_id=s.logs_kms_key_arn,
                                   tags=tags(ctx, self.function_name, s.extra_tags))
        self.log_group_name: str = group.name
        role = IamRole(self, "role", name=self.function_name,
                       assume_role_policy=assume_role_policy(ctx, "lambda.amazonaws.com"),
                       description="Rotation function of the integration API-key secrets",
                       tags=tags(ctx, self.function_name, s.extra_tags))
        self.role_arn: str = role.arn
        secrets = f"arn:{p}:secretsmanager:{ctx.region}:{ctx.account_id}:secret:{s.secret_name_prefix}*"
        IamRolePolicy(self, "policy", name="rotate-api-key", role=role.id, policy=policy_json(
            {"Sid": "RotateTheIntegrationSecrets", "Effect": "Allow",
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
             "Resource": secrets},
            {"Sid": "RandomKeys", "Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
            {"Sid": "SecretsKeyThroughSecretsManager", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": s.secrets_kms_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com"}}},
            {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{group.arn}:*"},
            {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
             "Resource": "*"},
            # Lambda creates and removes its network interfaces in the VPC with the function's role; Describe has
            # no resource-level permission.
            {"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
             "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
             "Resource": "*"},
            {"Sid": "VpcNetworkInterfacesOfThisAccount", "Effect": "Allow",
             "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
             "Resource": f"arn:{p}:ec2:{ctx.region}:{ctx.account_id}:*"},
        ))
        code = TerraformAsset(self, "code", path=str(ROTATION_CODE_DIR), type=AssetType.ARCHIVE)
        env = {"KEY_FIELD": "api_key", "KEY_LENGTH": "40",
               "ROTATION_ENDPOINTS": json.dumps({k: dict(v) for k, v in s.endpoints.items()}, sort_keys=True)}
        self.function = LambdaFunction(
            self, "function", function_name=self.function_name, role=role.arn, handler=HANDLER, runtime=RUNTIME,
            filename=code.path, source_code_hash=code.asset_hash, timeout=60, memory_size=128,
            vpc_config={"subnet_ids": list(s.subnet_ids), "security_group_ids": list(s.security_group_ids)},
            # Logs go to the default group /aws/lambda/<name>, which is the KMS-encrypted group above (created first).
            environment={"variables": env},
            # Rotations are rare and sequential per secret; a small reserve keeps them from being starved and from
            # starving others. Traces show each step's Secrets Manager and partner calls.
            reserved_concurrent_executions=5, tracing_config={"mode": "Active"},
            depends_on=[group], tags=tags(ctx, self.function_name, s.extra_tags))
        self.function_arn: str = self.function.arn
        self.rotations: dict[str, int] = {}

    def rotate(self, name: str, secret_arn: str, secret_id: str, days: int) -> SecretsmanagerSecretRotation | None:
        """Rotate the secret ``secret_arn`` every ``days`` with this function: Secrets Manager's permission to invoke
        it for that secret, then the schedule (None on a target that cannot create it)."""
        ctx = self.ctx
        permission = LambdaPermission(
            self, f"invoke-{name}", statement_id=f"SecretsManager-{name}", action="lambda:InvokeFunction",
            function_name=self.function.function_name, principal="secretsmanager.amazonaws.com",
            source_arn=secret_arn, source_account=ctx.account_id)
        self.rotations[name] = days
        return SecretsmanagerSecretRotation(
            self, f"rotation-{name}", secret_id=secret_id, rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": days}, depends_on=[permission])

    def describe(self) -> dict[str, Any]:
        return {"function": self.function_name, "rotations": dict(self.rotations)}
