"""The deployment orchestrator end to end on the local target, through the real CLI.

Small test-only environments (tests/envs/delivery: project ``dlvtest``, a network, its flow-log group and the
access-log bucket; staging and a protected prod), deployed to an emulator of their own so the shared dev deployment
is never touched. Every gate runs as in production, Checkov included. In order: bad settings (exit 2), the static gate
stopped by an expired waiver, a failed apply (the flow-log group created out of band makes the apply fail midway)
detected by the next run and recovered with ``--recover``, drift 0 -> 1 and its correction (the first run after the
recovery, which passes the recovery gate). A new release and its rollback, the promotion, the approval gate of the
protected prod and the cleanup run on a second emulator at the same time (tests/test_promotion_e2e.py).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import own_emulator
from tests.harness.delivery import C1, FLOW_LOG_GROUP, Delivery, make_delivery, out

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

@pytest.fixture(scope="module")
def delivery(workspace: Path) -> Any:
    """An emulator of its own: one emulated account holds one environment's account-level singletons (a Config
    recorder, a CloudTrail trail), as each real environment has its own account; the shared dev deployment lives in
    the session's emulator."""
    root = workspace / "delivery"
    with own_emulator(root / ".build" / "local") as emulator:
        yield make_delivery(root, emulator.endpoint)


def test_bad_settings_stop_at_the_settings_gate_with_exit_2(delivery: Delivery, tmp_path: Path) -> None:
    (tmp_path / "staging.toml").write_text((delivery.v1 / "staging.toml").read_text()
                                           .replace("az_count = 2", "az_count = 0"))
    result = delivery.run("deploy", "--env", "staging", envs=tmp_path)
    assert result.returncode == 2, out(result)
    assert "bad settings" in result.stderr and "network.az_count" in result.stderr
    assert "STOPPED at gate 'settings'" in result.stdout and "synth        not run" in result.stdout


def test_static_gate_stops_the_run_on_an_expired_waiver(delivery: Delivery, tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text('[[waiver]]\ncheck = "CKV_AWS_18"\nresource = "aws_s3_bucket.*"\nreason = "old exception"\n'
                       'owner = "platform-team"\nexpires = 2020-01-01\n')
    result = delivery.run("deploy", "--env", "staging", "--waivers", str(waivers))
    assert result.returncode == 1, out(result)
    assert "static gate blocked staging" in result.stderr and "PLAT_WAIVER_INVALID" in result.stderr
    assert "STOPPED at gate 'static-gate'" in result.stdout and "plan         not run" in result.stdout
    (record,) = delivery.runs()
    assert record["status"] == "blocked" and record["failed_gate"] == "static-gate" and record["commit"] == C1
    assert record["gates"]["static"]["verdict"] == "BLOCKED" and record["who"] == "ci-deployer"
    assert [s["name"] for s in record["steps"]][:6] == ["settings", "target", "recovery", "synth", "init",
                                                        "static-gate"]


def test_failed_apply_is_detected_by_the_next_run_and_recovered(delivery: Delivery) -> None:
    logs = delivery.client("logs")
    logs.create_log_group(logGroupName=FLOW_LOG_GROUP)  # out of band: the apply's CreateLogGroup will fail
    failed = delivery.run("deploy", "--env", "staging")
    assert failed.returncode == 1, out(failed)
    assert "STOPPED at gate 'apply'" in failed.stdout and "partial apply" in failed.stderr
    assert "ResourceAlreadyExistsException" in failed.stderr or "already exists" in failed.stderr
    record = delivery.runs()[-1]
    assert record["status"] == "failed" and record["apply_started"] and record["state_serial_after"]
    failed_id = record["id"]

    detected = delivery.run("deploy", "--env", "staging")
    assert detected.returncode == 1, out(detected)
    assert f"partial apply detected: run {failed_id}" in detected.stdout
    assert "--recover" in detected.stdout and "rollback --env staging" in detected.stdout
    assert "STOPPED at gate 'recovery'" in detected.stdout and "synth        not run" in detected.stdout

    logs.delete_log_group(logGroupName=FLOW_LOG_GROUP)  # the cause fixed: converge forward
    recovered = delivery.run("deploy", "--env", "staging", "--recover")
    assert recovered.returncode == 0, out(recovered)
    assert "[staging] deployed" in recovered.stdout and "re-plan: no changes" in recovered.stdout
    assert re.search(r"health ok\s+aws_vpc\.", recovered.stdout), recovered.stdout
    record = delivery.runs()[-1]
    assert record["status"] == "succeeded" and record["source"]["recovers"] == failed_id
    assert record["plan_digest"] and len(record["plan_digest"]) == 64 and record["release"]["key"] == \
        f"releases/staging/{C1}/cdk.tf.json"
    assert [s["name"] for s in record["steps"]] == ["settings", "target", "recovery", "synth", "init",
                                                    "static-gate", "plan", "plan-gate", "approval", "apply",
                                                    "verify", "re-plan"]
    assert all(h["ok"] for h in record["gates"]["health"])
    assert len(delivery.vpcs()) == 1


def test_drift_is_detected_and_corrected_through_the_gates(delivery: Delivery) -> None:
    # the machine-readable result (`--format json`): the result document on stdout, progress on stderr
    zero = delivery.run("drift", "--env", "staging", "--format", "json")
    assert zero.returncode == 0 and "no drift" in zero.stderr, out(zero)
    doc = json.loads(zero.stdout)
    assert doc["command"] == "drift" and doc["exit_code"] == 0 and doc["verdict"] == "succeeded", doc
    (vpc,) = delivery.vpcs()
    delivery.client("ec2").create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "Owner", "Value": "someone-else"}])
    drifted = delivery.run("drift", "--env", "staging", "--format", "markdown")
    assert drifted.returncode == 1 and "aws_vpc.network_vpc_" in drifted.stdout, out(drifted)
    corrected = delivery.run("drift", "--env", "staging", "--correct")
    assert corrected.returncode == 0, out(corrected)
    assert "drift corrected" in corrected.stdout and "re-plan: no changes" in corrected.stdout
    assert "partial apply" not in corrected.stdout + corrected.stderr, out(corrected)
    record = delivery.runs()[-1]
    assert record["kind"] == "drift-correct" and record["status"] == "succeeded"
    # the first run after the recovery: the recovery gate sees no partial apply any more
    assert "recovers" not in (record.get("source") or {}), record["source"]
    assert next(s for s in record["steps"] if s["name"] == "recovery")["status"] == "ok"
    assert any(a.startswith("aws_vpc.network_vpc_") for a in record["source"]["drift"])
    tags = {t["Key"]: t["Value"] for t in delivery.client("ec2").describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["Tags"]}
    assert tags["Owner"] == "platform-team@example.com"
