"""State backend bootstrap against a real moto server, verified with boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import local
from pipeline.aws import client
from pipeline.bootstrap import StateBackendSpec, bootstrap_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TAGS = {"Project": "platform", "Environment": "dev", "ManagedBy": "bootstrap"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Emulator]:
    """One moto server for this module, stopped by its recorded pid afterwards."""
    state_dir = tmp_path_factory.mktemp("emulator")
    try:
        yield local.start(state_dir)
    finally:
        local.stop(state_dir)


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_bootstrap_creates_a_secure_backend_once(emulator: local.Emulator, region: str) -> None:
    spec = StateBackendSpec(
        bucket=f"tfstate-{region}", table=f"tflock-{region}", region=region, kms_alias="alias/tfstate", tags=TAGS
    )

    first = bootstrap_state(spec, emulator.endpoint)
    second = bootstrap_state(spec, emulator.endpoint)

    assert any(a.startswith("created bucket") for a in first)
    assert any(a.startswith("created lock table") for a in first)
    assert any(a.startswith("created KMS key") for a in first)
    assert len(second) == len(first)
    assert all(a.endswith(("already exists", "already configured")) for a in second), second

    kms = client("kms", region, emulator.endpoint)
    key = kms.describe_key(KeyId="alias/tfstate")["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    key_tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]}
    assert key_tags == TAGS

    s3 = client("s3", region, emulator.endpoint)
    location = s3.get_bucket_location(Bucket=spec.bucket)["LocationConstraint"]
    assert location == (None if region == "us-east-1" else region)
    assert s3.get_bucket_versioning(Bucket=spec.bucket)["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket=spec.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_public_access_block(Bucket=spec.bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=spec.bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [statement] = json.loads(s3.get_bucket_policy(Bucket=spec.bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{spec.bucket}", f"arn:aws:s3:::{spec.bucket}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket_tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=spec.bucket)["TagSet"]}
    assert bucket_tags == TAGS

    dynamodb = client("dynamodb", region, emulator.endpoint)
    table = dynamodb.describe_table(TableName=spec.table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "LockID", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]
    assert table["DeletionProtectionEnabled"] is True
    backups = dynamodb.describe_continuous_backups(TableName=spec.table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    table_tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]}
    assert table_tags == TAGS


def test_bootstrap_completes_a_partly_configured_backend(emulator: local.Emulator) -> None:
    region = "eu-central-1"
    s3 = client("s3", region, emulator.endpoint)
    s3.create_bucket(Bucket="tfstate-partial", CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_policy(
        Bucket="tfstate-partial",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "KeepMe",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteBucket",
                        "Resource": "arn:aws:s3:::tfstate-partial",
                    }
                ],
            }
        ),
    )
    spec = StateBackendSpec("tfstate-partial", "tflock-partial", region, "tfstate-partial", {"Project": "platform"})

    actions = bootstrap_state(spec, emulator.endpoint)

    assert "bucket tfstate-partial already exists" in actions
    assert "configured versioning of bucket tfstate-partial" in actions
    assert "configured TLS-only policy of bucket tfstate-partial" in actions
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket="tfstate-partial")["Policy"])["Statement"]]
    assert sids == ["KeepMe", "DenyInsecureTransport"]
    assert s3.get_bucket_versioning(Bucket="tfstate-partial")["Status"] == "Enabled"
    assert all(a.endswith(("already exists", "already configured")) for a in bootstrap_state(spec, emulator.endpoint))
