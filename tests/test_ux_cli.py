"""Issue 17: the gate's text summary people read, ``--version``, the program name in help, and ``--format json`` on
plan/deploy/drift/release (machine-readable result on stdout, human output on stderr)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main
from compliance.gate import Gate
from compliance.report import policy_in_force, render
from pipeline import machine
from pipeline.runlog import RunRecord

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "compliance" / "fixtures"


@pytest.fixture(scope="module")
def results():
    return [Gate(None, run_checkov=False).scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"]),
            Gate("dev", run_checkov=False).scan_plan([FX / "PLAT_SEC_001" / "tfplan.json",
                                                      FX / "PLAT_GUARD_STATEFUL" / "tfplan.json"])]


def test_text_report_says_the_verdict_first_then_one_line_per_check(results) -> None:
    text = render(results, "text")
    lines = text.splitlines()
    assert lines[0] == "BLOCKED: static gate, no environment given: policy prod (the strictest)"
    plan_head = next(i for i, line in enumerate(lines) if line.startswith("BLOCKED: plan gate"))
    assert lines[plan_head] == "BLOCKED: plan gate, environment dev (policy dev)"
    # one line per check, with its counts: PLAT_SEC_001 has three blocking findings in each result
    sec = [line for line in lines if line.strip().startswith("PLAT_SEC_001")]
    assert len(sec) == 2 and all("3 blocking" in line for line in sec)
    assert any(line.strip().startswith("PLAT_S3_001") and "1 warnings" in line for line in lines)
    # no per-resource lines without --verbose, and the way to get them is said
    assert "aws_ssm_parameter.fail_access_key" not in text
    assert "per-resource findings: --verbose" in text
    assert lines[-1] == "exit code 1"
    verbose = render(results, "text", verbose=True)
    assert "aws_ssm_parameter.fail_access_key" in verbose and len(verbose.splitlines()) > len(lines)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_policy_in_force_is_named_plainly_in_every_format(results, fmt: str) -> None:
    out = render(results, fmt)
    assert "(none:" not in out and "none: " not in out
    if fmt == "json":
        static, plan = json.loads(out)["results"]
        assert static["environment"] is None and static["policy"] == "prod"
        assert static["policy_in_force"] == "no environment given: policy prod (the strictest)"
        assert plan["policy_in_force"] == "environment dev (policy dev)"
    else:
        assert "no environment given: policy prod (the strictest)" in out
        assert "environment dev (policy dev)" in out


def test_policy_in_force_is_named_plainly_for_several_environments() -> None:
    files = {str(FX / "PLAT_SEC_001" / "cdk.tf.json"): "dev",
             str(FX / "PLAT_ENC_004" / "cdk.tf.json"): "staging"}
    gate = Gate(None, run_checkov=False, file_environments=files)
    r = gate.scan_tf_json([Path(f) for f in files])
    assert policy_in_force(r) == "environments dev, staging (each under its own policy)"
    text = render([r], "text")
    assert text.splitlines()[0].endswith("environments dev, staging (each under its own policy)")
    assert "(none:" not in text
    # each check line names the environments it touched
    lines = {line.split()[0]: line for line in text.splitlines()[3:-2]}
    assert "3 blocking [dev]" in lines["PLAT_SEC_001"]
    assert "2 blocking, 1 warnings [dev, staging]" in lines["PLAT_ENC_004"]
    # one environment's stacks judged under its policy (what the cdktf app and `check` without --env scan)
    one = Gate(None, run_checkov=False, file_environments={str(FX / "PLAT_SEC_001" / "cdk.tf.json"): "dev"})
    assert policy_in_force(one.scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"])) == "environment dev (policy dev)"


def _run(*args: str, argv0: str = "main.py") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_version_and_program_name() -> None:
    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"platform-iac {main.version()}"
    assert main.program_name("/usr/local/bin/platform-iac") == "platform-iac"
    assert main.program_name("main.py") == "python main.py"
    assert main.build_parser("platform-iac").format_usage().startswith("usage: platform-iac ")
    assert "usage: python main.py" in _run("--help").stdout


def test_deploy_format_json_bad_input_is_one_json_document_on_stdout(tmp_path: Path) -> None:
    proc = _run("--envs-dir", str(tmp_path), "deploy", "--env", "nosuch", "--format", "json")
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)  # stdout holds the document only; the gate report went to stderr
    assert doc["schema"] == "platform-iac-result/v1" and doc["command"] == "deploy"
    assert doc["verdict"] == "bad-input" and doc["exit_code"] == 2 and doc["env"] == "nosuch"
    assert "error:" in proc.stderr


def test_result_document_carries_the_run_record_gate_counts_and_paths(tmp_path: Path) -> None:
    record = RunRecord(id="r1", env="dev", target="local", kind="deploy", commit="abc", who="me",
                       started_at="2026-01-01T00:00:00Z", status="blocked", plan_digest="d" * 64,
                       failed_gate="plan-gate")
    record.gates["plan-gate"] = {"verdict": "BLOCKED", "exit_code": 1, "passed": 10, "failed": 3, "waived": 1,
                                 "errors": [], "blocking": [{"check": "PLAT_SEC_001", "resource": "a.b"}] * 2}
    (tmp_path / "cdk.tf.json").write_text("{}")
    (tmp_path / "review.md").write_text("#")

    class Orchestrator:  # the attributes machine.result reads off a DeploymentOrchestrator
        pass

    orchestrator = Orchestrator()
    orchestrator.record = record
    orchestrator.pipe = type("P", (), {"stack_dir": tmp_path})()
    machine.facts.clear()
    machine.facts["orchestrator"] = orchestrator
    args = main.build_parser().parse_args(["deploy", "--env", "dev", "--format", "json"])
    doc = machine.result(args, 1)
    assert doc["verdict"] == "blocked" and doc["run"]["failed_gate"] == "plan-gate"
    assert doc["counts"] == {"blocking": 2, "failed": 3, "waived": 1, "passed": 10}
    assert doc["paths"] == {"stack": str(tmp_path / "cdk.tf.json"), "review": str(tmp_path / "review.md")}
    json.dumps(doc)
