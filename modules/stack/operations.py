"""Operations of one environment, composed for the stack: on-call and incident response (:mod:`modules.security.oncall`) and
compliance that corrects (:mod:`modules.security.remediation`). Built after the security baseline, whose alerting topics,
finding rules and Config rules they use; ``[operations]`` in the settings (envs/operations.py)."""
from __future__ import annotations

from typing import Any

from cdktf import Aspects, TerraformStack

from envs.schema import EnvironmentSettings

from modules.security.audit import config_rules
from modules.core.base import Module
from modules.security.oncall import OnCall, OnCallSettings, Responder
from modules.security.remediation import Remediation, RemediationSettings
from modules.stack.refs import TierRefs

#: EventBridge rules of the incident response module whose findings start incidents (the ones that page).
PAGING_FINDING_RULES = ("guardduty-critical", "securityhub-critical")


def runbook_url(settings: EnvironmentSettings) -> str:
    """The environment's runbook (``docs/runbooks/<env>.md``), on GitHub when the repository is known."""
    repo = settings.security.ci_github_repository
    path = f"docs/runbooks/{settings.name}.md"
    return f"https://github.com/{repo}/blob/main/{path}" if repo else path


class Operations(Module):
    """Public attributes: ``oncall`` (or None), ``remediation`` (or None)."""

    def __init__(self, refs: TierRefs, id_: str, settings: EnvironmentSettings) -> None:
        super().__init__(refs.scope, id_, refs.ctx)
        ops, sec = settings.operations, settings.security
        security, topics = refs.security, refs.alarm_topics
        self.oncall: OnCall | None = None
        self.remediation: Remediation | None = None
        oc = ops.oncall
        # On the emulator none of Incident Manager exists (envs/target.py): the whole on-call part is left out, and
        # with it the alarm actions and event targets that would name its response plan.
        if oc.enabled and security is not None and self.ctx.target.supports("aws_ssmincidents_response_plan"):
            critical = topics.arn("critical") if topics else None
            self.oncall = OnCall(self, "oncall", self.ctx, OnCallSettings(
                contacts=tuple(Responder(c.alias, c.name, c.email, c.sms) for c in oc.contacts),
                members=tuple(oc.members), escalation=tuple(oc.escalation_contacts),
                rotation_start=oc.rotation_start or "", time_zone=oc.rotation_time_zone,
                recurrence=oc.rotation_recurrence, handoff_time=oc.rotation_handoff_time,
                handoff_day=oc.rotation_handoff_day, on_calls=oc.rotation_on_calls, every=oc.rotation_every,
                engagement_minutes=oc.engagement_minutes, retry_minutes=oc.retry_minutes,
                impact=oc.incident_impact, runbook_url=runbook_url(settings), playbooks_url=sec.playbooks_url,
                manage_replication_set=sec.manage_account_baseline,
                replication_regions=(settings.region, settings.dr_region), notification_topic_arn=critical))
            if oc.page_critical_alarms and critical is not None:
                Aspects.of(TerraformStack.of(self)).add(self.oncall.alarm_aspect(critical))
            incident = security.incident_response
            if oc.page_security_findings and incident is not None:
                for name in PAGING_FINDING_RULES:
                    if name in incident.rules:
                        self.oncall.page_on(name, incident.rules[name])

        comp = ops.compliance
        audit = security.audit if security is not None else None
        if audit is not None and audit.config_recorder_name is not None and (
                comp.conformance_packs or comp.any_remediation):
            rule_ids = list(config_rules(sec.password_min_length, sec.password_max_age_days,
                                         sec.password_reuse_prevention)) if audit.config_rule_names else []
            status = audit.node.try_find_child("config-recorder-status")
            remediate = tuple(name for name, on in (("public-s3", comp.remediate_public_s3),
                                                    ("ebs-default-encryption", comp.remediate_ebs_default_encryption),
                                                    ("open-ssh", comp.remediate_open_ssh)) if on)
            self.remediation = Remediation(self, "remediation", self.ctx, RemediationSettings(
                config_rule_names=dict(zip(rule_ids, audit.config_rule_names)),
                conformance_packs=tuple(comp.conformance_packs), remediate=remediate,
                dry_run=comp.remediation_dry_run, attempts=comp.remediation_attempts,
                retry_seconds=comp.remediation_retry_seconds, password_min_length=sec.password_min_length,
                password_max_age_days=sec.password_max_age_days,
                password_reuse_prevention=sec.password_reuse_prevention,
                depends_on=(status,) if status is not None else ()))

    def outputs(self) -> dict[str, Any]:
        """Stack outputs of what exists."""
        out: dict[str, Any] = {}
        if self.oncall is not None:
            out["incident_response_plan_arn"] = self.oncall.response_plan_arn
        # The packs are left out on a target that cannot create them (modules/stack/local_variant.py): no output.
        if (self.remediation is not None and self.remediation.conformance_pack_names
                and self.ctx.target.supports("aws_config_conformance_pack")):
            out["conformance_packs"] = self.remediation.conformance_pack_names
        return out


def build_operations(refs: TierRefs, settings: EnvironmentSettings) -> Operations | None:
    """The operations of the stack of ``refs`` (None when nothing of ``[operations]`` is on)."""
    ops = settings.operations
    if not (ops.oncall.enabled or ops.compliance.conformance_packs or ops.compliance.any_remediation):
        return None
    return Operations(refs, "operations", settings)
