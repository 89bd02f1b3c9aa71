"""Unit tests of the delivery pieces: plan digests, approval records, partial-apply detection, rollback targets,
promotion lookups, the ephemeral registry and the CLI wiring (S3 through moto in-process)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from pipeline import approvals, recovery
from pipeline.ephemeral import RegistryError, load_registry, remove_entry
from pipeline.promotion import find_passed_run
from pipeline.runlog import RunLog, RunRecord, new_record

BUCKET = "unit-tfstate-111111111111-us-east-1"


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def _plan(after: str = "a", serial_tag: str = "x") -> dict[str, Any]:
    return {"timestamp": serial_tag, "resource_changes": [
        {"address": "aws_vpc.v", "change": {"actions": ["update"], "before": {"tags": {"N": "old"}},
                                            "after": {"tags": {"N": after}}, "after_unknown": {}}}]}


def test_plan_digest_covers_the_changes_not_the_timestamp() -> None:
    assert approvals.plan_digest(_plan("a", "t1")) == approvals.plan_digest(_plan("a", "t2"))
    assert approvals.plan_digest(_plan("a")) != approvals.plan_digest(_plan("b"))
    assert len(approvals.plan_digest(_plan())) == 64


def test_approval_is_verified_for_the_exact_digest(s3: Any) -> None:
    digest = approvals.plan_digest(_plan())
    found, reason = approvals.verify_approval(s3, BUCKET, "prod", digest)
    assert found is None and f"approve --env prod --plan-digest {digest}" in reason
    approvals.record_approval(s3, BUCKET, "prod", digest, "alice")
    found, reason = approvals.verify_approval(s3, BUCKET, "prod", digest, deployer="ci")
    assert found is not None and found.by == "alice" and reason == ""
    other = approvals.plan_digest(_plan("b"))
    assert approvals.verify_approval(s3, BUCKET, "prod", other)[0] is None        # another plan
    assert approvals.verify_approval(s3, BUCKET, "staging", digest)[0] is None    # another environment
    found, reason = approvals.verify_approval(s3, BUCKET, "prod", digest, deployer="alice")
    assert found is None and "a second person" in reason                          # four eyes
    approvals.record_approval(s3, BUCKET, "prod", digest, "bob", hours=0)
    found, reason = approvals.verify_approval(s3, BUCKET, "prod", digest)
    assert found is None and "expired" in reason
    with pytest.raises(approvals.ApprovalError, match="not a sha256"):
        approvals.record_approval(s3, BUCKET, "prod", "abc", "alice")


def _run(status: str, *, kind: str = "deploy", commit: str = "c1", apply: bool = True, before: int | None = 1,
         after: int | None = 2, release: bool = True, failed_gate: str | None = None, i: int = 0) -> RunRecord:
    r = new_record("staging", "local", kind, commit, "ci")
    r.started_at = f"2025-01-01T00:00:{i:02d}.000000Z"
    r.status, r.apply_started, r.failed_gate = status, apply, failed_gate
    r.state_serial_before, r.state_serial_after = before, after
    r.release = {"key": f"releases/staging/{commit}/cdk.tf.json", "version_id": None, "sha256": commit} \
        if release and status == "succeeded" else None
    r.message = "apply failed: `terraform apply` failed\nError: creating Log Group: ResourceAlreadyExistsException"
    return r


def test_partial_apply_detection() -> None:
    good = _run("succeeded", i=1)
    assert recovery.detect([good], 2, "staging") is None
    failed = _run("failed", failed_gate="apply", before=2, after=3, i=2)
    finding = recovery.detect([good, failed], 3, "staging")
    assert finding is not None and finding.severity == "block" and finding.run is failed
    assert "Error: creating Log Group" in finding.message and f"rollback --env staging --to {good.id}" in \
        finding.message and "--recover" in finding.message
    died = _run("applying", before=2, after=None, i=3)
    finding = recovery.detect([good, died], 5, "staging")
    assert finding is not None and finding.severity == "block" and "still says 'applying'" in finding.message
    untouched = _run("failed", failed_gate="apply", before=2, after=2, i=4)
    assert recovery.detect([good, untouched], 2, "staging").severity == "warn"  # type: ignore[union-attr]
    assert recovery.detect([good, failed, _run("succeeded", i=5, before=3, after=4)], 4, "staging") is None
    moved = recovery.detect([good], 7, "staging")
    assert moved is not None and moved.severity == "warn" and "without a completed run record" in moved.message
    plan_only = _run("planned", kind="plan", apply=False, i=6)
    assert recovery.detect([good, plan_only], 2, "staging") is None


def test_rollback_target_selection() -> None:
    r1, r2 = _run("succeeded", commit="c1", i=1), _run("succeeded", commit="c2", i=2)
    assert recovery.rollback_target([r1, r2], None) is r1                       # back from the current release
    failed = _run("failed", commit="c3", failed_gate="apply", i=3)
    assert recovery.rollback_target([r1, r2, failed], None) is r2               # latest apply failed: last good
    assert recovery.rollback_target([r1, r2], r1.id[:6]) is r1
    with pytest.raises(LookupError, match="did not complete a deploy"):
        recovery.rollback_target([r1, r2, failed], failed.id)
    with pytest.raises(LookupError, match="nothing to roll back to"):
        recovery.rollback_target([failed], None)


def test_promotion_needs_a_successful_run_of_the_commit() -> None:
    runs = [_run("succeeded", commit="aaaaaaaaaaaa", i=1), _run("failed", commit="bbbbbbbbbbbb", i=2,
                                                               failed_gate="apply"),
            _run("planned", kind="plan", commit="cccccccccccc", apply=False, i=3)]
    assert find_passed_run(runs, "aaaaaaaaaaaa") is runs[0]
    assert find_passed_run(runs, "aaaaaaaaaaaa0123456789") is runs[0]          # full sha of the same commit
    assert find_passed_run(runs, "bbbbbbbbbbbb") is None                        # failed there
    assert find_passed_run(runs, "cccccccccccc") is None                        # only planned


def test_run_log_and_release_versions(s3: Any) -> None:
    log = RunLog(s3, BUCKET, "staging")
    a, b = _run("succeeded", commit="c1", i=1), _run("succeeded", commit="c1", i=2)
    a.release = log.put_release(a, b'{"v": 1}', "s1")
    b.release = log.put_release(b, b'{"v": 2}', "s2")                          # same commit, other config
    log.save(a)
    log.save(b)
    assert [r.id for r in log.runs()] == [a.id, b.id]
    assert log.get_release(a) == b'{"v": 1}' and log.get_release(b) == b'{"v": 2}'  # by object version
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="releases/staging/c1/release.json")["Body"].read())[
        "run_id"] == b.id


def test_ephemeral_registry(tmp_path: Path) -> None:
    reg = tmp_path / "registry.toml"
    reg.write_text('# header\n[[environment]]\nid = "pr-1"\nenv = "dev"\nenvs_dir = "pr-1"\nowner = "a"\n'
                   'expires = 2020-01-01T00:00:00Z\n\n[[environment]]\nid = "pr-2"\nenv = "dev"\nenvs_dir = "pr-2"\n'
                   'owner = "b"\nexpires = 2999-01-01T00:00:00Z\n')
    entries = load_registry(reg)
    now = dt.datetime.now(dt.timezone.utc)
    assert [e.id for e in entries if e.expired(now)] == ["pr-1"]
    remove_entry(reg, "pr-1")
    assert [e.id for e in load_registry(reg)] == ["pr-2"] and reg.read_text().startswith("# header")
    reg.write_text('[[environment]]\nid = "x"\nenv = "dev"\nenvs_dir = "x"\nowner = "a"\nexpires = 2020-01-01\n')
    with pytest.raises(RegistryError, match="datetime with a zone"):
        load_registry(reg)


def test_cli_has_the_delivery_commands() -> None:
    from main import build_parser

    p = build_parser()
    assert p.parse_args(["deploy", "--env", "dev", "--recover"]).recover is True
    assert p.parse_args(["drift", "--env", "dev", "--correct"]).correct is True
    assert p.parse_args(["rollback", "--env", "dev", "--to", "abc"]).to == "abc"
    args = p.parse_args(["promote", "--from", "staging", "--to", "prod"])
    assert (args.source, args.to) == ("staging", "prod")
    assert p.parse_args(["approve", "--env", "prod", "--plan-digest", "d", "--by", "x"]).by == "x"
    assert p.parse_args(["env", "sync", "--from", "prod", "--to", "staging"]).source == "prod"
    assert p.parse_args(["cleanup", "--expired"]).expired is True
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["cleanup"])
    assert exc.value.code == 2


# -- the orchestrator stops at each gate ----------------------------------------------------------------------------
# The gate order, the stop at the first failure, the run record and the report, for every gate; the end-to-end
# tests (test_orchestrator_e2e.py) drive the real gates on the emulator: settings, static gate, apply, recovery,
# plan gate (stateful guard), approval.
GATE_METHODS = {"recovery": "_recovery_gate", "synth": "_synth", "init": "_init",
                "static-gate": "_static_gate", "plan": "_plan", "plan-gate": "_plan_gate",
                "approval": "_approval_gate", "apply": "_apply", "verify": "_verify", "re-plan": "_replan"}


@pytest.mark.parametrize("gate", list(GATE_METHODS))
def test_the_run_stops_at_the_first_failed_gate_and_records_it(gate: str, s3: Any, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from envs.target import AWS
    from pipeline import orchestrator
    from pipeline.run import PipelineError, PlanOutcome

    o = orchestrator.DeploymentOrchestrator
    settings = orchestrator.synth_mod.load_settings(["dev"])["dev"]
    s3.create_bucket(Bucket=settings.state_bucket)
    called: list[str] = []

    def step(name: str, value: Any = None) -> Any:
        def run(self: Any, *args: Any) -> Any:
            called.append(name)
            if name == gate:
                raise PipelineError(f"{name} said no", 1)
            return value
        return run

    outcome = PlanOutcome(Path("tfplan"), Path("tfplan.json"), has_changes=True, plan={"resource_changes": []})
    values = {"recovery": "", "synth": Path("cdk.tf.json"), "plan": outcome}
    for name, method in GATE_METHODS.items():
        monkeypatch.setattr(o, method, step(name, values.get(name)))
    monkeypatch.setattr(o, "_start_target", lambda self: AWS)
    monkeypatch.setattr(o, "_store_release", lambda self, stack_json: called.append("release"))
    lines: list[str] = []
    run = o(orchestrator.RunOptions(env="dev", target="aws", who="unit"), say=lines.append)

    with pytest.raises(orchestrator.GateFailed) as exc:
        run.run()

    order = list(GATE_METHODS)
    assert exc.value.gate == gate and called == order[:order.index(gate) + 1]  # nothing after the failed gate
    (record,) = RunLog(s3, settings.state_bucket, "dev").runs()
    assert record.failed_gate == gate and record.who == "unit" and gate in record.message
    assert record.status == ("failed" if gate in ("apply", "verify", "re-plan") else "blocked")
    assert [s.name for s in record.steps][-1] == gate and record.steps[-1].status == "blocked"
    assert f"STOPPED at gate '{gate}'" in "\n".join(lines)
    assert all(f"{g:<12} not run" in "\n".join(lines) for g in order[order.index(gate) + 1:])
