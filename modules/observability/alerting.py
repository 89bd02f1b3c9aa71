"""Alerting: one SNS topic per severity (critical, warning, info) plus an escalation topic, KMS-encrypted, with
email / HTTPS subscriptions.

Constructs do not take this module: the stack layer turns it into the one alarm-topic interface,
:class:`modules.core.alarms.AlarmTopics` (``modules.stack.mapping.alarm_topics``), and alarms with escalation are
made by :func:`modules.core.alarms.metric_alarm`. Escalation: a critical alarm gets a twin that watches the same
condition over `escalation_minutes` more of evaluation periods (every one of them breaching) and notifies the
escalation topic; so a critical condition that lasts N minutes re-notifies a second line, and one that clears early
does not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct


from modules.core.alarms import SEVERITIES
from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, tags

TOPICS = SEVERITIES + ("escalation",)
PROTOCOLS = ("email", "https")


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
    ``escalation_topic_arn``, ``escalation_minutes`` (what ``modules.stack.mapping.alarm_topics`` reads).
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
