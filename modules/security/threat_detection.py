"""Threat detection: GuardDuty (with per-setting protection features), Security Hub with the AWS Foundational Security
Best Practices and CIS standards, Inspector v2, and Macie with a classification job over the data buckets.

All four are account/region singletons: the module builds them only with ``manage_account_baseline`` (one
environment per account does). Security Hub and Macie cannot be created on the local emulator, GuardDuty features
neither (see ``envs/target.py``); the local target leaves them out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.guardduty_detector import GuarddutyDetector
from cdktf_cdktf_provider_aws.guardduty_detector_feature import GuarddutyDetectorFeature
from cdktf_cdktf_provider_aws.inspector2_enabler import Inspector2Enabler
from cdktf_cdktf_provider_aws.kms_grant import KmsGrant
from cdktf_cdktf_provider_aws.macie2_account import Macie2Account
from cdktf_cdktf_provider_aws.macie2_classification_job import Macie2ClassificationJob
from cdktf_cdktf_provider_aws.securityhub_account import SecurityhubAccount
from cdktf_cdktf_provider_aws.securityhub_standards_subscription import SecurityhubStandardsSubscription
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import serves_only, struct_list, tags

#: Security Hub standard name -> ARN path (regional standards: ``arn:<p>:securityhub:<region>::standards/...``).
STANDARDS = {
    "aws-foundational-security-best-practices": "standards/aws-foundational-security-best-practices/v/1.0.0",
    "cis-aws-foundations-benchmark": "standards/cis-aws-foundations-benchmark/v/3.0.0",
}
RUNTIME_AGENTS = ("EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT")


@dataclass(frozen=True)
class ThreatDetectionSettings:
    """Inputs of :class:`ThreatDetection`."""

    manage_account_baseline: bool = True
    """Build the account singletons at all. Default true; false builds nothing."""
    s3_protection: bool = True
    """GuardDuty S3 data events. Default true."""
    eks_protection: bool = True
    """GuardDuty EKS audit logs. Default true."""
    runtime_monitoring: bool = False
    """GuardDuty runtime monitoring with managed agents. Default false."""
    malware_protection: bool = True
    """GuardDuty EBS malware protection. Default true."""
    finding_frequency: str = "FIFTEEN_MINUTES"
    """GuardDuty finding publishing frequency. Default ``FIFTEEN_MINUTES``."""
    enable_security_hub: bool = True
    """Security Hub. Default true."""
    security_hub_standards: tuple[str, ...] = tuple(STANDARDS)
    """Standards to subscribe. Default: both of :data:`STANDARDS`."""
    inspector_resource_types: tuple[str, ...] = ("EC2", "ECR", "LAMBDA")
    """Inspector v2 scan types. Default EC2, ECR, Lambda; empty: no Inspector."""
    enable_macie: bool = True
    """Macie. Default true."""
    macie_bucket_names: tuple[str, ...] = ()
    """Buckets of the weekly Macie classification job. Default: none (no job)."""
    macie_kms_key_arns: tuple[str, ...] = ()
    """Customer-managed keys encrypting those buckets: Macie's service-linked role gets a KMS grant for
    ``kms:Decrypt`` on each, created once Macie (and so the role) exists; its managed policy covers AWS-managed keys
    only (PLAT_AWS_006, https://docs.aws.amazon.com/macie/latest/user/discovery-supported-encryption-types.html).
    Default: none."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        unknown = set(self.security_hub_standards) - set(STANDARDS)
        require(not unknown, f"`security_hub_standards` names unknown standards {sorted(unknown)}; use "
                             f"{', '.join(STANDARDS)}")
        require(self.finding_frequency in ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"),
                f"`finding_frequency` must be FIFTEEN_MINUTES, ONE_HOUR or SIX_HOURS, got {self.finding_frequency!r}")
        require(not self.security_hub_standards or self.enable_security_hub,
                "Only one of `security_hub_standards` or `enable_security_hub = False` may be set")


class ThreatDetection(Module):
    """GuardDuty, Security Hub, Inspector v2 and Macie for the account and region.

    Public attributes: ``detector`` (escape hatch, or None), ``detector_id``, ``features`` (name -> status),
    ``security_hub`` (or None), ``standards_arns``, ``inspector`` (or None), ``macie_job`` (or None).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ThreatDetectionSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        s, prefix, p = settings, ctx.name_prefix, ctx.partition
        self.detector: GuarddutyDetector | None = None
        self.detector_id: str | None = None
        self.features: dict[str, str] = {}
        self.security_hub: SecurityhubAccount | None = None
        self.standards_arns: list[str] = []
        self.inspector: Inspector2Enabler | None = None
        self.macie_job: Macie2ClassificationJob | None = None
        if not s.manage_account_baseline:
            return

        self.detector = GuarddutyDetector(self, "guardduty", enable=True,
                                          finding_publishing_frequency=s.finding_frequency,
                                          tags=tags(ctx, f"{prefix}-guardduty", s.extra_tags))
        self.detector_id = self.detector.id
        self.features = {
            "S3_DATA_EVENTS": _status(s.s3_protection),
            "EKS_AUDIT_LOGS": _status(s.eks_protection),
            "RUNTIME_MONITORING": _status(s.runtime_monitoring),
            "EBS_MALWARE_PROTECTION": _status(s.malware_protection),
        }
        for name, status in self.features.items():
            extra = None
            if name == "RUNTIME_MONITORING":
                extra = [{"name": agent, "status": status} for agent in RUNTIME_AGENTS]
            GuarddutyDetectorFeature(self, f"guardduty-{name.lower().replace('_', '-')}",
                                     detector_id=self.detector.id, name=name, status=status,
                                     additional_configuration=struct_list(extra) if extra else None)

        if s.enable_security_hub:
            self.security_hub = SecurityhubAccount(self, "security-hub", enable_default_standards=False,
                                                   auto_enable_controls=True,
                                                   control_finding_generator="SECURITY_CONTROL")
            for name in s.security_hub_standards:
                arn = f"arn:{p}:securityhub:{ctx.region}::{STANDARDS[name]}"
                SecurityhubStandardsSubscription(self, f"standard-{name}", standards_arn=arn,
                                                 depends_on=[self.security_hub])
                self.standards_arns.append(arn)

        if s.inspector_resource_types:
            self.inspector = Inspector2Enabler(self, "inspector", account_ids=[ctx.account_id],
                                               resource_types=list(s.inspector_resource_types))

        if s.enable_macie:
            macie = Macie2Account(self, "macie", status="ENABLED", finding_publishing_frequency="FIFTEEN_MINUTES")
            if s.macie_bucket_names:
                self.macie_job = Macie2ClassificationJob(
                    self, "macie-job", name=f"{prefix}-data-buckets", job_type="SCHEDULED",
                    schedule_frequency={"weekly_schedule": "SUNDAY"}, initial_run=True, sampling_percentage=100,
                    s3_job_definition={"bucket_definitions": struct_list([{"account_id": ctx.account_id,
                                                                      "buckets": list(s.macie_bucket_names)}])},
                    depends_on=[macie], tags=tags(ctx, f"{prefix}-data-buckets", s.extra_tags))
                role = (f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/macie.amazonaws.com/"
                        "AWSServiceRoleForAmazonMacie")
                for i, key_arn in enumerate(s.macie_kms_key_arns):
                    # The grant exists only for Macie: where Macie cannot be created, it goes too.
                    serves_only(KmsGrant(
                        self, f"macie-key-grant-{i}" if i else "macie-key-grant", name=f"{prefix}-macie-{i}",
                        key_id=key_arn, grantee_principal=role, operations=["Decrypt", "DescribeKey"],
                        depends_on=[macie]), "aws_macie2_account", "aws_macie2_classification_job")


def _status(enabled: bool) -> str:
    return "ENABLED" if enabled else "DISABLED"
