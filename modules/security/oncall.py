"""On-call and incident response: AWS Systems Manager Incident Manager contacts, an on-call rotation, an escalation
plan and a response plan that the platform's critical alarms and critical security findings engage.

- **Replication set** (an account singleton, only with ``manage_replication_set``): Incident Manager's data lives in
  the primary and the DR region. Every contact, rotation and response plan needs it, so they depend on it.
  https://docs.aws.amazon.com/incident-manager/latest/userguide/disaster-recovery-resiliency.html
- **Contacts** ``<prefix>-<alias>`` (type PERSONAL) with EMAIL and/or SMS channels and an engagement plan that pages
  every channel at once and repeats every `retry_minutes` until acknowledged. A channel pages only once its owner has
  activated it with the code Incident Manager sends (docs/security.md).
  https://docs.aws.amazon.com/incident-manager/latest/userguide/contacts.html
- **Rotation** ``<prefix>-primary``: the members in order, `on_calls` at a time, handing off daily or weekly at
  `handoff_time` in `time_zone` from `rotation_start`.
  https://docs.aws.amazon.com/incident-manager/latest/userguide/incident-manager-on-call-schedule.html
- **Escalation plan** ``<prefix>-escalation`` (type ESCALATION): stage 1 engages the rotation members for
  `engagement_minutes`; stage 2 the escalation contacts. (Provider 5.100's ``aws_ssmcontacts_plan`` has no
  ``rotation_ids``, so an on-call-schedule contact that pages only the current shift cannot be built with it yet:
  stage 1 pages every member of the rotation; the rotation records whose shift it is.)
  https://docs.aws.amazon.com/incident-manager/latest/userguide/escalation.html
- **Response plan** ``<prefix>-critical``: the incident template (title, impact, a summary that links the
  environment's runbook and the playbooks, dedupe string, tags, the critical SNS topic for incident updates) and the
  escalation plan as engagement.
  https://docs.aws.amazon.com/incident-manager/latest/userguide/response-plans.html
- **What engages it**: :class:`PageCriticalAlarms` (an aspect) adds the response plan's ARN to the alarm actions of
  every metric and composite alarm of the stack that notifies the critical topic, and the runbook link to its
  description; :meth:`OnCall.page_on` adds the response plan as a second target of an EventBridge rule (the security
  baseline's critical finding rules), with a role that may start incidents from that plan only. CloudWatch alarms
  and EventBridge rules are the two automatic ways Incident Manager documents:
  https://docs.aws.amazon.com/incident-manager/latest/userguide/incident-creation.html
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jsii
from cdktf import IAspect
from cdktf_cdktf_provider_aws.cloudwatch_composite_alarm import CloudwatchCompositeAlarm
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.ssmcontacts_contact import SsmcontactsContact
from cdktf_cdktf_provider_aws.ssmcontacts_contact_channel import SsmcontactsContactChannel
from cdktf_cdktf_provider_aws.ssmcontacts_plan import SsmcontactsPlan
from cdktf_cdktf_provider_aws.ssmcontacts_rotation import SsmcontactsRotation
from cdktf_cdktf_provider_aws.ssmincidents_replication_set import SsmincidentsReplicationSet
from cdktf_cdktf_provider_aws.ssmincidents_response_plan import (SsmincidentsResponsePlan,
                                                                  SsmincidentsResponsePlanIncidentTemplate,
                                                                  SsmincidentsResponsePlanIncidentTemplateNotificationTarget)
from constructs import Construct, IConstruct

from modules.core.base import Context, Module, require
from modules.core.helpers import policy_json, tags
from modules.core.helpers import service_trust_policy as assume_role_policy
from modules.core.helpers import struct_list as blocks

#: CloudWatch alarm descriptions hold at most 1024 characters.
ALARM_DESCRIPTION_MAX = 1024


@dataclass(frozen=True)
class Responder:
    """One contact."""

    alias: str
    name: str
    email: str | None = None
    sms: str | None = None


@dataclass(frozen=True)
class OnCallSettings:
    """Inputs of :class:`OnCall`."""

    contacts: tuple[Responder, ...]
    """Responders. Required, at least one."""
    rotation_start: str
    """ISO 8601 start of the rotation with an offset. Required."""
    runbook_url: str
    """The environment's runbook (docs/runbooks/<env>.md), linked from every page. Required."""
    playbooks_url: str
    """Base of the security playbooks (docs/playbooks). Required."""
    members: tuple[str, ...] = ()
    """Aliases in the rotation, in order. Default: every contact."""
    escalation: tuple[str, ...] = ()
    """Aliases of the second stage. Default: none."""
    time_zone: str = "UTC"
    recurrence: str = "weekly"
    handoff_time: str = "09:00"
    handoff_day: str = "MON"
    on_calls: int = 1
    every: int = 1
    engagement_minutes: int = 15
    retry_minutes: int = 5
    impact: int = 2
    manage_replication_set: bool = True
    """Create the account's replication set (an account singleton). Default true."""
    replication_regions: tuple[str, ...] = ()
    """Regions of the replication set. Default: the primary region only."""
    notification_topic_arn: str | None = None
    """SNS topic told about incident updates (the critical topic). Default none."""
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        aliases = [c.alias for c in self.contacts]
        require(bool(aliases), "`contacts` needs at least one responder")
        require(len(set(aliases)) == len(aliases), "`contacts` aliases must be unique")
        for name in ("members", "escalation"):
            unknown = [a for a in getattr(self, name) if a not in aliases]
            require(not unknown, f"`{name}` names unknown contacts {unknown}")
        require(all(c.email or c.sms for c in self.contacts), "every contact needs an email or an sms channel")
        require(self.recurrence in ("daily", "weekly"), "`recurrence` must be daily or weekly")
        require(1 <= self.engagement_minutes <= 30, "`engagement_minutes` must be 1..30")
        require(1 <= self.impact <= 5, "`impact` must be 1..5")
        require(self.on_calls <= len(self.rotation), "`on_calls` exceeds the rotation's members")
        start = datetime.fromisoformat(self.rotation_start)
        require(start.tzinfo is not None, "`rotation_start` needs an offset")

    @property
    def rotation(self) -> tuple[str, ...]:
        return self.members or tuple(c.alias for c in self.contacts)


@jsii.implements(IAspect)
class PageCriticalAlarms:
    """Every alarm that notifies ``critical_topic_arn`` also starts an incident from the response plan, and its
    description links the runbook. Alarms are matched by the critical topic's token in their actions (the topic ARN
    the alerting module hands to every tier), at synthesis, so alarms of modules built before or after are covered.

    CloudWatch alarm actions accept a response plan ARN (``AlarmActions``:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html); OK actions do not
    start incidents, so they keep only the topic."""

    def __init__(self, critical_topic_arn: str, response_plan_arn: str, runbook_url: str) -> None:
        self.critical_topic_arn = critical_topic_arn
        self.response_plan_arn = response_plan_arn
        self.runbook_url = runbook_url
        self.paged: list[str] = []

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, (CloudwatchMetricAlarm, CloudwatchCompositeAlarm)):
            return
        actions = list(node.alarm_actions_input or [])
        if self.critical_topic_arn not in actions or self.response_plan_arn in actions:
            return
        node.alarm_actions = [*actions, self.response_plan_arn]
        link = f" Runbook: {self.runbook_url}"
        description = node.alarm_description_input or node.alarm_name_input or ""
        node.alarm_description = description[:ALARM_DESCRIPTION_MAX - len(link)] + link
        self.paged.append(node.node.path)


class OnCall(Module):
    """Incident Manager contacts, rotation, escalation and response plan.

    Public attributes: ``response_plan`` (escape hatch), ``response_plan_arn``, ``response_plan_name``,
    ``contact_arns`` (alias -> ARN), ``rotation_arn``, ``escalation_plan_arn``, ``replication_set`` (or None),
    ``paging_rules`` (EventBridge rule names that start incidents). Methods: :meth:`page_on`,
    :meth:`alarm_aspect`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: OnCallSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        depends: list[Any] = []
        self.replication_set: SsmincidentsReplicationSet | None = None
        if s.manage_replication_set:
            regions = s.replication_regions or (ctx.region,)
            self.replication_set = SsmincidentsReplicationSet(
                self, "replication-set", region=blocks([{"name": r} for r in regions]),
                tags=tags(ctx, f"{prefix}-incidents", extra))
            depends = [self.replication_set]

        # -- contacts and their engagement plans ---------------------------------------------------------------
        self.contact_arns: dict[str, str] = {}
        for c in s.contacts:
            contact = SsmcontactsContact(self, f"contact-{c.alias}", alias=f"{prefix}-{c.alias}"[:255], type="PERSONAL",
                                         display_name=c.name, depends_on=depends,
                                         tags=tags(ctx, f"{prefix}-{c.alias}", extra))
            self.contact_arns[c.alias] = contact.arn
            channels = []
            for kind, address in (("EMAIL", c.email), ("SMS", c.sms)):
                if address is None:
                    continue
                channels.append(SsmcontactsContactChannel(
                    self, f"contact-{c.alias}-{kind.lower()}", contact_id=contact.arn, name=kind.lower(), type=kind,
                    delivery_address={"simple_address": address}))
            SsmcontactsPlan(self, f"contact-{c.alias}-plan", contact_id=contact.arn, stage=blocks([{
                "duration_in_minutes": 0,
                "target": [{"channel_target_info": {"contact_channel_id": ch.arn,
                                                    "retry_interval_in_minutes": s.retry_minutes}}
                           for ch in channels]}]))

        # -- the rotation ----------------------------------------------------------------------------------------
        hours, minutes = (int(x) for x in s.handoff_time.split(":"))
        recurrence: dict[str, Any] = {"number_of_on_calls": s.on_calls, "recurrence_multiplier": s.every}
        if s.recurrence == "daily":
            recurrence["daily_settings"] = [{"hour_of_day": hours, "minute_of_hour": minutes}]
        else:
            recurrence["weekly_settings"] = [{"day_of_week": s.handoff_day,
                                              "hand_off_time": [{"hour_of_day": hours, "minute_of_hour": minutes}]}]
        start = datetime.fromisoformat(s.rotation_start).astimezone(timezone.utc)
        rotation = SsmcontactsRotation(
            self, "rotation", name=f"{prefix}-primary", time_zone_id=s.time_zone,
            contact_ids=[self.contact_arns[a] for a in s.rotation],
            start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"), recurrence=blocks([recurrence]),
            depends_on=depends, tags=tags(ctx, f"{prefix}-primary", extra))
        self.rotation_arn: str = rotation.arn

        # -- escalation plan -------------------------------------------------------------------------------------
        escalation = SsmcontactsContact(self, "escalation", alias=f"{prefix}-escalation", type="ESCALATION",
                                        display_name=f"{prefix} on-call escalation", depends_on=depends,
                                        tags=tags(ctx, f"{prefix}-escalation", extra))
        self.escalation_plan_arn: str = escalation.arn
        stages = [{"duration_in_minutes": s.engagement_minutes,
                   "target": [{"contact_target_info": {"contact_id": self.contact_arns[a], "is_essential": False}}
                              for a in s.rotation]}]
        if s.escalation:
            stages.append({"duration_in_minutes": 0,
                           "target": [{"contact_target_info": {"contact_id": self.contact_arns[a],
                                                               "is_essential": False}} for a in s.escalation]})
        SsmcontactsPlan(self, "escalation-plan", contact_id=escalation.arn, stage=blocks(stages))

        # -- response plan ---------------------------------------------------------------------------------------
        self.response_plan_name = f"{prefix}-critical"
        summary = (f"Critical alarm or security finding in {prefix}. Runbook: {s.runbook_url} . Security playbooks: "
                   f"{s.playbooks_url.rstrip('/')}/ (guardduty-finding.md, security-hub-finding.md, "
                   "compromised-ec2-instance.md).")
        template = SsmincidentsResponsePlanIncidentTemplate(
            title=f"{prefix}: critical alarm or finding", impact=s.impact, summary=summary[:4000],
            dedupe_string=f"{prefix}-critical", incident_tags={"Environment": prefix, "Runbook": s.runbook_url[:256]},
            notification_target=[SsmincidentsResponsePlanIncidentTemplateNotificationTarget(
                sns_topic_arn=s.notification_topic_arn)] if s.notification_topic_arn is not None else None)
        self.response_plan = SsmincidentsResponsePlan(
            self, "response-plan", name=self.response_plan_name, display_name=f"{prefix} critical",
            incident_template=template, engagements=[escalation.arn],
            depends_on=depends, tags=tags(ctx, self.response_plan_name, {**extra, "Runbook": s.runbook_url[:256]}))
        self.response_plan_arn: str = self.response_plan.arn
        self.paging_rules: list[str] = []
        self._events_role: IamRole | None = None

    def alarm_aspect(self, critical_topic_arn: str) -> PageCriticalAlarms:
        """The aspect that makes every critical alarm of the stack start an incident (see the module docstring)."""
        return PageCriticalAlarms(critical_topic_arn, self.response_plan_arn, self.settings.runbook_url)

    def page_on(self, name: str, rule: CloudwatchEventRule) -> None:
        """Start an incident from the response plan whenever ``rule`` matches: the plan becomes a second target of
        the rule (EventBridge targets Incident Manager response plans with a role allowed ``ssm-incidents:
        StartIncident`` on that plan: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html,
        https://docs.aws.amazon.com/incident-manager/latest/userguide/incident-creation.html)."""
        ctx = self.ctx
        if self._events_role is None:
            self._events_role = IamRole(self, "events-role", name=f"{ctx.name_prefix}-start-incident",
                                        assume_role_policy=assume_role_policy(ctx, "events.amazonaws.com"),
                                        description="EventBridge: start incidents from the critical response plan",
                                        tags=tags(ctx, f"{ctx.name_prefix}-start-incident", self.settings.extra_tags))
            IamRolePolicy(self, "events-policy", name="start-incident", role=self._events_role.id, policy=policy_json(
                {"Sid": "StartIncidentFromTheCriticalPlan", "Effect": "Allow", "Action": "ssm-incidents:StartIncident",
                 "Resource": self.response_plan_arn}))
        CloudwatchEventTarget(self, f"page-{name}", rule=rule.name, target_id="incident-manager",
                              arn=self.response_plan_arn, role_arn=self._events_role.arn)
        self.paging_rules.append(name)
