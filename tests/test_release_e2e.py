"""The blue-green release flow end to end on the local target, through the real CLI, on a small test environment of
its own (tests/envs/release: a network and the application tier alone, project ``rlstest``, deployed to an emulator
of its own): a release that shifts 10 -> 50 -> 100, a plain deploy's plan that keeps the released weights, and a release
whose validation fails (the new colour's instances are stopped by the validation hook, so moto reports them unused)
and rolls back; last the guarded destroy through the CLI (refused without ``--yes``, refused by the stateful guard until
each stateful address is approved, then nothing left). The release reads only the app tier; the full platform's app tier is verified on the shared dev
deployment (tests/test_app_tier_e2e.py)."""
from __future__ import annotations

import hashlib
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


@dataclass
class ReleaseEnv:
    root: Path
    envs: Path
    endpoint: str
    settings: Any
    deployed: subprocess.CompletedProcess[str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(self.envs), *args],
                              cwd=self.root, capture_output=True, text=True, timeout=1200,
                              env={**os.environ, "PYTHONUNBUFFERED": "1",
                                   "PLATFORM_BUILD_DIR": str(self.root / ".build")})

    def client(self, service: str) -> Any:
        from pipeline.aws import client

        return client(service, self.settings.region, self.endpoint)


@pytest.fixture(scope="module")
def release_env(workspace: Path) -> Any:
    """tests/envs/release deployed (every gate, empty re-plan) to an emulator of its own."""
    import envs

    root = workspace / "release"
    folder = root / "envs"
    shutil.copytree(ROOT / "tests" / "envs" / "release", folder)
    with own_emulator(root / ".build" / "local") as emulator:
        env = ReleaseEnv(root, folder, emulator.endpoint, envs.load("dev", folder), None)  # type: ignore[arg-type]
        env.deployed = env.cli("deploy", "--env", "dev")
        assert env.deployed.returncode == 0, env.deployed.stdout[-4000:] + env.deployed.stderr[-4000:]
        assert "re-plan: no changes" in env.deployed.stdout
        yield env

#: Validation hook for the forced failure: at the 50% step it stops the new colour's instances (moto then reports
#: their targets "unused"), so the release's own health validation fails.
STOP_AT_50 = """
import os, boto3
if int(os.environ["RELEASE_WEIGHT"]) >= 50:
    kw = dict(region_name=os.environ["RELEASE_REGION"], endpoint_url=os.environ["RELEASE_ENDPOINT"],
              aws_access_key_id="test", aws_secret_access_key="test")
    elbv2, ec2 = boto3.client("elbv2", **kw), boto3.client("ec2", **kw)
    ids = [d["Target"]["Id"] for d in elbv2.describe_target_health(
        TargetGroupArn=os.environ["RELEASE_TARGET_GROUP_ARN"])["TargetHealthDescriptions"]]
    ec2.stop_instances(InstanceIds=ids)
"""


def weights(deployment, prefix: str) -> dict[str, int]:
    elbv2 = deployment.client("elbv2")
    (lb,) = elbv2.describe_load_balancers(Names=[f"{prefix}-alb"])["LoadBalancers"]
    https = next(l for l in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
                 if l["Port"] == 443)
    arns = {g["TargetGroupArn"]: g["TargetGroupName"].rsplit("-", 1)[1]
            for g in elbv2.describe_target_groups(Names=[f"{prefix}-blue", f"{prefix}-green"])["TargetGroups"]}
    return {arns[g["TargetGroupArn"]]: g["Weight"]
            for g in https["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}


def vpcs(deployment, prefix: str) -> list[dict]:
    return deployment.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{prefix}-vpc"]}])["Vpcs"]


def record(deployment, prefix: str) -> dict:
    value = deployment.client("ssm").get_parameter(Name=f"/{prefix}/app/release")["Parameter"]["Value"]
    return json.loads(value)


def test_release_then_deploy_then_failed_release_rolls_back(release_env: ReleaseEnv, tmp_path: Path) -> None:
    prefix = release_env.settings.name_prefix
    assert weights(release_env, prefix) == release_env.settings.app.initial_weights

    ok = release_env.cli("release", "--env", "dev", "--version", "v2", "--bake-seconds", "0")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for step in ("green 10% / blue 90%", "green 50% / blue 50%", "green 100% / blue 0%"):
        assert step in ok.stdout
    assert weights(release_env, prefix) == {"blue": 0, "green": 100}
    rec = record(release_env, prefix)
    assert rec["live"] == "green" and rec["colours"]["green"]["version"] == "v2"
    tags = release_env.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"{prefix}-app-green", Versions=["$Latest"])["LaunchTemplateVersions"][0]
    instance_tags = {t["Key"]: t["Value"] for spec in tags["LaunchTemplateData"]["TagSpecifications"]
                     if spec["ResourceType"] == "instance" for t in spec["Tags"]}
    assert instance_tags["AppVersion"] == "v2"
    # the release published the workload as v2 and the launch template points at exactly that artifact
    assert instance_tags["AppArtifact"] == "workload/v2/app.tar.gz"
    assert rec["colours"]["green"]["artifact_key"] == "workload/v2/app.tar.gz"
    published = release_env.client("s3").get_object(Bucket=instance_tags["AppArtifactBucket"],
                                                     Key="workload/v2/app.tar.gz")["Body"].read()
    assert hashlib.sha256(published).hexdigest() == instance_tags["AppSha256"] == rec["colours"]["green"]["sha256"]

    # a plain deploy keeps the released weights: the gated plan a deploy would apply (deploy applies exactly that saved
    # plan) gives the HTTPS listener the live weights, read from the release record at plan time (modules/app/tier.py)
    again = release_env.cli("plan", "--env", "dev", "--format", "json")
    assert again.returncode == 0, again.stdout + again.stderr
    plan = json.loads(Path(json.loads(again.stdout)["paths"]["plan_json"]).read_text())
    colour_of = {g["TargetGroupArn"]: g["TargetGroupName"].rsplit("-", 1)[1] for g in release_env.client(
        "elbv2").describe_target_groups(Names=[f"{prefix}-blue", f"{prefix}-green"])["TargetGroups"]}
    planned = {}
    for change in plan["resource_changes"]:
        after = change["change"]["after"] or {}
        if change["type"] == "aws_lb_listener" and after.get("port") == 443:
            groups = after["default_action"][0]["forward"][0]["target_group"]
            planned = {colour_of[g["arn"]]: g["weight"] for g in groups}
    assert planned == {"blue": 0, "green": 100}, planned
    assert weights(release_env, prefix) == {"blue": 0, "green": 100}

    hook = tmp_path / "stop_at_50.py"
    hook.write_text(STOP_AT_50)
    bad = release_env.cli("release", "--env", "dev", "--version", "v3", "--bake-seconds", "0",
                          "--validate-command", f"{sys.executable} {hook}")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "blue 10% / green 90%" in bad.stdout and "validation failed at 50%" in bad.stdout
    assert weights(release_env, prefix) == {"blue": 0, "green": 100}
    rec = record(release_env, prefix)
    assert rec["live"] == "green" and rec["weights"] == {"blue": 0, "green": 100}
    assert rec["last"]["status"] == "rolled-back" and "unused" in rec["last"]["reason"]

    # last, the guarded destroy through the CLI leaves nothing: refused without --yes (no terminal), refused by the
    # stateful guard until each stateful address is approved (nothing destroyed), then done
    no_yes = release_env.cli("destroy", "--env", "dev")
    assert no_yes.returncode == 2 and "--yes" in no_yes.stderr, no_yes.stdout + no_yes.stderr
    guarded = release_env.cli("destroy", "--env", "dev", "--yes")
    assert guarded.returncode == 1, guarded.stdout + guarded.stderr
    approvals = re.findall(r"--approve (\S+)", guarded.stderr)
    assert any(a.startswith("aws_kms_key.") for a in approvals), guarded.stderr
    assert vpcs(release_env, prefix), "a refused destroy destroys nothing"
    done = release_env.cli("destroy", "--env", "dev", "--yes", *[x for a in approvals for x in ("--approve", a)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert vpcs(release_env, prefix) == []
    assert not [b["Name"] for b in release_env.client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)]
    state = json.loads(release_env.client("s3").get_object(
        Bucket=release_env.settings.state_bucket, Key="dev/terraform.tfstate")["Body"].read())
    assert [r for r in state["resources"] if r["mode"] == "managed"] == []
