"""The deployment orchestrator end to end on the local target, through the real CLI.

Small test-only environments (tests/envs/delivery: project ``dlvtest``, a network, its flow-log group and the
access-log bucket; staging and a protected prod), deployed to an emulator of their own so the shared dev deployment
is never touched. Every gate runs as in production, Checkov included. In order: bad settings (exit 2), the static gate
stopped by an expired waiver, a failed apply (the flow-log group created out of band makes the apply fail midway)
detected by the next run and recovered with ``--recover``, drift detected and corrected, a new release (the
application bucket, tests/envs/delivery-v2) then a rollback that the stateful guard stops until the bucket's deletion
is approved, a promotion refused for an untested commit, the approval gate of a protected environment and the
``approve`` command, and last the cleanup of the environment as an expired ephemeral one (its teardown).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, own_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PROJECT, REGION = "dlvtest", "us-east-1"
STAGING_BUCKET = f"{PROJECT}-tfstate-444444444444-{REGION}"
C1, C2, UNTESTED = "c1c1c1c1c1c1", "c2c2c2c2c2c2", "deadbeef0000"
FLOW_LOG_GROUP = f"/vpc/{PROJECT}-staging/flow-logs"
APP_BUCKET = f"{PROJECT}-staging-app-"  # + account + region
TEST_ENVS = ROOT / "tests" / "envs"


def _dump(doc: dict[str, Any], prefix: str = "") -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    scalars = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(_dump(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(out) + "\n"


@dataclass
class Delivery:
    root: Path
    v1: Path            # tests/envs/delivery: staging + prod
    v2: Path            # tests/envs/delivery-v2: staging with the application bucket
    endpoint: str

    def run(self, *args: str, commit: str = C1, envs: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PLATFORM_COMMIT": commit, "PLATFORM_ACTOR": "ci-deployer",
               "PLATFORM_BUILD_DIR": str(self.root / ".build")}
        return subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs or self.v1), *args],
                              cwd=self.root, capture_output=True, text=True, timeout=1800, env=env)

    def client(self, service: str) -> Any:
        from pipeline.aws import client

        return client(service, REGION, self.endpoint)

    def runs(self, env: str = "staging", bucket: str = STAGING_BUCKET) -> list[dict[str, Any]]:
        s3 = self.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{env}/").get("Contents", []))
        return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]

    def vpcs(self) -> list[dict[str, Any]]:
        return self.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name",
                                                          "Values": [f"{PROJECT}-staging-vpc"]}])["Vpcs"]


@pytest.fixture(scope="module")
def delivery(workspace: Path) -> Any:
    """An emulator of its own: one emulated account holds one environment's account-level singletons (a Config
    recorder, a CloudTrail trail), as each real environment has its own account; the shared dev deployment lives in
    the session's emulator."""
    root = workspace / "delivery"
    with own_emulator(root / ".build" / "local") as emulator:
        yield _delivery(root, emulator.endpoint)


def _delivery(root: Path, endpoint: str) -> Delivery:
    """Copies of the test environments beside the registry the cleanup test writes (its ``envs_dir`` is relative)."""
    v1, v2 = root / "envs-v1", root / "envs-v2"
    shutil.copytree(TEST_ENVS / "delivery", v1, ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(TEST_ENVS / "delivery-v2", v2, ignore=shutil.ignore_patterns("*.md"))
    return Delivery(root, v1, v2, endpoint)


def bucket_exists(delivery: Delivery, prefix: str) -> bool:
    return any(b["Name"].startswith(prefix) for b in delivery.client("s3").list_buckets()["Buckets"])


def _out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-4000:]}"


def test_bad_settings_stop_at_the_settings_gate_with_exit_2(delivery: Delivery, tmp_path: Path) -> None:
    (tmp_path / "staging.toml").write_text((delivery.v1 / "staging.toml").read_text()
                                           .replace("az_count = 2", "az_count = 0"))
    result = delivery.run("deploy", "--env", "staging", envs=tmp_path)
    assert result.returncode == 2, _out(result)
    assert "bad settings" in result.stderr and "network.az_count" in result.stderr
    assert "STOPPED at gate 'settings'" in result.stdout and "synth        not run" in result.stdout


def test_static_gate_stops_the_run_on_an_expired_waiver(delivery: Delivery, tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text('[[waiver]]\ncheck = "CKV_AWS_18"\nresource = "aws_s3_bucket.*"\nreason = "old exception"\n'
                       'owner = "platform-team"\nexpires = 2020-01-01\n')
    result = delivery.run("deploy", "--env", "staging", "--waivers", str(waivers))
    assert result.returncode == 1, _out(result)
    assert "static gate blocked staging" in result.stderr and "PLAT_WAIVER_INVALID" in result.stderr
    assert "STOPPED at gate 'static-gate'" in result.stdout and "plan         not run" in result.stdout
    (record,) = delivery.runs()
    assert record["status"] == "blocked" and record["failed_gate"] == "static-gate" and record["commit"] == C1
    assert record["gates"]["static"]["verdict"] == "BLOCKED" and record["who"] == "ci-deployer"
    assert [s["name"] for s in record["steps"]][:6] == ["settings", "target", "recovery", "synth", "validate",
                                                        "static-gate"]


def test_failed_apply_is_detected_by_the_next_run_and_recovered(delivery: Delivery) -> None:
    logs = delivery.client("logs")
    logs.create_log_group(logGroupName=FLOW_LOG_GROUP)  # out of band: the apply's CreateLogGroup will fail
    failed = delivery.run("deploy", "--env", "staging")
    assert failed.returncode == 1, _out(failed)
    assert "STOPPED at gate 'apply'" in failed.stdout and "partial apply" in failed.stderr
    assert "ResourceAlreadyExistsException" in failed.stderr or "already exists" in failed.stderr
    record = delivery.runs()[-1]
    assert record["status"] == "failed" and record["apply_started"] and record["state_serial_after"]
    failed_id = record["id"]

    detected = delivery.run("deploy", "--env", "staging")
    assert detected.returncode == 1, _out(detected)
    assert f"partial apply detected: run {failed_id}" in detected.stdout
    assert "--recover" in detected.stdout and "rollback --env staging" in detected.stdout
    assert "STOPPED at gate 'recovery'" in detected.stdout and "synth        not run" in detected.stdout

    logs.delete_log_group(logGroupName=FLOW_LOG_GROUP)  # the cause fixed: converge forward
    recovered = delivery.run("deploy", "--env", "staging", "--recover")
    assert recovered.returncode == 0, _out(recovered)
    assert "[staging] deployed" in recovered.stdout and "re-plan: no changes" in recovered.stdout
    assert re.search(r"health ok\s+aws_vpc\.", recovered.stdout), recovered.stdout
    record = delivery.runs()[-1]
    assert record["status"] == "succeeded" and record["source"]["recovers"] == failed_id
    assert record["plan_digest"] and len(record["plan_digest"]) == 64 and record["release"]["key"] == \
        f"releases/staging/{C1}/cdk.tf.json"
    assert [s["name"] for s in record["steps"]] == ["settings", "target", "recovery", "synth", "validate",
                                                    "static-gate", "plan", "plan-gate", "approval", "apply",
                                                    "verify", "re-plan"]
    assert all(h["ok"] for h in record["gates"]["health"])
    assert len(delivery.vpcs()) == 1
    # a later run sees no partial apply any more: it passes the recovery gate and records a plain deploy
    before = len(delivery.runs())
    # ... run with the machine-readable result (`--format json`): the result document on stdout, progress on stderr
    again = delivery.run("deploy", "--env", "staging", "--format", "json")
    # On the emulator a fresh plan may still hold the documented read-back diffs (envs/target.py
    # EMULATOR_REPLAN_DIFFS); the deploy's own re-plan gate has verified that nothing else remains.
    assert again.returncode == 0 and "partial apply" not in again.stdout + again.stderr, _out(again)
    doc = json.loads(again.stdout)
    assert doc["command"] == "deploy" and doc["env"] == "staging" and doc["exit_code"] == 0, doc
    assert doc["verdict"] == "succeeded" and doc["run"]["status"] == "succeeded" and doc["run"]["kind"] == "deploy"
    assert doc["paths"]["stack"].endswith("cdk.tf.json") and doc["counts"]["blocking"] == 0, doc
    assert "[staging] deployed" in again.stderr, _out(again)
    records = delivery.runs()
    assert records[-1]["id"] == doc["run"]["id"], (records[-1]["id"], doc["run"])
    assert len(records) == before + 1, [r["id"] for r in records]
    assert records[-1]["status"] == "succeeded" and records[-1]["kind"] == "deploy"
    assert "recovers" not in (records[-1].get("source") or {}), records[-1]["source"]
    assert next(s for s in records[-1]["steps"] if s["name"] == "recovery")["status"] == "ok"


def test_drift_is_detected_and_corrected_through_the_gates(delivery: Delivery) -> None:
    zero = delivery.run("drift", "--env", "staging")
    assert zero.returncode == 0 and "no drift" in zero.stdout, _out(zero)
    (vpc,) = delivery.vpcs()
    delivery.client("ec2").create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "Owner", "Value": "someone-else"}])
    drifted = delivery.run("drift", "--env", "staging", "--format", "markdown")
    assert drifted.returncode == 1 and "aws_vpc.network_vpc_" in drifted.stdout, _out(drifted)
    corrected = delivery.run("drift", "--env", "staging", "--correct")
    assert corrected.returncode == 0, _out(corrected)
    assert "drift corrected" in corrected.stdout and "re-plan: no changes" in corrected.stdout
    record = delivery.runs()[-1]
    assert record["kind"] == "drift-correct" and record["status"] == "succeeded"
    assert any(a.startswith("aws_vpc.network_vpc_") for a in record["source"]["drift"])
    tags = {t["Key"]: t["Value"] for t in delivery.client("ec2").describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["Tags"]}
    assert tags["Owner"] == "platform-team@example.com"
    clean = delivery.run("drift", "--env", "staging", "--format", "json")
    assert clean.returncode == 0 and "no drift" in clean.stderr, _out(clean)
    doc = json.loads(clean.stdout)
    assert doc["command"] == "drift" and doc["exit_code"] == 0 and doc["verdict"] == "succeeded", doc


def test_rollback_goes_through_the_gates_and_the_stateful_guard(delivery: Delivery) -> None:
    v2 = delivery.run("deploy", "--env", "staging", commit=C2, envs=delivery.v2)
    assert v2.returncode == 0, _out(v2)
    assert bucket_exists(delivery, APP_BUCKET), [b["Name"] for b in delivery.client("s3").list_buckets()["Buckets"]]
    v2_run = delivery.runs()[-1]
    good_c1 = [r for r in delivery.runs() if r["status"] == "succeeded" and r["commit"] == C1]

    blocked = delivery.run("rollback", "--env", "staging", commit=C2, envs=delivery.v2)
    assert blocked.returncode == 1, _out(blocked)
    assert f"rolling back to run {good_c1[-1]['id']} (commit {C1}" in blocked.stdout
    assert "STOPPED at gate 'plan-gate'" in blocked.stdout and "PLAT_GUARD_STATEFUL" in blocked.stderr
    record = delivery.runs()[-1]
    assert record["kind"] == "rollback" and record["status"] == "blocked" and not record["apply_started"]
    guarded = [b["resource"] for b in record["gates"]["plan"]["blocking"] if b["check"] == "PLAT_GUARD_STATEFUL"]
    assert any(a.startswith("aws_s3_bucket.data_storage_app") for a in guarded), guarded
    assert bucket_exists(delivery, APP_BUCKET)  # nothing applied

    approve = [arg for a in guarded for arg in ("--approve", a)]
    done = delivery.run("rollback", "--env", "staging", *approve, commit=C2, envs=delivery.v2)
    assert done.returncode == 0, _out(done)
    assert f"rolled back to run {good_c1[-1]['id']} (commit {C1})" in done.stdout
    assert "re-plan: no changes" in done.stdout
    record = delivery.runs()[-1]
    assert record["kind"] == "rollback" and record["status"] == "succeeded"
    assert record["source"]["rollback_to"] == good_c1[-1]["id"] and record["commit"] == C2
    assert not bucket_exists(delivery, APP_BUCKET)
    assert v2_run["release"]["sha256"] != good_c1[-1]["release"]["sha256"]


def test_promotion_refused_for_an_untested_commit(delivery: Delivery) -> None:
    refused = delivery.run("promote", "--from", "staging", "--to", "prod", commit=UNTESTED)
    assert refused.returncode == 1, _out(refused)
    assert f"commit {UNTESTED} has no successful deploy in staging" in refused.stderr
    assert C1 in refused.stderr  # names the commits that did pass
    assert "synthesized" not in refused.stdout


def test_protected_environment_needs_an_approval_of_the_exact_plan(delivery: Delivery) -> None:
    promoted = delivery.run("promote", "--from", "staging", "--to", "prod", commit=C1)
    assert promoted.returncode == 1, _out(promoted)
    assert f"promoting commit {C1} from staging" in promoted.stdout
    assert "STOPPED at gate 'approval'" in promoted.stdout and "approval gate blocked prod" in promoted.stderr
    digest = re.search(r"plan digest: ([0-9a-f]{64})", promoted.stdout).group(1)  # type: ignore[union-attr]
    assert f"approve --env prod --plan-digest {digest}" in promoted.stderr
    record = delivery.runs("prod", f"{PROJECT}-tfstate-555555555555-{REGION}")[-1]
    assert record["kind"] == "promote" and record["failed_gate"] == "approval" and not record["apply_started"]
    assert record["source"] == {"promoted_from": "staging", "source_run": record["source"]["source_run"]}

    bad = delivery.run("approve", "--env", "prod", "--plan-digest", "1234", "--by", "alice")
    assert bad.returncode == 2 and "not a sha256" in bad.stderr, _out(bad)
    ok = delivery.run("approve", "--env", "prod", "--plan-digest", digest, "--by", "alice")
    assert ok.returncode == 0 and f"approved plan digest {digest} by alice" in ok.stdout, _out(ok)
    plan = delivery.run("plan", "--env", "prod", commit=C1)
    assert plan.returncode == 0, _out(plan)
    assert f"plan digest {digest} approved by alice" in plan.stdout  # same change, same state: same digest


def test_cleanup_destroys_the_expired_ephemeral_environment(delivery: Delivery) -> None:
    registry = delivery.root / "registry.toml"
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    registry.write_text(f'[[environment]]\nid = "delivery-staging"\nenv = "staging"\nenvs_dir = "envs-v1"\n'
                        f'owner = "ci"\nexpires = {past}\n\n[[environment]]\nid = "delivery-prod"\nenv = "prod"\n'
                        f'envs_dir = "envs-v1"\nowner = "ci"\nexpires = {future}\n')
    listed = delivery.run("cleanup", "--expired", "--registry", str(registry))
    assert listed.returncode == 0, _out(listed)
    assert "2 registered, 1 expired" in listed.stdout and "delivery-staging" in listed.stdout
    assert len(delivery.vpcs()) == 1  # listing destroys nothing
    kms = delivery.client("kms")
    prefix = f"{PROJECT}-staging-"
    keys = [a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{prefix}")]
    assert keys, "the environment's KMS keys (aliases alias/<prefix>-<data class>)"
    done = delivery.run("cleanup", "--expired", "--registry", str(registry), "--yes")
    assert done.returncode == 0, _out(done)
    assert "destroyed delivery-staging" in done.stdout and delivery.vpcs() == []
    # nothing of the environment is left: no bucket, no log group, no resource in the state, its keys and their
    # aliases scheduled for deletion / deleted
    assert not [b["Name"] for b in delivery.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    assert delivery.client("logs").describe_log_groups(logGroupNamePrefix=f"/vpc/{PROJECT}-staging")["logGroups"] == []
    s3 = delivery.client("s3")
    state = json.loads(s3.get_object(Bucket=STAGING_BUCKET, Key="staging/terraform.tfstate")["Body"].read())
    assert [r for r in state["resources"] if r["mode"] == "managed"] == []
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{prefix}")]
    states = {kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] for k in keys}
    assert states <= {"PendingDeletion"}, states
    assert "delivery-staging" not in registry.read_text() and 'id = "delivery-prod"' in registry.read_text()
