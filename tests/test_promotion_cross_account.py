"""Cross-account promotion (issue 14): prod's deploy role reads staging's run log in staging's account.

On the emulator with two accounts' credentials (moto 5.2 selects the account by an IAM user's access key, or the
`x-moto-account-id` header; a 12-digit access key id does NOT select it: checked below). Staging's backend is
bootstrapped with staging's credentials (its bucket and key policies admit prod's deploy role, read-only, for
runs/staging/ and releases/staging/), a successful staging run is recorded there, and the promotion check runs with
prod's credentials. moto does not evaluate bucket or key policies, so the calls it served are evaluated with
pipeline/least_privilege.py against prod's deploy role AND the policies the bootstrap actually stored."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import own_emulator

ROOT = Path(__file__).resolve().parents[1]


def _admin_client(service: str, endpoint: str, account: str) -> Any:
    c = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test").client(
        service, region_name="us-east-1", endpoint_url=endpoint)
    c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", account))
    return c


def _account_keys(endpoint: str, account: str, user: str) -> dict[str, str]:
    iam = _admin_client("iam", endpoint, account)
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _client(service: str, endpoint: str, creds: dict[str, str]) -> Any:
    return boto3.session.Session(**creds).client(service, region_name="us-east-1", endpoint_url=endpoint,
                                                 config=Config(s3={"addressing_style": "path"}))


def test_promotion_paths_are_the_workflows() -> None:
    from pipeline.promotion import PROMOTION_PATHS

    text = "\n".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert set(re.findall(r"promote --from (\w+) --to (\w+)", text)) == set(PROMOTION_PATHS)


def test_prod_reads_staging_run_log_across_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    settings: dict, synth_aws: dict) -> None:
    from envs.target import Target
    from pipeline import aws
    from pipeline.bootstrap import bootstrap_state
    from pipeline.least_privilege import parse_trace, resolve, resource_policy_verdict, role_policies, evaluate
    from pipeline.promotion import PromotionRefused, check_promotion
    from pipeline.run import backend_spec
    from pipeline.runlog import SUCCEEDED, RunLog, new_record

    staging, prod = settings["staging"], settings["prod"]
    trace = tmp_path / "trace"
    monkeypatch.setenv("PLATFORM_MOTO_TRACE", str(trace))
    with own_emulator(tmp_path / "emulator") as emu:
        target = Target(kind="local", endpoint=emu.endpoint)
        staging_keys = _account_keys(emu.endpoint, staging.account_id, "staging-admin")
        prod_keys = _account_keys(emu.endpoint, prod.account_id, "prod-deployer")
        for keys, account in ((staging_keys, staging.account_id), (prod_keys, prod.account_id)):
            assert _client("sts", emu.endpoint, keys).get_caller_identity()["Account"] == account
        twelve = {"aws_access_key_id": staging.account_id, "aws_secret_access_key": "x"}
        assert _client("sts", emu.endpoint, twelve).get_caller_identity()["Account"] != staging.account_id

        # staging's account: its backend (policies admitting prod's deploy role) and a successful run of a commit
        spec = backend_spec(staging, target)
        reader = f"arn:aws:iam::{prod.account_id}:role/{prod.name_prefix}-ci-deploy"
        assert spec.readers == (reader,)
        monkeypatch.setitem(aws.EMULATOR_CREDENTIALS, "aws_access_key_id", staging_keys["aws_access_key_id"])
        monkeypatch.setitem(aws.EMULATOR_CREDENTIALS, "aws_secret_access_key", staging_keys["aws_secret_access_key"])
        actions = bootstrap_state(spec, emu.endpoint)
        assert any(a.startswith(f"configured promotion readers of bucket {staging.state_bucket}") for a in actions)
        assert any(a.startswith("configured promotion readers of KMS key") for a in actions)
        assert any("promotion readers" in a and "already configured" in a for a in bootstrap_state(spec, emu.endpoint))
        staging_s3 = _client("s3", emu.endpoint, staging_keys)
        commit = "c0ffee1234567890abcdef"
        record = new_record("staging", "local", "deploy", commit, "ci")
        record.status = SUCCEEDED
        RunLog(staging_s3, staging.state_bucket, "staging").save(record)
        bucket_policy = json.loads(staging_s3.get_bucket_policy(Bucket=staging.state_bucket)["Policy"])
        kms = _client("kms", emu.endpoint, staging_keys)
        key_id = kms.describe_key(KeyId="alias/webplatform-tfstate")["KeyMetadata"]["KeyId"]
        key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])

        # prod's account: the bucket is not its own, and the promotion check reads staging's record with prod's keys
        prod_s3 = _client("s3", emu.endpoint, prod_keys)
        assert staging.state_bucket not in [b["Name"] for b in prod_s3.list_buckets()["Buckets"]]
        trace.unlink()
        promotion = check_promotion(staging, prod, target, commit, s3=prod_s3)
        assert promotion.source_run.id == record.id
        with pytest.raises(PromotionRefused, match="has no successful deploy in staging"):
            check_promotion(staging, prod, target, "deadbeef0000", s3=prod_s3)

    # the calls prod made, against prod's deploy role (identity) and staging's stored policies (resource)
    calls = resolve(parse_trace(trace.read_text().splitlines()), staging.region)
    assert {c.action for c in calls} == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    identity, boundary = role_policies(synth_aws["prod"], reader.rsplit("/", 1)[1], prod.account_id)
    context = {"s3:prefix": "runs/staging/"}
    for call in calls:
        assert evaluate(call, identity, boundary, context).allowed, call
        policy = key_policy if call.service == "kms" else bucket_policy
        assert resource_policy_verdict(policy, call, reader, context) == "allow", call
        # read-only, this environment only: no write, no other prefix, no other account's role
        assert resource_policy_verdict(policy, call, reader.replace("ci-deploy", "ci-plan"), context) == "none"
    get = next(c for c in calls if c.action == "s3:GetObject")
    write = type(get)(get.service, "PutObject", "s3:PutObject", get.resource)
    assert resource_policy_verdict(bucket_policy, write, reader, context) == "none"
    other = type(get)(get.service, "GetObject", "s3:GetObject",
                      f"arn:aws:s3:::{staging.state_bucket}/staging/terraform.tfstate")
    assert resource_policy_verdict(bucket_policy, other, reader, context) == "none"
