"""The data tier of dev deployed to the local emulator (the shared ``deployed_dev`` deployment), verified with boto3.

What the emulator cannot create (read replicas, automated backups replication, ElastiCache replication groups,
backup selections; see envs/target.py EMULATOR_UNSUPPORTED) is covered by tests/test_data_tier.py, validate and
plan instead.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy

PREFIX = "webplatform-dev"


@pytest.fixture(scope="module")
def dev(deployed_dev: Any) -> Any:
    return deployed_dev


def test_rds_primary_is_private_encrypted_with_a_managed_secret(dev: Any) -> None:
    rds = dev.client("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=f"{PREFIX}-postgres")["DBInstances"]
    assert db["Engine"] == "postgres" and db["DBInstanceStatus"] == "available"
    assert db["StorageEncrypted"] is True and db["KmsKeyId"]
    assert db["PubliclyAccessible"] is False
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    assert db["BackupRetentionPeriod"] == 7 and db["CopyTagsToSnapshot"] is True
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == f"{PREFIX}-database"
    assert db["MasterUserSecret"]["SecretArn"].startswith("arn:aws:secretsmanager:")
    assert set(db["EnabledCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"])["TagList"]}
    assert tags["Backup"] == f"{PREFIX}-backup" and tags["Environment"] == "dev"
    (group,) = db["DBParameterGroups"]
    params = {p["ParameterName"]: p.get("ParameterValue") for p in rds.describe_db_parameters(
        DBParameterGroupName=group["DBParameterGroupName"], Source="user")["Parameters"]}
    assert params.get("rds.force_ssl") == "1"
    assert params.get("shared_preload_libraries") == "pg_stat_statements"


def test_database_security_group_admits_only_groups(dev: Any) -> None:
    ec2 = dev.client("ec2")
    (sg,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-database"]}])[
        "SecurityGroups"]
    for perm in sg["IpPermissions"]:
        assert not perm.get("IpRanges") and not perm.get("Ipv6Ranges"), perm
        assert perm["FromPort"] == perm["ToPort"] == 5432
        assert perm["UserIdGroupPairs"]


def test_buckets_versioned_kms_private_tls_only(dev: Any) -> None:
    s3 = dev.client("s3")
    def key(name: str) -> str:
        return "cdn-logs" if name.startswith(f"{PREFIX}-cdn-logs") else name.split("-")[2]

    # the data tier's buckets (other tiers own e.g. the audit and ALB log buckets, verified by their tests)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{PREFIX}-")
             and key(b["Name"]) in ("app", "static", "logs", "cdn-logs")]
    assert {"app", "static", "logs", "cdn-logs"} == {key(n) for n in names}, names
    for name in names:
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        (rule,) = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith("arn:aws:kms:")
        pab = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(pab.values()) and len(pab) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for st in policy["Statement"])
        lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert lifecycle and lifecycle[0]["Status"] == "Enabled"
        assert lifecycle[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
        ownership = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        assert ownership == ("BucketOwnerPreferred" if "cdn-logs" in name else "BucketOwnerEnforced")
        logging = s3.get_bucket_logging(Bucket=name).get("LoggingEnabled")
        if "-logs-" in name and "cdn-logs" not in name:
            assert logging is None
        else:
            assert logging and logging["TargetBucket"].startswith(f"{PREFIX}-logs-")


def test_cloudfront_distribution_with_oac_and_logging(dev: Any) -> None:
    cf = dev.client("cloudfront")
    dists = [d for d in cf.list_distributions()["DistributionList"].get("Items", [])
             if d.get("Comment", "").startswith(PREFIX)]
    assert len(dists) == 1
    config = cf.get_distribution_config(Id=dists[0]["Id"])["DistributionConfig"]
    assert config["Enabled"] is True and config["PriceClass"] == "PriceClass_100"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Logging"]["Enabled"] is True and "cdn-logs" in config["Logging"]["Bucket"]
    static = [o for o in config["Origins"]["Items"] if o["Id"] == "static-s3"]
    assert static and static[0]["DomainName"].startswith(f"{PREFIX}-static-")
    oacs = cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", [])
    assert any(o["Name"] == f"{PREFIX}-static" and o["SigningBehavior"] == "always" for o in oacs)


def test_backup_vaults_in_both_regions_and_plan_with_copy(dev: Any, settings: dict) -> None:
    from pipeline.aws import client

    backup = dev.client("backup")
    vaults = {v["BackupVaultName"]: v for v in backup.list_backup_vaults()["BackupVaultList"]}
    assert vaults[f"{PREFIX}-vault"]["EncryptionKeyArn"].startswith("arn:aws:kms:us-east-1:")
    dr = client("backup", settings["dev"].dr_region, dev.endpoint)
    dr_vaults = {v["BackupVaultName"]: v for v in dr.list_backup_vaults()["BackupVaultList"]}
    assert dr_vaults[f"{PREFIX}-vault-dr"]["EncryptionKeyArn"].startswith(f"arn:aws:kms:{settings['dev'].dr_region}:")
    plans = {p["BackupPlanName"]: p for p in backup.list_backup_plans()["BackupPlansList"]}
    plan = backup.get_backup_plan(BackupPlanId=plans[f"{PREFIX}-backup"]["BackupPlanId"])["BackupPlan"]
    rules = {r["RuleName"]: r for r in plan["Rules"]}
    assert rules["daily"]["Lifecycle"]["DeleteAfterDays"] == 7
    assert rules["weekly"]["Lifecycle"]["DeleteAfterDays"] == 35
    assert all(r["CopyActions"][0]["DestinationBackupVaultArn"].endswith(f"{PREFIX}-vault-dr") for r in rules.values())


def test_dr_key_zone_and_alarms(dev: Any, settings: dict) -> None:
    from pipeline.aws import client

    kms = client("kms", settings["dev"].dr_region, dev.endpoint)
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    key_id = aliases[f"alias/{PREFIX}-dr"]["TargetKeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    zones = [z for z in dev.client("route53").list_hosted_zones()["HostedZones"]
             if z["Name"] == "dev.webplatform.example.com."]
    assert len(zones) == 1
    cw = dev.client("cloudwatch")
    names = {a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]}
    assert {f"{PREFIX}-postgres-cpu-high", f"{PREFIX}-postgres-free-storage-low", f"{PREFIX}-backup-jobs-failed",
            f"{PREFIX}-backup-copy-jobs-failed"} <= names
