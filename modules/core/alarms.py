"""The one alarm-topic interface: :class:`AlarmTopics` (severity -> SNS topic ARN), and :func:`metric_alarm`, the
metric alarm with escalation that every construct notifying the alerting topics uses.

The stack layer builds one ``AlarmTopics`` from the alerting module (``modules.stack.mapping.alarm_topics``) and
hands it to every construct that wires alarms; a construct never takes a tuple or a mapping of topic ARNs, nor the
alerting construct itself (tests/test_modules_layout.py). An empty value (``AlarmTopics()``) means "no actions":
every alarm still exists, it just notifies nobody.

Alarm and OK actions name SNS topics by ARN:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import (CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery,
                                                             CloudwatchMetricAlarmMetricQueryMetric)
from constructs import Construct

from modules.core.base import Context, require
from modules.core.helpers import tags

SEVERITIES = ("critical", "warning", "info")
#: CloudWatch limit: evaluation_periods x period of an alarm may span at most one day.
MAX_ALARM_SPAN_SECONDS = 86400


@dataclass(frozen=True)
class AlarmTopics:
    """The topics alarms notify, by severity; all empty: no actions.

    Either every severity has a topic (what the alerting module offers) or none has. ``escalation`` (optional) is
    the second line a critical condition that lasts `escalation_minutes` notifies (:func:`metric_alarm`).
    """

    critical: str | None = None
    warning: str | None = None
    info: str | None = None
    escalation: str | None = None
    """Topic of escalated critical alarms. Default none (no escalation twins)."""
    escalation_minutes: int = 30
    """Minutes a critical alarm stays in ALARM before the escalation topic is notified. Default 30."""

    def __post_init__(self) -> None:
        given = [s for s in SEVERITIES if getattr(self, s)]
        require(not given or len(given) == len(SEVERITIES),
                f"alarm topics: give a topic for every severity ({', '.join(SEVERITIES)}) or for none; got "
                f"{', '.join(given)}")
        require(self.escalation is None or bool(given), "alarm topics: an escalation topic needs the severity topics")
        require(1 <= self.escalation_minutes <= 720,
                f"`escalation_minutes` must be 1..720, got {self.escalation_minutes}")

    def __bool__(self) -> bool:
        return self.critical is not None

    def arn(self, severity: str) -> str:
        """The topic ARN of ``severity`` (there must be topics)."""
        require(severity in SEVERITIES, f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        arn = getattr(self, severity)
        require(arn is not None, f"no alarm topics: no {severity} topic to notify")
        return arn

    def actions(self, severity: str) -> list[str]:
        """The alarm/OK actions of an alarm of ``severity``: its topic, or none when there are no topics."""
        require(severity in SEVERITIES, f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        arn = getattr(self, severity)
        return [arn] if arn else []


def metric_alarm(scope: Construct, id_: str, ctx: Context, topics: AlarmTopics, *, severity: str, alarm_name: str,
                 period: int, evaluation_periods: int, escalate: bool | None = None, notify: bool = True,
                 extra_tags: dict[str, str] | None = None, **kwargs: Any) -> CloudwatchMetricAlarm:
    """A metric alarm notifying the ``severity`` topic on ALARM and OK.

    ``period`` is the alarm's period, or that of its ``metric_query`` metrics (then not passed to the alarm).
    ``escalate`` (default: true for critical, when there is an escalation topic) adds ``<id_>-escalation``: the same
    condition held for `escalation_minutes` longer notifies the escalation topic. ``notify=False`` leaves the alarm
    itself without actions (it then feeds a composite alarm, which notifies), keeping the escalation twin.
    """
    actions = topics.actions(severity) if notify else []
    extra = dict(extra_tags or {})
    has_query = "metric_query" in kwargs
    base = dict(kwargs)
    if has_query:
        base["metric_query"] = metric_queries(base["metric_query"])
    if not has_query:
        base["period"] = period
    alarm = CloudwatchMetricAlarm(scope, id_, alarm_name=alarm_name, evaluation_periods=evaluation_periods,
                                  alarm_actions=actions, ok_actions=actions,
                                  tags=tags(ctx, alarm_name, {**extra, "Severity": severity}), **base)
    if (escalate if escalate is not None else severity == "critical") and topics.escalation is not None:
        minutes = topics.escalation_minutes
        extra_periods = math.ceil(minutes * 60 / period)
        total = evaluation_periods + extra_periods
        require(total * period <= MAX_ALARM_SPAN_SECONDS,
                f"escalation of {alarm_name!r}: {total} x {period}s periods exceed one day; lower "
                "`escalation_minutes` or the alarm period")
        base.pop("datapoints_to_alarm", None)
        CloudwatchMetricAlarm(
            scope, f"{id_}-escalation", alarm_name=f"{alarm_name}-escalation", evaluation_periods=total,
            datapoints_to_alarm=total,
            alarm_description=f"{alarm_name} has been in ALARM for {minutes} minutes: escalated",
            alarm_actions=[topics.escalation], ok_actions=[topics.escalation],
            tags=tags(ctx, f"{alarm_name}-escalation", {**extra, "Severity": "escalation"}),
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
