"""Settings of the security baseline (WAF, IAM, encryption, audit, threat detection, incident response).

The ``[security]`` table of ``envs/<name>.toml``. Every field has a default; see docs/security.md.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import field_validator, model_validator

from . import iso3166
from .base import Section

#: WAF rate-based rule limits (requests per evaluation window per IP) that AWS accepts.
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
#: Evaluation windows (seconds) a WAF rate-based rule accepts.
WAF_RATE_WINDOWS = (60, 120, 300, 600)
GUARDDUTY_FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
INSPECTOR_RESOURCE_TYPES = ("EC2", "ECR", "LAMBDA", "LAMBDA_CODE")
SECURITY_HUB_STANDARDS = ("aws-foundational-security-best-practices", "cis-aws-foundations-benchmark")

_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/*-]{1,200}$")
_GROUP = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


class SecuritySettings(Section):
    """Settings of the security baseline (WAF, IAM, encryption, audit, threat detection, incident response)."""

    # -- switches --------------------------------------------------------------------------------------------------
    enabled: bool = True
    """Build the security baseline (IAM roles and permissions boundary, audit trail, threat detection, WAF, incident
    response, compliance dashboard). Default true. When false none of them exist and every other ``[security]``
    field is ignored; the customer-managed KMS keys and the TLS-only, encrypted resources of the other tiers stay,
    but their IAM roles carry no permissions boundary (the baseline sets it) and the gate judges them as they are."""
    enable_waf: bool = True
    """The WAF web ACLs: a regional one on the load balancer (and the API stage), a CloudFront-scoped one on the
    distribution. Default true, with `enabled`. Each ACL is created only when it has something to protect: the
    regional ACL needs `app.enabled`, the CloudFront ACL needs `data.cdn.enabled` (with `data.enabled`)."""
    enable_audit: bool = True
    """CloudTrail, the audit bucket and (with `manage_account_baseline`) AWS Config. Default true, with `enabled`."""
    enable_threat_detection: bool = True
    """GuardDuty, Security Hub, Inspector and Macie (with `manage_account_baseline`; otherwise nothing). Default
    true, with `enabled`."""
    enable_incident_response: bool = True
    """Incident response: finding routing to the alerting topics, the containment SSM document, isolation security
    group and playbook links. Default true, with `enabled`."""

    # -- account-level singletons --------------------------------------------------------------------------------
    manage_account_baseline: bool = True
    """Whether this environment owns the account/region singletons: IAM password policy, GitHub OIDC provider,
    AWS Config recorder, delivery channel and rules, GuardDuty detector, Security Hub, Inspector enabler, Macie.
    Default true (each environment here has its own account). With several environments in one account set it true
    in exactly one of them and false in the others."""

    # -- WAF -----------------------------------------------------------------------------------------------------
    waf_rate_limit: int = 2000
    """Requests one client IP may send per `waf_rate_window_seconds` before it is blocked. Default 2000;
    10 to 2,000,000,000."""
    waf_rate_window_seconds: int = 300
    """Evaluation window of the rate-based rule: 60, 120, 300 or 600 seconds. Default 300."""
    waf_blocked_countries: tuple[str, ...] = ()
    """ISO 3166-1 alpha-2 country codes (``"KP"``) whose requests the WAF blocks (a geo match rule in every web ACL:
    the load balancer's and the CloudFront distribution's), checked against the 249 assigned codes. Default: none
    (no geo rule)."""
    waf_allowed_cidrs: tuple[str, ...] = ()
    """CIDRs always allowed (evaluated before every other rule). Default: none."""
    waf_blocked_cidrs: tuple[str, ...] = ()
    """CIDRs always blocked. Default: none. Must not overlap `waf_allowed_cidrs`."""
    enable_shield_advanced: bool = False
    """Subscribe to Shield Advanced (about 3000 USD a month, one-year commitment) and protect the ALB and the
    CloudFront distribution. Default false."""

    # -- IAM -----------------------------------------------------------------------------------------------------
    ci_github_repository: str | None = None
    """``owner/name`` of the GitHub repository whose Actions may deploy through OIDC. Default: none (no CI roles)."""
    ci_deploy_branches: tuple[str, ...] = ("main",)
    """Branches whose push and scheduled workflow jobs may assume the read-only plan role (prod plan, drift); the deploy
    role trusts the GitHub environment named like this environment instead, whose deployment-branch rule should name
    these branches (docs/delivery.md "Trust model"). Default ``main`` only."""
    ci_plan_on_pull_requests: bool = True
    """A read-only plan role that pull-request workflows of `ci_github_repository` may assume. Default true."""
    audit_account_id: str | None = None
    """12-digit account of the security/audit team, trusted by the read-only audit role. Default: none (no audit
    role). Requires `audit_external_id`."""
    audit_external_id: str | None = None
    """External id the audit account must present (confused-deputy protection), 2 to 1224 characters of
    ``[A-Za-z0-9+=,.@:/_-]``. Default: none; required with `audit_account_id`."""
    human_groups: tuple[str, ...] = ("operators",)
    """IAM groups for people, created as ``<prefix>-<group>``, each with the force-MFA policy. Default
    ``operators``."""
    password_min_length: int = 14
    """Minimum IAM user password length, 14 to 128. Default 14."""
    password_max_age_days: int = 90
    """Days before an IAM user password expires, 1 to 1095. Default 90."""
    password_reuse_prevention: int = 24
    """Previous passwords that may not be reused, 1 to 24. Default 24."""

    # -- audit ---------------------------------------------------------------------------------------------------
    audit_log_retention_days: int = 365
    """Days CloudTrail and Config objects stay in the audit log bucket (Glacier after 90 days). Default 365; at
    least 90."""
    config_rules: bool = True
    """AWS Config managed rules (encrypted volumes, RDS encryption, S3 public access, root MFA, CloudTrail
    enabled, restricted SSH, IAM password policy). Default true; only with `manage_account_baseline`."""

    # -- threat detection ----------------------------------------------------------------------------------------
    guardduty_s3_protection: bool = True
    """GuardDuty S3 data event analysis. Default true."""
    guardduty_eks_protection: bool = True
    """GuardDuty EKS audit log monitoring. Default true."""
    guardduty_runtime_monitoring: bool = False
    """GuardDuty runtime monitoring (EKS/ECS/EC2 agents, billed per vCPU). Default false."""
    guardduty_malware_protection: bool = True
    """GuardDuty malware protection for EC2 (EBS volume scans on findings). Default true."""
    guardduty_finding_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "FIFTEEN_MINUTES"
    """How often updated GuardDuty findings are published. Default ``FIFTEEN_MINUTES``."""
    enable_security_hub: bool = True
    """Security Hub with the standards of `security_hub_standards`. Default true."""
    security_hub_standards: tuple[Literal["aws-foundational-security-best-practices",
                                          "cis-aws-foundations-benchmark"], ...] = SECURITY_HUB_STANDARDS
    """Security Hub standards to subscribe to. Default: AWS Foundational Security Best Practices and CIS."""
    inspector_resource_types: tuple[Literal["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"], ...] = ("EC2", "ECR", "LAMBDA")
    """What Inspector v2 scans. Default EC2, ECR and Lambda; empty disables Inspector."""
    enable_macie: bool = True
    """Macie, with a classification job over the data tier's buckets. Default true."""

    # -- incident response ---------------------------------------------------------------------------------------
    critical_finding_severity: float = 7.0
    """GuardDuty severity (1.0 to 8.9) from which a finding pages (critical topic); lower findings from 4.0 notify.
    Default 7.0 (GuardDuty's "high")."""
    auto_contain_instances: bool = False
    """Run the containment automation (quarantine security group + volume snapshots) automatically on critical
    GuardDuty EC2 findings. Default false: responders start it by hand from the playbook."""
    playbook_base_url: str | None = None
    """Where the incident-response playbooks are read; finding notifications link to ``<url>/<playbook>.md``.
    Default: ``https://github.com/<ci_github_repository>/blob/main/docs/playbooks`` when that is set, otherwise the
    repository path ``docs/playbooks``."""

    # -- validators ----------------------------------------------------------------------------------------------
    @field_validator("waf_rate_limit")
    @classmethod
    def _rate_limit(cls, value: int) -> int:
        low, high = WAF_RATE_LIMIT_RANGE
        if not low <= value <= high:
            raise ValueError(f"{value} is outside what AWS WAF accepts; set security.waf_rate_limit between {low} "
                             f"and {high}")
        return value

    @field_validator("waf_rate_window_seconds")
    @classmethod
    def _rate_window(cls, value: int) -> int:
        if value not in WAF_RATE_WINDOWS:
            raise ValueError(f"{value} is not a WAF evaluation window; set security.waf_rate_window_seconds to one "
                             f"of {', '.join(map(str, WAF_RATE_WINDOWS))}")
        return value

    @field_validator("waf_blocked_countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if c not in iso3166.ALPHA_2]
        if bad:
            raise ValueError(f"{bad} are not ISO 3166-1 alpha-2 country codes; write security.waf_blocked_countries "
                             "as assigned upper-case two-letter codes such as \"KP\" (envs/iso3166.py lists them)")
        if len(set(value)) != len(value):
            raise ValueError("lists a country twice; remove the duplicate from security.waf_blocked_countries")
        return value

    @field_validator("waf_allowed_cidrs", "waf_blocked_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...], info) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a network CIDR ({exc}); fix security.{info.field_name}, "
                                 "e.g. \"203.0.113.0/24\"") from None
        return value

    @field_validator("ci_github_repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not _REPO.fullmatch(value):
            raise ValueError(f"{value!r} is not a GitHub repository; set security.ci_github_repository to "
                             "\"owner/name\"")
        return value

    @field_validator("ci_deploy_branches")
    @classmethod
    def _branches(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [b for b in value if not _BRANCH.fullmatch(b)]
        if bad or not value:
            raise ValueError(f"needs at least one branch name without spaces or quotes (got {list(value)}); fix "
                             "security.ci_deploy_branches, e.g. [\"main\"]")
        return value

    @field_validator("audit_account_id")
    @classmethod
    def _audit_account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} is not a 12-digit account id; fix security.audit_account_id")
        return value

    @field_validator("audit_external_id")
    @classmethod
    def _external_id(cls, value: str | None) -> str | None:
        if value is not None and not _EXTERNAL_ID.fullmatch(value):
            raise ValueError("must be 2 to 1224 characters of letters, digits and +=,.@:/_-; fix "
                             "security.audit_external_id")
        return value

    @field_validator("human_groups")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [g for g in value if not _GROUP.fullmatch(g)]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"group names must be unique, lowercase with dashes (bad: {bad or 'duplicates'}); fix "
                             "security.human_groups")
        return value

    @field_validator("password_min_length")
    @classmethod
    def _password_length(cls, value: int) -> int:
        if not 14 <= value <= 128:
            raise ValueError(f"{value} is outside 14..128 (CIS requires at least 14); set "
                             "security.password_min_length between 14 and 128")
        return value

    @field_validator("password_max_age_days")
    @classmethod
    def _password_age(cls, value: int) -> int:
        if not 1 <= value <= 1095:
            raise ValueError(f"{value} is outside 1..1095; set security.password_max_age_days between 1 and 1095")
        return value

    @field_validator("password_reuse_prevention")
    @classmethod
    def _password_reuse(cls, value: int) -> int:
        if not 1 <= value <= 24:
            raise ValueError(f"{value} is outside 1..24; set security.password_reuse_prevention between 1 and 24")
        return value

    @field_validator("audit_log_retention_days")
    @classmethod
    def _audit_retention(cls, value: int) -> int:
        if value < 90:
            raise ValueError(f"{value} days is too short for audit logs; set security.audit_log_retention_days to "
                             "90 or more")
        return value

    @field_validator("critical_finding_severity")
    @classmethod
    def _severity(cls, value: float) -> float:
        if not 4.0 < value <= 8.9:
            raise ValueError(f"{value} is outside GuardDuty's 4.0..8.9 medium/high range; set "
                             "security.critical_finding_severity above 4.0 and at most 8.9")
        return value

    @field_validator("playbook_base_url")
    @classmethod
    def _playbook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} is not an https:// URL; fix security.playbook_base_url")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _cross_field(self) -> "SecuritySettings":
        if (self.audit_account_id is None) != (self.audit_external_id is None):
            raise ValueError("audit_account_id and audit_external_id go together; set both (or neither) in "
                             "[security]")
        allowed = [ipaddress.ip_network(c) for c in self.waf_allowed_cidrs]
        for cidr in self.waf_blocked_cidrs:
            net = ipaddress.ip_network(cidr)
            clash = [str(a) for a in allowed if a.version == net.version and a.overlaps(net)]
            if clash:
                raise ValueError(f"waf_blocked_cidrs {cidr} overlaps waf_allowed_cidrs {clash}; remove it from one "
                                 "of the two lists in [security]")
        return self

    # -- derived -------------------------------------------------------------------------------------------------
    @property
    def playbooks_url(self) -> str:
        """Base of the playbook links (see `playbook_base_url`)."""
        if self.playbook_base_url:
            return self.playbook_base_url
        if self.ci_github_repository:
            return f"https://github.com/{self.ci_github_repository}/blob/main/docs/playbooks"
        return "docs/playbooks"
