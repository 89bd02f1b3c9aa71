"""The one alarm-topic interface (modules/core/alarms.py): severity -> topic ARN, empty meaning "no actions"."""
from __future__ import annotations

import json

import pytest
import cdktf
from cdktf import App, TerraformStack

from envs.target import AWS
from modules.core.alarms import AlarmTopics, metric_alarm
from modules.core.base import Context, ModuleSettingsError

TOPICS = AlarmTopics(critical="arn:c", warning="arn:w", info="arn:i", escalation="arn:e", escalation_minutes=10)


def test_actions_by_severity_and_none_without_topics() -> None:
    assert [TOPICS.actions(s) for s in ("critical", "warning", "info")] == [["arn:c"], ["arn:w"], ["arn:i"]]
    assert TOPICS.arn("warning") == "arn:w" and bool(TOPICS)
    empty = AlarmTopics()
    assert not empty and empty.actions("critical") == [] and empty.actions("info") == []
    with pytest.raises(ModuleSettingsError, match="no critical topic"):
        empty.arn("critical")
    with pytest.raises(ModuleSettingsError, match="severity must be one of critical, warning, info, got 'page'"):
        TOPICS.actions("page")


def test_partial_topics_are_rejected() -> None:
    with pytest.raises(ModuleSettingsError, match="every severity"):
        AlarmTopics(critical="arn:c")
    with pytest.raises(ModuleSettingsError, match="escalation topic needs the severity topics"):
        AlarmTopics(escalation="arn:e")
    with pytest.raises(ModuleSettingsError, match="`escalation_minutes` must be 1..720"):
        AlarmTopics(critical="a", warning="b", info="c", escalation_minutes=0)


def _alarms(topics: AlarmTopics, **kwargs) -> dict:
    stack = TerraformStack(App(), "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="1", partition="aws", target=AWS)
    metric_alarm(stack, "x", ctx, topics, alarm_name="p-t-x", period=60, evaluation_periods=2, threshold=1,
                 comparison_operator="GreaterThanThreshold", namespace="N", metric_name="M", statistic="Sum",
                 **kwargs)
    doc = json.loads(cdktf.Testing.synth(stack))
    return {a["alarm_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}


def test_critical_alarm_escalates_to_the_second_line() -> None:
    alarms = _alarms(TOPICS, severity="critical")
    assert alarms["p-t-x"]["alarm_actions"] == alarms["p-t-x"]["ok_actions"] == ["arn:c"]
    twin = alarms["p-t-x-escalation"]
    assert twin["alarm_actions"] == ["arn:e"] and twin["evaluation_periods"] == 2 + 10
    assert twin["datapoints_to_alarm"] == 12 and twin["tags"]["Severity"] == "escalation"


def test_warning_alarm_and_alarms_without_topics() -> None:
    assert set(_alarms(TOPICS, severity="warning")) == {"p-t-x"}
    quiet = _alarms(AlarmTopics(), severity="critical")
    assert set(quiet) == {"p-t-x"} and quiet["p-t-x"].get("alarm_actions", []) == []


def _slo(target) -> dict:
    """An SLO module (two composite alarms over window alarms) with the stack layer's variant for ``target``."""
    from modules.observability.slo import Slo, SloSettings
    from modules.stack.local_variant import apply_local_variant

    stack = TerraformStack(App(), "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="1", partition="aws", target=target)
    Slo(stack, "slo", ctx, SloSettings(namespace="Platform/p-t"), TOPICS)
    apply_local_variant(stack, target)
    return json.loads(cdktf.Testing.synth(stack))["resource"]


def test_window_alarms_notify_in_place_of_a_composite_the_target_lacks() -> None:
    """Composite alarms are left out of the local variant (the emulator has none); the window alarms that fed them
    then carry their actions, so a burning error budget still notifies. On aws the window alarms notify nobody."""
    from envs.target import Target

    aws = _slo(AWS)
    assert len(aws["aws_cloudwatch_composite_alarm"]) == 2
    windows = {a["alarm_name"]: a for a in aws["aws_cloudwatch_metric_alarm"].values() if "burn" in a["alarm_name"]
               and not a["alarm_name"].endswith("escalation")}
    assert len(windows) == 4 and all(not a.get("alarm_actions") for a in windows.values())

    local = _slo(Target(kind="local", endpoint="http://127.0.0.1:4566"))
    assert "aws_cloudwatch_composite_alarm" not in local
    windows = {a["alarm_name"]: a for a in local["aws_cloudwatch_metric_alarm"].values() if "burn" in a["alarm_name"]
               and not a["alarm_name"].endswith("escalation")}
    assert {n: (a["alarm_actions"], a["ok_actions"]) for n, a in windows.items()} == {
        "p-t-slo-fast-burn-1h": (["arn:c"], ["arn:c"]), "p-t-slo-fast-burn-5m": (["arn:c"], ["arn:c"]),
        "p-t-slo-slow-burn-6h": (["arn:w"], ["arn:w"]), "p-t-slo-slow-burn-30m": (["arn:w"], ["arn:w"])}
