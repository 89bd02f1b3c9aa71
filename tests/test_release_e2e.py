"""The blue-green release flow end to end on the local target (the shared deployment of dev): a release that shifts
10 -> 50 -> 100, a plain deploy that keeps the released weights, and a release whose validation fails (the new
colour's instances are stopped by the validation hook, so moto reports them unused) and rolls back."""
from __future__ import annotations

import hashlib
import json
import sys

import pytest

from tests.conftest import cli

pytestmark = pytest.mark.e2e

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


def record(deployment, prefix: str) -> dict:
    value = deployment.client("ssm").get_parameter(Name=f"/{prefix}/app/release")["Parameter"]["Value"]
    return json.loads(value)


def test_release_then_deploy_then_failed_release_rolls_back(deployed_dev, settings, tmp_path) -> None:
    prefix = settings["dev"].name_prefix
    assert weights(deployed_dev, prefix) == settings["dev"].app.initial_weights

    ok = cli("release", "--env", "dev", "--version", "v2", "--bake-seconds", "0", cwd=deployed_dev.cwd)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for step in ("green 10% / blue 90%", "green 50% / blue 50%", "green 100% / blue 0%"):
        assert step in ok.stdout
    assert weights(deployed_dev, prefix) == {"blue": 0, "green": 100}
    rec = record(deployed_dev, prefix)
    assert rec["live"] == "green" and rec["colours"]["green"]["version"] == "v2"
    tags = deployed_dev.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"{prefix}-app-green", Versions=["$Latest"])["LaunchTemplateVersions"][0]
    instance_tags = {t["Key"]: t["Value"] for spec in tags["LaunchTemplateData"]["TagSpecifications"]
                     if spec["ResourceType"] == "instance" for t in spec["Tags"]}
    assert instance_tags["AppVersion"] == "v2"
    # the release published the workload as v2 and the launch template points at exactly that artifact
    assert instance_tags["AppArtifact"] == "workload/v2/app.tar.gz"
    assert rec["colours"]["green"]["artifact_key"] == "workload/v2/app.tar.gz"
    published = deployed_dev.client("s3").get_object(Bucket=instance_tags["AppArtifactBucket"],
                                                     Key="workload/v2/app.tar.gz")["Body"].read()
    assert hashlib.sha256(published).hexdigest() == instance_tags["AppSha256"] == rec["colours"]["green"]["sha256"]

    # a plain deploy keeps the released weights (nothing to change on the listener)
    again = cli("deploy", "--env", "dev", cwd=deployed_dev.cwd)
    assert again.returncode == 0, again.stdout + again.stderr
    assert weights(deployed_dev, prefix) == {"blue": 0, "green": 100}

    hook = tmp_path / "stop_at_50.py"
    hook.write_text(STOP_AT_50)
    bad = cli("release", "--env", "dev", "--version", "v3", "--bake-seconds", "0",
              "--validate-command", f"{sys.executable} {hook}", cwd=deployed_dev.cwd)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "blue 10% / green 90%" in bad.stdout and "validation failed at 50%" in bad.stdout
    assert weights(deployed_dev, prefix) == {"blue": 0, "green": 100}
    rec = record(deployed_dev, prefix)
    assert rec["live"] == "green" and rec["weights"] == {"blue": 0, "green": 100}
    assert rec["last"]["status"] == "rolled-back" and "unused" in rec["last"]["reason"]
