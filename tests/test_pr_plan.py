"""The pull-request plan (issue 14): `pr-plan` against real state (the emulator acting as the environment's account,
with state in its backend) shows the PR's own diff, and the fork fallback on a fresh emulator says so in its first
line. One small stack (one SSM parameter, the environment's real S3 backend settings): one apply, two plans. The
real path's emulator traffic is checked against the plan role (least privilege, live)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import own_emulator
from tests.fixtures.pr_plan_stack import tiny_stack

ROOT = Path(__file__).resolve().parents[1]


def _stack(path: Path, settings, endpoint: str, value: str) -> Path:  # type: ignore[no-untyped-def]
    path.mkdir(exist_ok=True)
    (path / "cdk.tf.json").write_text(json.dumps(tiny_stack(settings, endpoint, value)))
    return path


@pytest.mark.e2e
def test_real_state_path_and_fork_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict,
                                           synth_aws: dict) -> None:
    from envs.target import Target
    from pipeline.ci_commands import EMULATOR_HEADER, REAL_HEADER, pr_plan
    from pipeline.least_privilege import measure, parse_trace, resolve, role_policies
    from pipeline.run import Pipeline

    dev = settings["dev"]
    build = tmp_path / "build"
    trace = tmp_path / "trace"
    monkeypatch.setenv("PLATFORM_MOTO_TRACE", str(trace))
    with own_emulator(tmp_path / "account") as account:     # the environment's account, main already deployed
        target = Target(kind="local", endpoint=account.endpoint)
        stack = _stack(tmp_path / "stack", dev, account.endpoint, "v1")
        pipe = Pipeline(dev, target, stack, build, say=lambda _: None)
        pipe.bootstrap()
        pipe.init()
        pipe.apply(pipe.plan())
        _stack(stack, dev, account.endpoint, "v2")            # the pull request changes the value
        trace.unlink()
        out = tmp_path / "reports"
        assert pr_plan(dev, target, stack, build, "real", out, say=lambda _: None) == 0
        review = (out / "review-dev.md").read_text()
        assert review.splitlines()[0] == REAL_HEADER.format(env="dev")
        assert "| ~ update | 1 |" in review and "+ create" not in review     # the PR's diff, not "create all"
        assert "✅ **PASSED**" in review and "Estimated monthly cost" in review
        assert json.loads((out / "review-dev.json").read_text())["mode"] == "real"
        assert json.loads((out / "plan-dev.sarif").read_text())["runs"]
        assert json.loads((out / "static-dev.sarif").read_text())["runs"]
        # what the real path did, as IAM actions, against dev's plan role: nothing denied, nothing written
        calls = resolve(parse_trace(trace.read_text().splitlines()), dev.region)
        identity, boundary = role_policies(synth_aws["dev"], "webplatform-dev-ci-plan", dev.account_id)
        report = measure(calls, identity, boundary, "webplatform-dev-ci-plan", "pr-plan (dev)", {})
        assert report.denied == []
        assert {"s3:GetObject", "kms:Decrypt", "ssm:GetParameter"} <= report.used
        assert not {a for a in report.used if a.startswith("s3:Put") or a in ("dynamodb:PutItem",)}  # -lock=false

    monkeypatch.delenv("PLATFORM_MOTO_TRACE")
    with own_emulator(tmp_path / "fresh") as fresh:          # a fork: no role, an empty emulator
        target = Target(kind="local", endpoint=fresh.endpoint)
        stack = _stack(tmp_path / "fork", dev, fresh.endpoint, "v2")
        out = tmp_path / "fork-reports"
        assert pr_plan(dev, target, stack, build, "emulator", out, reason="pull request from a fork",
                       say=lambda _: None) == 0
        review = (out / "review-dev.md").read_text()
        first = review.splitlines()[0]
        assert first == EMULATOR_HEADER.format(env="dev", reason="pull request from a fork")
        assert first.startswith("⚠️ **Emulator plan, not the real state of dev**")
        assert "| + create | 1 |" in review
        assert json.loads((out / "review-dev.json").read_text())["reason"] == "pull request from a fork"


def test_pr_plan_cli_bad_input_and_the_workflow_gates_once() -> None:
    run = subprocess.run([sys.executable, "main.py", "pr-plan", "--env", "nope", "--mode", "real"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no environment 'nope'" in run.stdout + run.stderr
    run = subprocess.run([sys.executable, "main.py", "pr-plan", "--env", "dev", "--mode", "bogus"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "invalid choice" in run.stderr
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text())["jobs"]["plan"]
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert scripts.count("python main.py pr-plan") == 1                    # plan and gate once per environment
    assert "main.py check" not in scripts and "main.py plan" not in scripts and "compliance.cli" not in scripts
    mode = next(s for s in job["steps"] if s.get("id") == "plan")["env"]["MODE"]
    assert mode == "${{ steps.aws.outcome == 'success' && 'real' || 'emulator' }}"
