"""What the emulator can create of operations (tests/envs/ops, local variant), applied with Terraform, checked with
boto3, re-planned (no changes) and destroyed: the shipped rotation function (zip of modules/integration/rotation/, VPC, role,
KMS log group) with Secrets Manager's invoke permission per rotated secret, and the Config remediation role. Only
these resources and what they depend on are applied (``-target``), to keep the test well under a minute; the rest
of the environment is covered by tests/test_operations.py, validate and plan (see README's coverage table)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

import envs
from envs.target import Target
from tests.conftest import own_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
OPS = Path(__file__).resolve().parent / "envs" / "ops"


def test_rotation_function_and_remediation_role_on_the_emulator(tmp_path: Path) -> None:
    from pipeline.synth import synthesize
    from pipeline.tfconfig import terraform_env

    with own_emulator(tmp_path / "emulator") as emulator:
        synthesize(envs.load_all(["prod"], OPS), Target(kind="local", endpoint=emulator.endpoint), tmp_path / "out",
                   commit="0123456789ab")
        work = tmp_path / "out" / "stacks" / "prod"
        (work / "zz_backend_override.tf.json").write_text(json.dumps(
            {"terraform": {"backend": {"local": {"path": str(work / "terraform.tfstate")}}}}))
        r = json.loads((work / "cdk.tf.json").read_text())["resource"]
        targets = [f"-target=aws_lambda_permission.{k}" for k in r["aws_lambda_permission"]]
        targets += [f"-target=aws_iam_role_policy.{k}" for k in r["aws_iam_role_policy"] if "remediation" in k]
        env = terraform_env(tmp_path / ".build", {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                                                  "AWS_EC2_METADATA_DISABLED": "true"})

        def tf(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["terraform", *args, "-input=false", "-no-color"], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=400)

        assert tf("init").returncode == 0
        applied = tf("apply", "-auto-approve", *targets)
        assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
        try:
            def client(service: str):  # noqa: ANN202
                return boto3.client(service, region_name="us-east-1", endpoint_url=emulator.endpoint,
                                    aws_access_key_id="test", aws_secret_access_key="test")

            fn = client("lambda").get_function(FunctionName="opstest-prod-rotate-api-key")["Configuration"]
            assert fn["Handler"] == "api_key_rotation.handler" and fn["Runtime"] == "python3.12"
            assert fn["Role"].endswith(":role/opstest-prod-rotate-api-key")
            assert len(fn["VpcConfig"]["SubnetIds"]) == 3 and len(fn["VpcConfig"]["SecurityGroupIds"]) == 1
            assert json.loads(fn["Environment"]["Variables"]["ROTATION_ENDPOINTS"]) == {
                "opstest-prod/integrations/payments": {"set": "https://api.payments.example.com/v1/keys",
                                                       "test": "https://api.payments.example.com/v1/ping",
                                                       "method": "POST"}}
            policy = json.loads(client("lambda").get_policy(FunctionName="opstest-prod-rotate-api-key")["Policy"])
            secrets = {s["Name"]: s["ARN"] for s in client("secretsmanager").list_secrets()["SecretList"]}
            granted = {st["Condition"]["ArnLike"]["AWS:SourceArn"] for st in policy["Statement"]
                       if st["Principal"] == {"Service": "secretsmanager.amazonaws.com"}}
            assert granted == {secrets["opstest-prod/integrations/payments"], secrets["opstest-prod/integrations/crm"]}
            group = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/opstest-prod-rotate")
            assert group["logGroups"][0]["kmsKeyId"]
            role = client("iam").get_role(RoleName="opstest-prod-config-remediation")["Role"]
            assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ssm.amazonaws.com"}
            replan = tf("plan", "-detailed-exitcode", *targets)
            assert replan.returncode == 0, replan.stdout[-3000:]
        finally:
            destroyed = tf("destroy", "-auto-approve", *targets)
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]
