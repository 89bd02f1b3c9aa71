"""Alerting: one SNS topic per severity (critical, warning, info) plus an escalation topic, KMS-encrypted, with
email / HTTPS subscriptions, and a helper that creates alarms with escalation.

Escalation: a critical alarm gets a twin that watches the same condition over `escalation_minutes` more of
evaluation periods (every one of them breaching) and notifies the escalation topic; so a critical condition that
lasts N minutes re-notifies a second line, and one that clears early does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery,
                                                             CloudwatchMetricAlarmMetricQueryMetric)
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct


from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, tags

SEVERITIES = ("critical", "warning", "info")
TOPICS = SEVERITIES + ("escalation",)
PROTOCOLS = ("email", "https")
#: CloudWatch limit: evaluation_periods x period of an alarm may span at most one day.
MAX_ALARM_SPAN_SECONDS = 86400


@dataclass(frozen=True)
class Subscription:
    """One subscriber of a topic."""

    protocol: str
    """``email`` or ``https``."""
    endpoint: str
    """The email address or https:// URL."""


@dataclass(frozen=True)
class AlertingSettings:
    """Inputs of :class:`Alerting`."""

    kms_key_arn: str
    """KMS key encrypting every topic (the environment's ``alerts`` key). Required."""
    subscriptions: dict[str, tuple[Subscription, ...]] = field(default_factory=dict)
    """Topic (critical, warning, info, escalation) -> subscribers. Default: none."""
    escalation_minutes: int = 30
    """Minutes a critical alarm stays in ALARM before the escalation topic is notified. Default 30."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(bool(self.kms_key_arn), "`kms_key_arn` is required: topics are always encrypted")
        unknown = set(self.subscriptions) - set(TOPICS)
        require(not unknown, f"`subscriptions` names unknown topics {sorted(unknown)}; use {', '.join(TOPICS)}")
        for topic, subs in self.subscriptions.items():
            for sub in subs:
                require(sub.protocol in PROTOCOLS,
                        f"`subscriptions` [{topic}]: protocol {sub.protocol!r} is not one of {', '.join(PROTOCOLS)}")
                require(sub.protocol != "https" or sub.endpoint.startswith("https://"),
                        f"`subscriptions` [{topic}]: https endpoint {sub.endpoint!r} must start with https://")
        require(1 <= self.escalation_minutes <= 720, f"`escalation_minutes` must be 1..720, got {self.escalation_minutes}")


class Alerting(Module):
    """SNS topics by severity.

    Public attributes: ``topics`` (name -> SnsTopic, escape hatch), ``topic_arns`` (critical/warning/info -> ARN),
    ``escalation_topic_arn``, ``escalation_minutes``. Helpers: :meth:`actions`, :meth:`alarm`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: AlertingSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        self.escalation_minutes = settings.escalation_minutes
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.topics: dict[str, SnsTopic] = {}
        for name in TOPICS:
            topic = SnsTopic(self, f"topic-{name}", name=f"{prefix}-alerts-{name}",
                             display_name=f"{prefix} {name} alerts", kms_master_key_id=settings.kms_key_arn,
                             tags=tags(ctx, f"{prefix}-alerts-{name}", {**extra, "Severity": name}))
            self.topics[name] = topic
            # Who may publish: the account itself, and CloudWatch / EventBridge / Budgets / Cost Anomaly Detection
            # on behalf of this account only.
            SnsTopicPolicy(self, f"topic-{name}-policy", arn=topic.arn, policy=policy_json(
                {
                    "Sid": "AccountOwner",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
                    "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes", "SNS:ListSubscriptionsByTopic"],
                    "Resource": topic.arn,
                },
                {
                    "Sid": "AwsServicesOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com",
                                              "budgets.amazonaws.com", "costalerts.amazonaws.com"]},
                    "Action": "SNS:Publish",
                    "Resource": topic.arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "SNS:Publish",
                    "Resource": topic.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ))
            for i, sub in enumerate(settings.subscriptions.get(name, ())):
                SnsTopicSubscription(self, f"topic-{name}-sub-{i}", topic_arn=topic.arn, protocol=sub.protocol,
                                     endpoint=sub.endpoint,
                                     endpoint_auto_confirms=False if sub.protocol == "https" else None)
        self.topic_arns: dict[str, str] = {s: self.topics[s].arn for s in SEVERITIES}
        self.escalation_topic_arn: str = self.topics["escalation"].arn

    def actions(self, severity: str) -> list[str]:
        """Alarm/OK actions for ``severity``."""
        require(severity in SEVERITIES, f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        return [self.topic_arns[severity]]

    def alarm(self, scope: Construct, id_: str, *, severity: str, alarm_name: str, period: int,
              evaluation_periods: int, escalate: bool | None = None, notify: bool = True,
              **kwargs: Any) -> CloudwatchMetricAlarm:
        """A metric alarm notifying the ``severity`` topic on ALARM and OK.

        ``period`` is the alarm's period, or that of its ``metric_query`` metrics (then not passed to the alarm).
        ``escalate`` (default: true for critical) adds ``<id_>-escalation``: the same condition held for
        `escalation_minutes` longer notifies the escalation topic. ``notify=False`` leaves the alarm itself without
        actions (it then feeds a composite alarm, which notifies), keeping the escalation twin.
        """
        actions = self.actions(severity) if notify else []
        has_query = "metric_query" in kwargs
        base = dict(kwargs)
        if has_query:
            base["metric_query"] = metric_queries(base["metric_query"])
        if not has_query:
            base["period"] = period
        alarm = CloudwatchMetricAlarm(scope, id_, alarm_name=alarm_name, evaluation_periods=evaluation_periods,
                                      alarm_actions=actions, ok_actions=actions,
                                      tags=tags(self.ctx, alarm_name, {**self.settings.extra_tags,
                                                                       "Severity": severity}), **base)
        if escalate if escalate is not None else severity == "critical":
            extra_periods = math.ceil(self.escalation_minutes * 60 / period)
            total = evaluation_periods + extra_periods
            require(total * period <= MAX_ALARM_SPAN_SECONDS,
                    f"escalation of {alarm_name!r}: {total} x {period}s periods exceed one day; lower "
                    "`escalation_minutes` or the alarm period")
            base.pop("datapoints_to_alarm", None)
            CloudwatchMetricAlarm(
                scope, f"{id_}-escalation", alarm_name=f"{alarm_name}-escalation", evaluation_periods=total,
                datapoints_to_alarm=total,
                alarm_description=f"{alarm_name} has been in ALARM for {self.escalation_minutes} minutes: escalated",
                alarm_actions=[self.escalation_topic_arn], ok_actions=[self.escalation_topic_arn],
                tags=tags(self.ctx, f"{alarm_name}-escalation", {**self.settings.extra_tags,
                                                                 "Severity": "escalation"}),
                **{k: v for k, v in base.items() if k != "alarm_description"})
        return alarm


def metric_queries(queries: list[Any]) -> list[Any]:
    """``metric_query`` entries given as plain dicts (snake_case keys, ``metric`` a dict) as provider structs."""
    out = []
    for q in queries:
        if isinstance(q, dict):
            q = dict(q)
            if isinstance(q.get("metric"), dict):
                q["metric"] = CloudwatchMetricAlarmMetricQueryMetric(**q["metric"])
            q = CloudwatchMetricAlarmMetricQuery(**q)
        out.append(q)
    return out
