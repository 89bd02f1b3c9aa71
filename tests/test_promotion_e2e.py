"""A release and its rollback, promotion, the approval gate of a protected environment and the cleanup of an expired
environment, end to end through the real CLI on the small test environments of tests/envs/delivery (staging and a
protected prod), on an emulator of their own: staging deployed once at commit C1 (every gate); a new release (the
application bucket, tests/envs/delivery-v2, with the ``--format json`` result) then a rollback that the stateful
guard stops until the bucket's deletion is approved; a promotion refused for an untested commit; the promotion of C1
to prod stopped at the approval gate, ``approve`` of that exact plan digest and a plan that sees the approval; and
last the cleanup of staging as an expired ephemeral environment (its guarded destroy leaves nothing of it).

Apart from tests/test_orchestrator_e2e.py (whose runs change staging one after another) so that the two groups run
on two workers at once (issue #12: the orchestrator's chain was the suite's longest).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import own_emulator
from tests.harness.delivery import (APP_BUCKET, C1, C2, PROJECT, REGION, STAGING_BUCKET, UNTESTED, Delivery,
                                    bucket_exists, make_delivery, out)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def promotion(workspace: Path) -> Any:
    """staging deployed at commit C1 (every gate, an empty re-plan) to an emulator of its own."""
    root = workspace / "promotion"
    with own_emulator(root / ".build" / "local") as emulator:
        delivery = make_delivery(root, emulator.endpoint)
        deployed = delivery.run("deploy", "--env", "staging", commit=C1)
        assert deployed.returncode == 0 and "re-plan: no changes" in deployed.stdout, out(deployed)
        yield delivery


def test_rollback_goes_through_the_gates_and_the_stateful_guard(promotion: Delivery) -> None:
    # a new release, with the machine-readable result (`--format json`): the result document on stdout, progress on
    # stderr
    before = len(promotion.runs())
    v2 = promotion.run("deploy", "--env", "staging", "--format", "json", commit=C2, envs=promotion.v2)
    assert v2.returncode == 0, out(v2)
    assert bucket_exists(promotion, APP_BUCKET), [b["Name"] for b in promotion.client("s3").list_buckets()["Buckets"]]
    doc = json.loads(v2.stdout)
    assert doc["command"] == "deploy" and doc["env"] == "staging" and doc["exit_code"] == 0, doc
    assert doc["verdict"] == "succeeded" and doc["run"]["status"] == "succeeded" and doc["run"]["kind"] == "deploy"
    assert doc["paths"]["stack"].endswith("cdk.tf.json") and doc["counts"]["blocking"] == 0, doc
    assert "[staging] deployed" in v2.stderr, out(v2)
    records = promotion.runs()
    assert len(records) == before + 1 and records[-1]["id"] == doc["run"]["id"], [r["id"] for r in records]
    v2_run = records[-1]
    assert v2_run["status"] == "succeeded" and v2_run["kind"] == "deploy" and v2_run["commit"] == C2
    good_c1 = [r for r in promotion.runs() if r["status"] == "succeeded" and r["commit"] == C1]

    blocked = promotion.run("rollback", "--env", "staging", commit=C2, envs=promotion.v2)
    assert blocked.returncode == 1, out(blocked)
    assert f"rolling back to run {good_c1[-1]['id']} (commit {C1}" in blocked.stdout
    assert "STOPPED at gate 'plan-gate'" in blocked.stdout and "PLAT_GUARD_STATEFUL" in blocked.stderr
    record = promotion.runs()[-1]
    assert record["kind"] == "rollback" and record["status"] == "blocked" and not record["apply_started"]
    guarded = [b["resource"] for b in record["gates"]["plan"]["blocking"] if b["check"] == "PLAT_GUARD_STATEFUL"]
    assert any(a.startswith("aws_s3_bucket.data_storage_app") for a in guarded), guarded
    assert bucket_exists(promotion, APP_BUCKET)  # nothing applied

    approve = [arg for a in guarded for arg in ("--approve", a)]
    done = promotion.run("rollback", "--env", "staging", *approve, commit=C2, envs=promotion.v2)
    assert done.returncode == 0, out(done)
    assert f"rolled back to run {good_c1[-1]['id']} (commit {C1})" in done.stdout
    assert "re-plan: no changes" in done.stdout
    record = promotion.runs()[-1]
    assert record["kind"] == "rollback" and record["status"] == "succeeded"
    assert record["source"]["rollback_to"] == good_c1[-1]["id"] and record["commit"] == C2
    assert not bucket_exists(promotion, APP_BUCKET)
    assert v2_run["release"]["sha256"] != good_c1[-1]["release"]["sha256"]


def test_promotion_refused_for_an_untested_commit(promotion: Delivery) -> None:
    refused = promotion.run("promote", "--from", "staging", "--to", "prod", commit=UNTESTED)
    assert refused.returncode == 1, out(refused)
    assert f"commit {UNTESTED} has no successful deploy in staging" in refused.stderr
    assert C1 in refused.stderr  # names the commits that did pass
    assert "synthesized" not in refused.stdout


def test_protected_environment_needs_an_approval_of_the_exact_plan(promotion: Delivery) -> None:
    promoted = promotion.run("promote", "--from", "staging", "--to", "prod", commit=C1)
    assert promoted.returncode == 1, out(promoted)
    assert f"promoting commit {C1} from staging" in promoted.stdout
    assert "STOPPED at gate 'approval'" in promoted.stdout and "approval gate blocked prod" in promoted.stderr
    digest = re.search(r"plan digest: ([0-9a-f]{64})", promoted.stdout).group(1)  # type: ignore[union-attr]
    assert f"approve --env prod --plan-digest {digest}" in promoted.stderr
    record = promotion.runs("prod", f"{PROJECT}-tfstate-555555555555-{REGION}")[-1]
    assert record["kind"] == "promote" and record["failed_gate"] == "approval" and not record["apply_started"]
    assert record["source"] == {"promoted_from": "staging", "source_run": record["source"]["source_run"]}

    bad = promotion.run("approve", "--env", "prod", "--plan-digest", "1234", "--by", "alice")
    assert bad.returncode == 2 and "not a sha256" in bad.stderr, out(bad)
    ok = promotion.run("approve", "--env", "prod", "--plan-digest", digest, "--by", "alice")
    assert ok.returncode == 0 and f"approved plan digest {digest} by alice" in ok.stdout, out(ok)
    plan = promotion.run("plan", "--env", "prod", commit=C1)
    assert plan.returncode == 0, out(plan)
    assert f"plan digest {digest} approved by alice" in plan.stdout  # same change, same state: same digest


def test_cleanup_destroys_the_expired_ephemeral_environment(promotion: Delivery) -> None:
    registry = promotion.root / "registry.toml"
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    registry.write_text(f'[[environment]]\nid = "delivery-staging"\nenv = "staging"\nenvs_dir = "envs-v1"\n'
                        f'owner = "ci"\nexpires = {past}\n\n[[environment]]\nid = "delivery-prod"\nenv = "prod"\n'
                        f'envs_dir = "envs-v1"\nowner = "ci"\nexpires = {future}\n')
    listed = promotion.run("cleanup", "--expired", "--registry", str(registry))
    assert listed.returncode == 0, out(listed)
    assert "2 registered, 1 expired" in listed.stdout and "delivery-staging" in listed.stdout
    assert len(promotion.vpcs()) == 1  # listing destroys nothing
    kms = promotion.client("kms")
    prefix = f"{PROJECT}-staging-"
    keys = [a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{prefix}")]
    assert keys, "the environment's KMS keys (aliases alias/<prefix>-<data class>)"
    done = promotion.run("cleanup", "--expired", "--registry", str(registry), "--yes")
    assert done.returncode == 0, out(done)
    assert "destroyed delivery-staging" in done.stdout and promotion.vpcs() == []
    # nothing of the environment is left: no bucket, no log group, no resource in the state, its keys and their
    # aliases scheduled for deletion / deleted
    assert not [b["Name"] for b in promotion.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    assert promotion.client("logs").describe_log_groups(logGroupNamePrefix=f"/vpc/{PROJECT}-staging")["logGroups"] == []
    s3 = promotion.client("s3")
    state = json.loads(s3.get_object(Bucket=STAGING_BUCKET, Key="staging/terraform.tfstate")["Body"].read())
    assert [r for r in state["resources"] if r["mode"] == "managed"] == []
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith(f"alias/{prefix}")]
    states = {kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] for k in keys}
    assert states <= {"PendingDeletion"}, states
    assert "delivery-staging" not in registry.read_text() and 'id = "delivery-prod"' in registry.read_text()
