"""Compliance that corrects: AWS Config conformance packs and automatic remediation with SSM Automation.

- **Conformance pack** ``<prefix>-cis-aws-foundations-benchmark``: the AWS managed rules of AWS's sample template
  "Operational Best Practices for CIS AWS Foundations Benchmark v1.4 Level 1" (:data:`CIS_V14_LEVEL1`, the rule
  identifiers and parameters of the template; its manual process checks are left out), written as the template's
  YAML from that data. https://docs.aws.amazon.com/config/latest/developerguide/conformancepack-sample-templates.html,
  https://docs.aws.amazon.com/config/latest/developerguide/operational-best-practices-for-cis_aws_benchmark_level_1.html
  Deviations: the IAM password policy parameters are the environment's (`security.password_*`), and
  ``s3-bucket-versioning-enabled`` checks versioning without MFA delete (MFA delete needs the root user's MFA and is
  not used by this platform).
- **Remediation** (``aws_config_remediation_configuration``) of chosen rules, where the fix is safe to automate:

  | rule | SSM Automation runbook (AWS-owned) | what it does |
  | --- | --- | --- |
  | ``<prefix>-s3-bucket-public-access`` (S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED) | ``AWS-DisableS3BucketPublicReadWrite`` | turns on the bucket's Block Public Access |
  | ``<prefix>-ec2-ebs-encryption-by-default`` (EC2_EBS_ENCRYPTION_BY_DEFAULT, created here) | ``AWSConfigRemediation-EnableEbsEncryptionByDefault`` | encrypts every new EBS volume of the account/region |
  | ``<prefix>-restricted-ssh`` (INCOMING_SSH_DISABLED) | ``AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules`` | removes the group's 0.0.0.0/0 and ::/0 ingress rules |

  Runbooks: https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-disables3bucketpublicreadwrite.html,
  https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-enable-ebs-encryption-by-default.html,
  https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-remove-unrestricted-source-ingress.html.
  Remediation configurations: https://docs.aws.amazon.com/config/latest/developerguide/remediation.html
  With ``dry_run`` the configurations exist with ``automatic = false``: Config reports, a person starts the fix.
- **Automation role** ``<prefix>-config-remediation``: trusted by ``ssm.amazonaws.com`` (the role SSM Automation
  assumes, passed as the runbooks' ``AutomationAssumeRole``:
  https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup-iam.html), allowed exactly the
  calls the chosen runbooks document under "Required IAM permissions", on this account's resources.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from cdktf_cdktf_provider_aws.config_config_rule import ConfigConfigRule
from cdktf_cdktf_provider_aws.config_conformance_pack import ConfigConformancePack
from cdktf_cdktf_provider_aws.config_remediation_configuration import ConfigRemediationConfiguration
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from modules.core.base import Context, Module, require
from modules.core.helpers import policy_json, tags
from modules.core.helpers import service_trust_policy as assume_role_policy
from modules.core.helpers import struct_list as blocks

#: Managed rules of the AWS sample conformance pack "Operational Best Practices for CIS AWS Foundations Benchmark v1.4
#: Level 1" (awslabs/aws-config-rules, aws-config-conformance-packs/Operational-Best-Practices-for-CIS-AWS-v1.4-
#: Level1.yaml): config rule name -> (source identifier, input parameters, compliance resource types).
CIS_V14_LEVEL1: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "access-keys-rotated": ("ACCESS_KEYS_ROTATED", {"maxAccessKeyAge": "90"}, ()),
    "cloud-trail-cloud-watch-logs-enabled": ("CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED", {}, ()),
    "ec2-ebs-encryption-by-default": ("EC2_EBS_ENCRYPTION_BY_DEFAULT", {}, ()),
    "encrypted-volumes": ("ENCRYPTED_VOLUMES", {}, ("AWS::EC2::Volume",)),
    "iam-no-inline-policy-check": ("IAM_NO_INLINE_POLICY_CHECK", {},
                                   ("AWS::IAM::User", "AWS::IAM::Role", "AWS::IAM::Group")),
    "iam-password-policy": ("IAM_PASSWORD_POLICY", {}, ()),  # parameters: the environment's (see below)
    "iam-policy-in-use": ("IAM_POLICY_IN_USE", {}, ()),  # policyARN: AWSSupportAccess in this partition
    "iam-policy-no-statements-with-admin-access": ("IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS", {},
                                                   ("AWS::IAM::Policy",)),
    "iam-root-access-key-check": ("IAM_ROOT_ACCESS_KEY_CHECK", {}, ()),
    "iam-user-group-membership-check": ("IAM_USER_GROUP_MEMBERSHIP_CHECK", {}, ("AWS::IAM::User",)),
    "iam-user-no-policies-check": ("IAM_USER_NO_POLICIES_CHECK", {}, ("AWS::IAM::User",)),
    "iam-user-unused-credentials-check": ("IAM_USER_UNUSED_CREDENTIALS_CHECK", {"maxCredentialUsageAge": "45"}, ()),
    "restricted-ssh": ("INCOMING_SSH_DISABLED", {}, ("AWS::EC2::SecurityGroup",)),
    "mfa-enabled-for-iam-console-access": ("MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS", {}, ()),
    "multi-region-cloud-trail-enabled": ("MULTI_REGION_CLOUD_TRAIL_ENABLED", {}, ()),
    "rds-snapshot-encrypted": ("RDS_SNAPSHOT_ENCRYPTED", {}, ("AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot")),
    "rds-storage-encrypted": ("RDS_STORAGE_ENCRYPTED", {}, ("AWS::RDS::DBInstance",)),
    "restricted-common-ports": ("RESTRICTED_INCOMING_TRAFFIC", {"blockedPort3": "3389"}, ("AWS::EC2::SecurityGroup",)),
    "root-account-mfa-enabled": ("ROOT_ACCOUNT_MFA_ENABLED", {}, ()),
    "s3-account-level-public-access-blocks-periodic": ("S3_ACCOUNT_LEVEL_PUBLIC_ACCESS_BLOCKS_PERIODIC", {
        "BlockPublicAcls": "True", "BlockPublicPolicy": "True", "IgnorePublicAcls": "True",
        "RestrictPublicBuckets": "True"}, ()),
    "s3-bucket-level-public-access-prohibited": ("S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", {}, ("AWS::S3::Bucket",)),
    "s3-bucket-logging-enabled": ("S3_BUCKET_LOGGING_ENABLED", {}, ("AWS::S3::Bucket",)),
    "s3-bucket-public-read-prohibited": ("S3_BUCKET_PUBLIC_READ_PROHIBITED", {}, ("AWS::S3::Bucket",)),
    "s3-bucket-public-write-prohibited": ("S3_BUCKET_PUBLIC_WRITE_PROHIBITED", {}, ("AWS::S3::Bucket",)),
    "s3-bucket-versioning-enabled": ("S3_BUCKET_VERSIONING_ENABLED", {}, ("AWS::S3::Bucket",)),
}

#: Remediation name -> (rule id in the audit module or here, runbook, resource type, parameter fed RESOURCE_ID,
#: IAM statements the runbook's "Required IAM permissions" list, as a function of the context).
RUNBOOKS = {
    "public-s3": ("s3-bucket-public-access", "AWS-DisableS3BucketPublicReadWrite", "AWS::S3::Bucket", "S3BucketName"),
    "ebs-default-encryption": ("ec2-ebs-encryption-by-default", "AWSConfigRemediation-EnableEbsEncryptionByDefault",
                               None, None),
    "open-ssh": ("restricted-ssh", "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules",
                 "AWS::EC2::SecurityGroup", "SecurityGroupId"),
}


def conformance_template(pack: str, *, partition: str, password_min_length: int = 14,
                         password_max_age_days: int = 90, password_reuse_prevention: int = 24) -> str:
    """The conformance pack template (YAML) of ``pack``, generated from :data:`CIS_V14_LEVEL1`."""
    require(pack == "cis-aws-foundations-benchmark", f"unknown conformance pack {pack!r}")
    resources: dict[str, Any] = {}
    for name, (identifier, params, scope) in CIS_V14_LEVEL1.items():
        params = dict(params)
        if identifier == "IAM_PASSWORD_POLICY":
            params = {"MaxPasswordAge": str(password_max_age_days), "MinimumPasswordLength": str(password_min_length),
                      "PasswordReusePrevention": str(password_reuse_prevention),
                      "RequireLowercaseCharacters": "true", "RequireNumbers": "true", "RequireSymbols": "true",
                      "RequireUppercaseCharacters": "true"}
        if identifier == "IAM_POLICY_IN_USE":
            params = {"policyARN": f"arn:{partition}:iam::aws:policy/AWSSupportAccess"}
        props: dict[str, Any] = {"ConfigRuleName": name}
        if params:
            props["InputParameters"] = params
        if scope:
            props["Scope"] = {"ComplianceResourceTypes": list(scope)}
        props["Source"] = {"Owner": "AWS", "SourceIdentifier": identifier}
        logical = "".join(part.title() for part in name.split("-"))
        resources[logical] = {"Type": "AWS::Config::ConfigRule", "Properties": props}
    return yaml.safe_dump({"Resources": resources}, sort_keys=False, width=1000)


@dataclass(frozen=True)
class RemediationSettings:
    """Inputs of :class:`Remediation`."""

    config_rule_names: dict[str, str] = field(default_factory=dict)
    """Rule id (``audit.config_rules`` keys) -> Config rule name of the audit module. Default: none."""
    conformance_packs: tuple[str, ...] = ()
    """Packs to deploy. Default: none."""
    remediate: tuple[str, ...] = ()
    """Remediations of :data:`RUNBOOKS` to configure. Default: none."""
    dry_run: bool = True
    """``automatic = false``: report only. Default true."""
    attempts: int = 5
    retry_seconds: int = 60
    password_min_length: int = 14
    password_max_age_days: int = 90
    password_reuse_prevention: int = 24
    depends_on: tuple[Any, ...] = ()
    """Resources the packs and rules wait for (the Config recorder status). Default: none."""
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [r for r in self.remediate if r not in RUNBOOKS]
        require(not unknown, f"`remediate` names unknown remediations {unknown}; use {', '.join(RUNBOOKS)}")
        for name in self.remediate:
            rule = RUNBOOKS[name][0]
            require(rule == "ec2-ebs-encryption-by-default" or rule in self.config_rule_names,
                    f"remediation {name!r} corrects the Config rule {rule!r}, which does not exist (managed Config "
                    "rules off)")


class Remediation(Module):
    """Conformance packs, remediation configurations and their automation role.

    Public attributes: ``conformance_pack_names``, ``remediated_rules`` (remediation -> Config rule name),
    ``automation_role_arn`` (None without remediations), ``automatic`` (bool).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: RemediationSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        depends = list(s.depends_on)
        self.automatic = not s.dry_run
        self.conformance_pack_names: list[str] = []
        for pack in s.conformance_packs:
            name = f"{prefix}-{pack}"
            ConfigConformancePack(self, f"pack-{pack}", name=name, depends_on=depends, template_body=conformance_template(
                pack, partition=ctx.partition, password_min_length=s.password_min_length,
                password_max_age_days=s.password_max_age_days, password_reuse_prevention=s.password_reuse_prevention))
            self.conformance_pack_names.append(name)

        self.remediated_rules: dict[str, str] = {}
        self.automation_role_arn: str | None = None
        if not s.remediate:
            return
        role = IamRole(self, "automation-role", name=f"{prefix}-config-remediation",
                       assume_role_policy=assume_role_policy(ctx, "ssm.amazonaws.com"),
                       description="SSM Automation: AWS Config remediations (public S3, EBS default encryption, "
                                   "open SSH)", tags=tags(ctx, f"{prefix}-config-remediation", extra))
        self.automation_role_arn = role.arn
        statements = [{"Sid": "RunTheRemediationRunbooks", "Effect": "Allow",
                       "Action": ["ssm:StartAutomationExecution", "ssm:GetAutomationExecution"],
                       "Resource": [f"arn:{ctx.partition}:ssm:{ctx.region}::automation-definition/{RUNBOOKS[r][1]}:*"
                                    for r in s.remediate]
                       + [f"arn:{ctx.partition}:ssm:{ctx.region}:{ctx.account_id}:automation-execution/*"]}]
        statements += [st for r in s.remediate for st in self._permissions(r)]
        IamRolePolicy(self, "automation-policy", name="config-remediation", role=role.id,
                      policy=policy_json(*statements))
        for name in s.remediate:
            rule_id, document, resource_type, resource_parameter = RUNBOOKS[name]
            if rule_id == "ec2-ebs-encryption-by-default":
                rule_name = ConfigConfigRule(
                    self, "rule-ebs-default-encryption", name=f"{prefix}-ec2-ebs-encryption-by-default",
                    description="AWS managed rule EC2_EBS_ENCRYPTION_BY_DEFAULT (remediated: "
                                "AWSConfigRemediation-EnableEbsEncryptionByDefault)",
                    source={"owner": "AWS", "source_identifier": "EC2_EBS_ENCRYPTION_BY_DEFAULT"},
                    maximum_execution_frequency="TwentyFour_Hours", depends_on=depends,
                    tags=tags(ctx, f"{prefix}-ec2-ebs-encryption-by-default", extra)).name
            else:
                rule_name = s.config_rule_names[rule_id]
            self.remediated_rules[name] = rule_name
            parameters: list[dict[str, Any]] = [{"name": "AutomationAssumeRole", "static_value": role.arn}]
            if resource_parameter is not None:
                parameters.append({"name": resource_parameter, "resource_value": "RESOURCE_ID"})
            ConfigRemediationConfiguration(
                self, f"remediation-{name}", config_rule_name=rule_name, target_type="SSM_DOCUMENT",
                target_id=document, resource_type=resource_type, parameter=blocks(parameters),
                automatic=self.automatic, maximum_automatic_attempts=s.attempts,
                retry_attempt_seconds=s.retry_seconds,
                execution_controls={"ssm_controls": {"concurrent_execution_rate_percentage": 10,
                                                     "error_percentage": 10}})

    def _permissions(self, remediation: str) -> list[dict[str, Any]]:
        """What each runbook needs ("Required IAM permissions" of its page), on this account's resources."""
        ctx = self.ctx
        if remediation == "public-s3":
            return [{"Sid": "BlockPublicAccessOfThisAccountsBuckets", "Effect": "Allow",
                     "Action": ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"],
                     "Resource": f"arn:{ctx.partition}:s3:::*",
                     "Condition": {"StringEquals": {"s3:ResourceAccount": ctx.account_id}}}]
        if remediation == "ebs-default-encryption":
            # Account-level settings: the EC2 API has no resource ARN for them.
            return [{"Sid": "EbsEncryptionByDefault", "Effect": "Allow",
                     "Action": ["ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault"],
                     "Resource": "*"}]
        return [{"Sid": "DescribeSecurityGroups", "Effect": "Allow", "Action": "ec2:DescribeSecurityGroups",
                 "Resource": "*"},
                {"Sid": "RevokeOpenIngress", "Effect": "Allow", "Action": "ec2:RevokeSecurityGroupIngress",
                 "Resource": f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account_id}:security-group/*"}]
