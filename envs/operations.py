"""Settings of operations (``[operations]`` in ``envs/<name>.toml``): on-call and incident response with AWS Systems
Manager Incident Manager (``[operations.oncall]``), and compliance that corrects: AWS Config conformance packs and
automatic remediation (``[operations.compliance]``).

Every field has a default; validators raise ``ValueError`` whose message names the field and ends with the fix.
Reference: ``docs/security.md`` ("On-call and incident response", "Compliance that corrects").
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from .base import Section

#: Incident Manager contact alias: lowercase letters, digits, ``_`` and ``-``
#: (https://docs.aws.amazon.com/incident-manager/latest/APIReference/API_SSMContacts_CreateContact.html).
_ALIAS = r"^[a-z0-9_-]{1,40}$"
#: A mailbox address (local part @ domain with a dot); Incident Manager sends the activation code there.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z]{2,63}$")
#: E.164 phone number, as Incident Manager's SMS and voice channels require (``+`` country code and number).
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
#: Conformance packs (built from AWS sample templates, modules/security/remediation.py) by the standard they implement.
CONFORMANCE_PACKS = ("cis-aws-foundations-benchmark",)


class OnCallContact(Section):
    """One responder: an Incident Manager contact with its channels (each activated by the responder, see
    docs/security.md)."""

    alias: Annotated[str, Field(pattern=_ALIAS)]
    """Short name, lowercase letters, digits, ``_`` and ``-`` (at most 40); the contact is ``<prefix>-<alias>``.
    Required."""
    name: Annotated[str, Field(min_length=1, max_length=255)]
    """Full name shown in Incident Manager. Required."""
    email: str | None = None
    """Email address paged (EMAIL channel). Default none; at least one of `email` and `sms`."""
    sms: str | None = None
    """Mobile number paged by text message (SMS channel), E.164 (``+14255550100``). Default none."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address; fix operations.oncall.contacts[].email, e.g. "
                             "\"oncall@example.com\"")
        return value

    @field_validator("sms")
    @classmethod
    def _sms(cls, value: str | None) -> str | None:
        if value is not None and not _E164.fullmatch(value):
            raise ValueError(f"{value!r} is not an E.164 phone number; write operations.oncall.contacts[].sms as "
                             "\"+\" country code and number without spaces, e.g. \"+14255550100\"")
        return value

    @model_validator(mode="after")
    def _channel(self) -> "OnCallContact":
        if self.email is None and self.sms is None:
            raise ValueError(f"contact {self.alias!r} has no channel; set email or sms (or both) in "
                             "operations.oncall.contacts")
        return self


class OnCallSettings(Section):
    """On-call rotation, escalation and the incident response plan (AWS Systems Manager Incident Manager)."""

    enabled: bool = False
    """Build the contacts, the rotation, the escalation plan and the response plan, and let critical alarms and
    critical security findings start incidents. Default false. Needs `contacts`, `rotation_start` and the
    security baseline (`security.enabled`)."""
    contacts: list[OnCallContact] = []
    """Responders, each with an email and/or SMS channel. Default: none; at least one when `enabled`."""
    rotation_members: list[str] = []
    """Aliases of the contacts in the on-call rotation, in rotation order. Default: every contact."""
    escalation_contacts: list[str] = []
    """Aliases engaged when nobody of the rotation acknowledges within `engagement_minutes` (the second stage of
    the escalation plan). Default: none (one stage)."""
    rotation_start: str | None = None
    """When the rotation starts, ISO 8601 with an offset, e.g. ``"2026-01-05T09:00:00+01:00"``. Default none;
    required when `enabled`."""
    rotation_time_zone: str = "UTC"
    """IANA time zone of the hand-off time (``Europe/Berlin``). Default ``UTC``."""
    rotation_recurrence: Literal["daily", "weekly"] = "weekly"
    """How often the shift hands off: ``daily`` or ``weekly``. Default ``weekly``."""
    rotation_handoff_time: str = "09:00"
    """Hand-off time of day, ``HH:MM`` (24 h) in `rotation_time_zone`. Default ``09:00``."""
    rotation_handoff_day: Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"] = "MON"
    """Hand-off day of a weekly rotation. Default ``MON``."""
    rotation_on_calls: Annotated[int, Field(ge=1, le=30)] = 1
    """Contacts on call at the same time, 1 to 30. Default 1."""
    rotation_every: Annotated[int, Field(ge=1, le=100)] = 1
    """Hand off every N days or weeks (the recurrence multiplier), 1 to 100. Default 1."""
    engagement_minutes: Annotated[int, Field(ge=1, le=30)] = 15
    """Minutes the first stage pages the rotation before the escalation contacts are engaged, 1 to 30 (Incident
    Manager's maximum stage duration). Default 15."""
    retry_minutes: Annotated[int, Field(ge=0, le=60)] = 5
    """Minutes between repeated pages on a channel until acknowledged, 0 to 60. Default 5."""
    incident_impact: Annotated[int, Field(ge=1, le=5)] = 2
    """Impact of the incidents the platform starts: 1 critical, 2 high, 3 medium, 4 low, 5 none. Default 2."""
    page_critical_alarms: bool = True
    """Critical CloudWatch alarms start an incident (the response plan is an alarm action beside the critical
    topic). Default true."""
    page_security_findings: bool = True
    """GuardDuty findings from `security.critical_finding_severity` and Security Hub CRITICAL/HIGH findings start
    an incident (EventBridge targets the response plan). Default true."""

    @field_validator("rotation_start")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date and time with an offset; set "
                             "operations.oncall.rotation_start like \"2026-01-05T09:00:00+01:00\" (or ...Z)")
        return value

    @field_validator("rotation_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone; set operations.oncall.rotation_time_zone to e.g. "
                             "\"Europe/Berlin\" or \"UTC\"")
        return value

    @field_validator("rotation_handoff_time")
    @classmethod
    def _handoff(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError(f"{value!r} is not HH:MM (24 h); set operations.oncall.rotation_handoff_time like "
                             "\"09:00\"")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> "OnCallSettings":
        aliases = [c.alias for c in self.contacts]
        if len(set(aliases)) != len(aliases):
            raise ValueError("operations.oncall.contacts names an alias twice; give each contact its own alias")
        for field in ("rotation_members", "escalation_contacts"):
            unknown = [a for a in getattr(self, field) if a not in aliases]
            if unknown:
                raise ValueError(f"operations.oncall.{field} names {unknown}, which are not in contacts "
                                 f"({', '.join(aliases) or 'none'}); add them to contacts or remove them")
            if len(set(getattr(self, field))) != len(getattr(self, field)):
                raise ValueError(f"operations.oncall.{field} lists a contact twice; list each once")
        if self.enabled:
            if not self.contacts:
                raise ValueError("operations.oncall.enabled needs at least one contact; add "
                                 "[[operations.oncall.contacts]] with alias, name and email or sms")
            if self.rotation_start is None:
                raise ValueError("operations.oncall.enabled needs rotation_start; set it like "
                                 "\"2026-01-05T09:00:00+01:00\"")
            if len(self.members) < self.rotation_on_calls:
                raise ValueError(f"operations.oncall.rotation_on_calls ({self.rotation_on_calls}) exceeds the "
                                 f"{len(self.members)} rotation members; lower it or add members")
        return self

    @property
    def members(self) -> list[str]:
        """Aliases of the rotation, in order (`rotation_members`, or every contact)."""
        return list(self.rotation_members) or [c.alias for c in self.contacts]


class ComplianceSettings(Section):
    """AWS Config conformance packs and automatic remediation (SSM Automation) for chosen rules."""

    conformance_packs: list[Literal["cis-aws-foundations-benchmark"]] = []
    """AWS Config conformance packs: ``cis-aws-foundations-benchmark`` (the managed rules of AWS's sample template
    "Operational Best Practices for CIS AWS Foundations Benchmark v1.4 Level 1"). The other standard of the security
    baseline, AWS Foundational Security Best Practices, is evaluated by its Security Hub subscription. Default: none.
    Needs AWS Config (`security.enable_audit` and `security.manage_account_baseline`)."""
    remediate_public_s3: bool = False
    """Buckets found by the S3 bucket-level public access rule get Block Public Access
    (``AWS-DisableS3BucketPublicReadWrite``). Default false. Needs `security.config_rules`."""
    remediate_ebs_default_encryption: bool = False
    """An account/region without EBS encryption by default gets it turned on, so every new volume is encrypted
    (``AWSConfigRemediation-EnableEbsEncryptionByDefault``). Default false."""
    remediate_open_ssh: bool = False
    """Security groups that admit SSH from anywhere lose their unrestricted-source ingress rules
    (``AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules``). Default false. Needs `security.config_rules`."""
    remediation_dry_run: bool = True
    """Report only: the remediations exist but run only when someone starts them on a non-compliant resource
    (``automatic = false``). Default true; false remediates automatically."""
    remediation_attempts: Annotated[int, Field(ge=1, le=25)] = 5
    """Automatic attempts per resource, 1 to 25. Default 5."""
    remediation_retry_seconds: Annotated[int, Field(ge=1, le=2678000)] = 60
    """Seconds over which `remediation_attempts` are spread before giving up. Default 60."""

    @field_validator("conformance_packs")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("operations.compliance.conformance_packs lists a pack twice; list each once")
        return value

    @property
    def any_remediation(self) -> bool:
        return self.remediate_public_s3 or self.remediate_ebs_default_encryption or self.remediate_open_ssh


class OperationsSettings(Section):
    """Operations: on-call and incident response, conformance packs and remediation."""

    oncall: OnCallSettings = OnCallSettings()
    """On-call rotation, escalation and incident response plan. Default: off."""
    compliance: ComplianceSettings = ComplianceSettings()
    """Conformance packs and automatic remediation. Default: none."""
