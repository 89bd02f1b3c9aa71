"""The workload's artifact path on the shared local deployment of dev (no deployment of its own): the deploy
published the artifact, the launch templates point at it (tags), the rendered boot script's fetch step downloads
it from the emulator and verifies it, and the configuration and grants the boot script and the service rely on
exist. What cannot run locally: the instances themselves (moto launches no operating system), so the systemd unit,
the CloudWatch agent and IAM evaluation are proven by tests/test_workload_platform.py on the configuration."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_workload_platform import shell_function

pytestmark = pytest.mark.e2e


def test_the_deploy_publishes_the_artifact_the_launch_templates_fetch(deployed_dev, settings: dict,
                                                                      tmp_path: Path) -> None:
    prefix = settings["dev"].name_prefix
    ec2, s3 = deployed_dev.client("ec2"), deployed_dev.client("s3")
    for colour in ("blue", "green"):
        data = ec2.describe_launch_template_versions(LaunchTemplateName=f"{prefix}-app-{colour}",
                                                     Versions=["$Latest"])["LaunchTemplateVersions"][0][
            "LaunchTemplateData"]
        tags = {t["Key"]: t["Value"] for spec in data["TagSpecifications"] if spec["ResourceType"] == "instance"
                for t in spec["Tags"]}
        bucket, key, sha = tags["AppArtifactBucket"], tags["AppArtifact"], tags["AppSha256"]
        assert bucket.startswith(f"{prefix}-artifacts-") and key == f"workload/{tags['AppVersion']}/app.tar.gz"
        obj = s3.get_object(Bucket=bucket, Key=key)
        body = obj["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha and obj["ServerSideEncryption"] == "aws:kms"
        assert s3.get_object(Bucket=bucket, Key=f"{key}.sha256")["Body"].read().decode() == f"{sha}  app.tar.gz\n"

        # the boot script as the emulator returns it: its fetch step downloads, verifies and unpacks that artifact
        script = base64.b64decode(data["UserData"]).decode()
        fetch = shell_function(script, "fetch_artifact")
        config = tmp_path / "aws-config"
        config.write_text("[default]\ns3 =\n  addressing_style = path\n")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": deployed_dev.region,
               "AWS_ENDPOINT_URL": deployed_dev.endpoint, "AWS_CONFIG_FILE": str(config)}
        assert shutil.which("aws"), "the AWS CLI is not installed (pip install awscli)"
        dest = tmp_path / colour
        run = subprocess.run(["bash", "-c", f'set -euo pipefail\n{fetch}\nfetch_artifact "$@"', "fetch", bucket,
                              key, sha, str(dest)], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
        assert (dest / "VERSION").read_text() == f"{tags['AppVersion']}\n" and (dest / "bin" / "start").exists()

    # what the boot script reads and what the service is granted
    ssm, iam = deployed_dev.client("ssm"), deployed_dev.client("iam")
    config = json.loads(ssm.get_parameter(Name=f"/{prefix}/workload/config")["Parameter"]["Value"])
    s3.head_bucket(Bucket=config["bucket"])
    deployed_dev.client("secretsmanager").describe_secret(SecretId=config["secret_arn"])
    assert config["database"]["auth"] == "iam" and config["database"]["name"] == settings["dev"].data.database.db_name
    policy = iam.get_role_policy(RoleName=f"{prefix}-app-instance", PolicyName=f"{prefix}-app-workload")
    sids = {s["Sid"] for s in policy["PolicyDocument"]["Statement"]}
    assert {"ReadArtifacts", "ReadAppSecret", "ReadWriteAppObjects", "ConnectToTheDatabaseWithIam",
            "ReadWorkloadConfig"} <= sids
