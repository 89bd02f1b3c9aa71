"""Idempotent creation of the Terraform remote state backend (S3 bucket + DynamoDB lock table) with boto3.

Terraform cannot create the backend it stores its own state in, so this runs before the first
``terraform init``. Every step first reads the current setting and only writes what differs,
so a second run reports "already exists" / "already configured" and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pipeline.aws import client

TLS_ONLY_SID = "DenyInsecureTransport"


@dataclass(frozen=True)
class StateBackendSpec:
    """Where Terraform keeps its state and lock, and how they are tagged."""

    bucket: str
    table: str
    region: str
    kms_alias: str
    tags: Mapping[str, str] = field(default_factory=dict)
    tls_only_policy: bool = True
    """Deny every non-TLS request in the bucket policy. Left out only on the local emulator: moto 5.2 evaluates a
    Deny statement as if its ``aws:SecureTransport`` condition matched, which would refuse every state read."""
    env: str = ""
    """The environment whose run log (``runs/<env>/``) and releases (``releases/<env>/``) ``readers`` may read."""
    readers: tuple[str, ...] = ()
    """Role ARNs of other accounts that promote from this environment (``pipeline/promotion.py``): the bucket
    policy lets them list and read this environment's run log and releases, the key policy lets them decrypt
    through S3, nothing else. Default: none."""


def bootstrap_state(spec: StateBackendSpec, endpoint: str | None = None) -> list[str]:
    """Create or complete the state backend of ``spec``; return what was done, one line per step.

    ``endpoint`` points every client at the local emulator; None uses real AWS.
    """
    actions: list[str] = []
    key_arn = _ensure_kms_key(spec, client("kms", spec.region, endpoint), actions)
    _ensure_bucket(spec, key_arn, client("s3", spec.region, endpoint), actions)
    _ensure_lock_table(spec, key_arn, client("dynamodb", spec.region, endpoint), actions)
    return actions


def _ensure_kms_key(spec: StateBackendSpec, kms: Any, actions: list[str]) -> str:
    """Find the key by alias or create it (with rotation and the alias); return its ARN."""
    alias = spec.kms_alias if spec.kms_alias.startswith("alias/") else f"alias/{spec.kms_alias}"
    key_id = _alias_target(kms, alias)
    if key_id is None:
        key_id = kms.create_key(
            Description=f"Terraform state for {spec.bucket} and {spec.table}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in spec.tags.items()],
        )["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        actions.append(f"created KMS key {key_id} with alias {alias}")
    else:
        actions.append(f"KMS key {alias} already exists")
    _step(
        actions,
        f"rotation of KMS key {alias}",
        lambda: kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"],
        lambda: kms.enable_key_rotation(KeyId=key_id),
    )
    current_tags = {t["TagKey"]: t["TagValue"] for t in _paginate(kms, "list_resource_tags", "Tags", KeyId=key_id)}
    _step(
        actions,
        f"tags of KMS key {alias}",
        lambda: _has_tags(current_tags, spec.tags),
        lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": k, "TagValue": v} for k, v in spec.tags.items()]),
    )
    if spec.readers:
        from .promotion import key_reader_statement

        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        wanted = key_reader_statement(spec.readers, spec.region)
        others = [st for st in policy.get("Statement", []) if st.get("Sid") != wanted["Sid"]]
        try:
            _step(
                actions,
                f"promotion readers of KMS key {alias} ({', '.join(spec.readers)})",
                lambda: wanted in policy.get("Statement", []),
                lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default",
                                           Policy=json.dumps({**policy, "Statement": [*others, wanted]})),
            )
        except ClientError as exc:  # AWS refuses a principal that does not exist yet
            if _code(exc) != "MalformedPolicyDocumentException":
                raise
            actions.append(f"promotion readers of KMS key {alias} left out ({exc}): bootstrap this environment "
                           "again once the promoting environment's deploy role exists")
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def _ensure_bucket(spec: StateBackendSpec, key_arn: str, s3: Any, actions: list[str]) -> None:
    """Create the state bucket if needed and converge each of its security settings."""
    name = spec.bucket
    try:
        s3.head_bucket(Bucket=name)
        actions.append(f"bucket {name} already exists")
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        options: dict[str, Any] = {}
        if spec.region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
        s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced", **options)
        actions.append(f"created bucket {name}")

    encryption = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True,
            }
        ]
    }
    public_access_block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    tls_statement = _tls_only_statement(name, spec.region)

    _step(
        actions,
        f"versioning of bucket {name}",
        lambda: s3.get_bucket_versioning(Bucket=name).get("Status") == "Enabled",
        lambda: s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"}),
    )
    _step(
        actions,
        f"SSE-KMS default encryption of bucket {name}",
        lambda: _read(
            lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"],
            "ServerSideEncryptionConfigurationNotFoundError",
        )
        == encryption["Rules"],
        lambda: s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption),
    )
    _step(
        actions,
        f"public access block of bucket {name}",
        lambda: _read(
            lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
            "NoSuchPublicAccessBlockConfiguration",
        )
        == public_access_block,
        lambda: s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=public_access_block),
    )
    _step(
        actions,
        f"object ownership of bucket {name}",
        lambda: _read(
            lambda: s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"],
            "OwnershipControlsNotFoundError",
        )
        == ownership,
        lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership),
    )
    if spec.readers:
        from .promotion import READER_SIDS, bucket_reader_statements

        current = json.loads(_read(lambda: s3.get_bucket_policy(Bucket=name)["Policy"], "NoSuchBucketPolicy") or "{}")
        wanted = bucket_reader_statements(name, spec.env, spec.readers)
        kept = [st for st in current.get("Statement", []) if st.get("Sid") not in READER_SIDS]
        try:
            _step(
                actions,
                f"promotion readers of bucket {name} ({', '.join(spec.readers)})",
                lambda: all(st in current.get("Statement", []) for st in wanted),
                lambda: s3.put_bucket_policy(Bucket=name, Policy=json.dumps(
                    {"Version": "2012-10-17", **current, "Statement": [*kept, *wanted]})),
            )
        except ClientError as exc:  # AWS refuses a principal that does not exist yet
            if _code(exc) != "MalformedPolicy":
                raise
            actions.append(f"promotion readers of bucket {name} left out ({exc}): bootstrap this environment "
                           "again once the promoting environment's deploy role exists")
    if not spec.tls_only_policy:
        actions.append(f"TLS-only policy of bucket {name} left out (local emulator)")
        _tag_bucket(spec, s3, actions)
        return
    policy = json.loads(_read(lambda: s3.get_bucket_policy(Bucket=name)["Policy"], "NoSuchBucketPolicy") or "{}")
    statements = [s for s in policy.get("Statement", []) if s.get("Sid") != TLS_ONLY_SID]
    _step(
        actions,
        f"TLS-only policy of bucket {name}",
        lambda: tls_statement in policy.get("Statement", []),
        lambda: s3.put_bucket_policy(
            Bucket=name,
            Policy=json.dumps({"Version": "2012-10-17", **policy, "Statement": [*statements, tls_statement]}),
        ),
    )
    _tag_bucket(spec, s3, actions)


def _tag_bucket(spec: StateBackendSpec, s3: Any, actions: list[str]) -> None:
    name = spec.bucket
    current_tags = {t["Key"]: t["Value"] for t in _read(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"], "NoSuchTagSet") or []}
    _step(
        actions,
        f"tags of bucket {name}",
        lambda: _has_tags(current_tags, spec.tags),
        lambda: s3.put_bucket_tagging(
            Bucket=name,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in {**current_tags, **spec.tags}.items()]},
        ),
    )


def _ensure_lock_table(spec: StateBackendSpec, key_arn: str, dynamodb: Any, actions: list[str]) -> None:
    """Create the lock table if needed and converge encryption, PITR, deletion protection and tags."""
    name = spec.table
    table = _read(lambda: dynamodb.describe_table(TableName=name)["Table"], "ResourceNotFoundException")
    if table is None:
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
            DeletionProtectionEnabled=True,
            Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        table = dynamodb.describe_table(TableName=name)["Table"]
        actions.append(f"created lock table {name}")
    else:
        actions.append(f"lock table {name} already exists")
        if table["KeySchema"] != [{"AttributeName": "LockID", "KeyType": "HASH"}]:
            raise RuntimeError(f"lock table {name} exists with key schema {table['KeySchema']}, not LockID (HASH)")

    sse = table.get("SSEDescription", {})
    _step(
        actions,
        f"SSE-KMS of lock table {name}",
        lambda: sse.get("Status") == "ENABLED" and sse.get("SSEType") == "KMS",
        lambda: dynamodb.update_table(
            TableName=name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
        ),
    )
    _step(
        actions,
        f"deletion protection of lock table {name}",
        lambda: bool(table.get("DeletionProtectionEnabled")),
        lambda: dynamodb.update_table(TableName=name, DeletionProtectionEnabled=True),
    )
    _step(
        actions,
        f"point-in-time recovery of lock table {name}",
        lambda: dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus")
        == "ENABLED",
        lambda: dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        ),
    )
    arn = table["TableArn"]
    current_tags = {t["Key"]: t["Value"] for t in _paginate(dynamodb, "list_tags_of_resource", "Tags", ResourceArn=arn)}
    _step(
        actions,
        f"tags of lock table {name}",
        lambda: _has_tags(current_tags, spec.tags),
        lambda: dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()]),
    )


def _step(actions: list[str], what: str, is_configured: Callable[[], bool], configure: Callable[[], object]) -> None:
    """Run ``configure`` unless ``is_configured()``; record "configured X" or "X already configured"."""
    if is_configured():
        actions.append(f"{what} already configured")
    else:
        configure()
        actions.append(f"configured {what}")


def _read(call: Callable[[], Any], missing_code: str) -> Any:
    """``call()``, or None when it fails with the error code meaning "not set"."""
    try:
        return call()
    except ClientError as exc:
        if _code(exc) == missing_code:
            return None
        raise


def _alias_target(kms: Any, alias: str) -> str | None:
    """The key id the KMS alias points to, or None."""
    for entry in _paginate(kms, "list_aliases", "Aliases"):
        if entry["AliasName"] == alias and entry.get("TargetKeyId"):
            return str(entry["TargetKeyId"])
    return None


def _paginate(api: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """All items under ``key`` across the pages of ``operation``."""
    if api.can_paginate(operation):
        return [item for page in api.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]
    return list(getattr(api, operation)(**kwargs).get(key, []))


def _has_tags(current: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """True if every wanted tag is present with its value."""
    return all(current.get(k) == v for k, v in wanted.items())


def _tls_only_statement(bucket: str, region: str) -> dict[str, Any]:
    """The statement denying every non-TLS request to the bucket and its objects."""
    partition = boto3.session.Session().get_partition_for_region(region)
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _code(exc: ClientError) -> str:
    """The AWS error code of ``exc``."""
    return str(exc.response.get("Error", {}).get("Code", ""))
