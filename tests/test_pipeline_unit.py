"""Pipeline logic on plan JSON: what counts as drift, and what a re-plan after apply may still show."""
from __future__ import annotations

from typing import Any

from envs.target import AWS, Target
from pipeline.run import drift_report, drifted_resources, unexpected_changes

LOCAL = Target(kind="local", endpoint="http://127.0.0.1:1")


def drift_plan(*drift: dict[str, Any], configured: dict[str, list[str]]) -> dict[str, Any]:
    return {"configuration": {"root_module": {"resources": [
        {"address": address, "expressions": {name: {} for name in names}} for address, names in configured.items()]}},
        "resource_drift": list(drift)}


def change(address: str, before: dict[str, Any], after: dict[str, Any] | None, actions=("update",)) -> dict:
    return {"address": address, "type": address.split(".")[0],
            "change": {"actions": list(actions), "before": before, "after": after}}


def test_drift_counts_configured_attributes_tags_and_deletions_only() -> None:
    plan = drift_plan(
        change("aws_vpc.main", {"cidr_block": "10.0.0.0/16", "tags": {"Name": "a"}, "arn": "x"},
               {"cidr_block": "10.0.0.0/16", "tags": {"Name": "b"}, "arn": "y"}),
        change("aws_iam_role.r", {"inline_policy": None, "name": "r"}, {"inline_policy": [], "name": "r"}),
        change("aws_route_table.rt", {"route": []}, {"route": [{"cidr_block": "0.0.0.0/0"}]}),
        change("aws_s3_bucket.gone", {"bucket": "b"}, None, actions=("delete",)),
        change("aws_cloudwatch_metric_alarm.a", {"ok_actions": None, "alarm_actions": ["t"]},
               {"ok_actions": [], "alarm_actions": ["t"]}),
        configured={"aws_vpc.main": ["cidr_block", "tags"], "aws_iam_role.r": ["name"],
                    "aws_route_table.rt": ["vpc_id"], "aws_s3_bucket.gone": ["bucket"],
                    "aws_cloudwatch_metric_alarm.a": ["ok_actions", "alarm_actions"]})
    drifted = {d["address"]: d["drifted_attributes"] for d in drifted_resources(plan)}
    assert drifted == {"aws_vpc.main": ["tags"], "aws_s3_bucket.gone": ["(deleted)"]}
    report = drift_report(drifted_resources(plan), "markdown")
    assert "| `aws_vpc.main` | update | `tags` |" in report and "2 resource(s)" in report
    assert drift_report([], "text").strip() == "no drift"


def test_drift_ignores_documented_emulator_read_back_differences_only_when_asked() -> None:
    plan = drift_plan(change("aws_db_instance.db", {"performance_insights_enabled": True},
                             {"performance_insights_enabled": False}),
                      configured={"aws_db_instance.db": ["performance_insights_enabled"]})
    assert [d["address"] for d in drifted_resources(plan)] == ["aws_db_instance.db"]
    assert drifted_resources(plan, {"aws_db_instance": ("performance_insights_enabled",)}) == []


def replan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"resource_changes": list(changes)}


def rc(address: str, actions: list[str], before=None, after=None, unknown=None) -> dict[str, Any]:
    return {"address": address, "type": address.split(".")[0],
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


def test_replan_allow_list_applies_to_the_local_target_and_listed_attributes_only() -> None:
    plan = replan(
        rc("aws_kms_key.k", ["update"], {"rotation_period_in_days": 0}, {"rotation_period_in_days": 365}),
        rc("aws_vpc.v", ["no-op"], {}, {}),
        rc("aws_lb.alb", ["update"], {"idle_timeout": 60}, {"idle_timeout": 30}),
        rc("aws_db_instance.db", ["delete", "create"], {}, {}),
        rc("aws_launch_template.lt", ["update"], {"network_interfaces": [{"a": 1}]}, {"network_interfaces": [{"a": 1}]},
           {"network_interfaces": [{"a": False}], "latest_version": True}),
        rc("aws_autoscaling_group.g", ["update"], {"tag": [1]}, {"tag": [1]}, {"tag": [False, False]}),
    )
    local = unexpected_changes(plan, LOCAL)
    assert local == ["aws_lb.alb: update ['idle_timeout']", "aws_db_instance.db: delete/create"]
    on_aws = unexpected_changes(plan, AWS)
    assert on_aws == ["aws_kms_key.k: update ['rotation_period_in_days']", "aws_lb.alb: update ['idle_timeout']",
                      "aws_db_instance.db: delete/create", "aws_launch_template.lt: update ['latest_version']"]
    assert not any(p.startswith("aws_autoscaling_group.g") for p in on_aws), "lists of False are not unknowns"


class _Terraform:
    """The runner's plan/show pair with a canned answer, recording the commands run."""

    def __init__(self, has_changes: bool, plan: dict[str, Any]) -> None:
        self.has_changes, self.shown, self.calls = has_changes, plan, []

    def plan(self, planfile: Any) -> bool:
        self.calls.append("plan")
        return self.has_changes

    def show_json(self, planfile: Any) -> dict[str, Any]:
        self.calls.append("show")
        return self.shown


def _verifier(tf: _Terraform, target: Target, tmp_path: Any) -> Any:
    from types import SimpleNamespace

    from pipeline.run import Pipeline

    pipe = object.__new__(Pipeline)
    pipe.settings, pipe.target, pipe.stack_dir, pipe.tf = SimpleNamespace(name="dev"), target, tmp_path, tf
    pipe.say = lambda *_: None
    return pipe


def test_an_empty_replan_reads_no_plan_json_and_a_changed_one_is_judged(tmp_path: Any) -> None:
    import pytest

    from pipeline.run import PipelineError

    drifting = replan(rc("aws_lb.alb", ["update"], {"idle_timeout": 60}, {"idle_timeout": 30}))
    empty = _Terraform(False, drifting)  # exit 0: the JSON is never read, whatever it would say
    _verifier(empty, AWS, tmp_path).verify_no_changes()
    assert empty.calls == ["plan"]

    changed = _Terraform(True, drifting)
    with pytest.raises(PipelineError, match=r"re-plan after apply is not empty:\n  aws_lb.alb: update \['idle_timeout'\]"):
        _verifier(changed, AWS, tmp_path).verify_no_changes()
    assert changed.calls == ["plan", "show"]

    allowed = _Terraform(True, replan(rc("aws_kms_key.k", ["update"], {"rotation_period_in_days": 0},
                                         {"rotation_period_in_days": 365})))
    _verifier(allowed, LOCAL, tmp_path).verify_no_changes()  # exit 2, but only a documented emulator diff
    assert allowed.calls == ["plan", "show"]
