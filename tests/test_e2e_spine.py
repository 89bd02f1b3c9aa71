"""End to end on the local target: bootstrap, deploy dev through the real CLI (gates, saved plan, re-plan), verify
with boto3, concurrency refused by the lock. Drift 0 -> 1 and its correction run on a small environment
(tests/test_orchestrator_e2e.py), the guarded destroy that leaves nothing on the release environment
(tests/test_release_e2e.py) and in the cleanup of tests/test_promotion_e2e.py."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Deployment, cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy

REQUIRED_TAGS = {"Environment", "Project", "Owner", "CostCenter", "ManagedBy"}


def dev_vpc(deployed: Deployment) -> dict[str, Any]:
    vpcs = deployed.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": ["dev"]},
                                                         {"Name": "tag:ManagedBy", "Values": ["platform-iac"]}])["Vpcs"]
    assert len(vpcs) == 1, vpcs
    return vpcs[0]


def test_deploy_ran_every_gate_and_verified_an_empty_replan(deployed_dev: Deployment) -> None:
    out = deployed_dev.first.stdout
    for step in ("bootstrap: created bucket", "terraform init", "terraform plan", "review:",
                 "terraform apply tfplan", "re-plan: no changes", "[dev] deployed"):
        assert step in out, f"{step!r} missing from the deploy output:\n{out}"
    assert out.index("terraform plan") < out.index("terraform apply tfplan") < out.index("re-plan: no changes")


def test_concurrent_deploy_is_refused_by_the_state_lock(deployed_dev: Deployment) -> None:
    second = deployed_dev.concurrent
    assert second.returncode == 1, second.stdout + second.stderr
    assert "is locked by another run" in second.stderr
    assert "terraform apply" not in second.stdout
    # the state is intact: the first deploy's re-plan came back empty (asserted above) and state holds the VPC
    s3 = deployed_dev.client("s3")
    bucket = "webplatform-tfstate-111111111111-us-east-1"
    state = json.loads(s3.get_object(Bucket=bucket, Key="dev/terraform.tfstate")["Body"].read())
    assert any(r["type"] == "aws_vpc" for r in state["resources"])
    lock_items = deployed_dev.client("dynamodb").scan(TableName="webplatform-tflock")["Items"]
    assert not [i for i in lock_items if "Info" in i], "the lock must be released after both runs"


def test_state_backend_is_locked_down(deployed_dev: Deployment) -> None:
    s3 = deployed_dev.client("s3")
    bucket = "webplatform-tfstate-111111111111-us-east-1"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    table = deployed_dev.client("dynamodb")
    backups = table.describe_continuous_backups(TableName="webplatform-tflock")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_network_verified_with_boto3(deployed_dev: Deployment, settings: dict) -> None:
    ec2 = deployed_dev.client("ec2")
    vpc = dev_vpc(deployed_dev)
    assert vpc["CidrBlock"] == settings["dev"].network.vpc_cidr
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert REQUIRED_TAGS <= set(tags) and tags["Name"] == "webplatform-dev-vpc"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    by_tier: dict[str, list[str]] = {}
    for subnet in subnets:
        subnet_tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
        assert REQUIRED_TAGS <= set(subnet_tags)
        by_tier.setdefault(subnet_tags["Tier"], []).append(subnet["AvailabilityZone"])
        assert subnet["MapPublicIpOnLaunch"] is False
    assert {tier: sorted(azs) for tier, azs in by_tier.items()} == {
        tier: ["us-east-1a", "us-east-1b"] for tier in ("public", "private", "database")}
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                              {"Name": "state", "Values": ["available"]}])["NatGateways"]
    assert len(nats) == 1  # dev: nat_strategy = "single"
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert len(flow_logs) == 1 and flow_logs[0]["TrafficType"] == "ALL"
    groups = deployed_dev.client("logs").describe_log_groups(
        logGroupNamePrefix="/vpc/webplatform-dev/flow-logs")["logGroups"]
    assert groups[0]["retentionInDays"] == 30 and groups[0]["kmsKeyId"].startswith("arn:aws:kms:")
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                       {"Name": "group-name", "Values": ["default"]}])
    (sg,) = default_sg["SecurityGroups"]
    assert sg["IpPermissions"] == [] and sg["IpPermissionsEgress"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                    {"Name": "vpc-endpoint-type", "Values": ["Gateway"]}])
    assert sorted(e["ServiceName"].rsplit(".", 1)[1] for e in endpoints["VpcEndpoints"]) == ["dynamodb", "s3"]


def test_destroy_without_yes_destroys_nothing(deployed_dev: Deployment) -> None:
    # The guarded destroy that leaves nothing runs on the small environments (tests/test_release_e2e.py through the
    # CLI, tests/test_promotion_e2e.py's cleanup): a destroy of the whole dev platform re-reads every resource and
    # would cost this suite more than any other single step (issue #12).
    refused = cli("destroy", "--env", "dev", cwd=deployed_dev.cwd)
    assert refused.returncode == 2 and "--yes" in refused.stderr  # no terminal, no --yes: nothing destroyed
    dev_vpc(deployed_dev)


def test_destroy_of_protected_environment_needs_override(deployed_dev: Deployment) -> None:
    refused = cli("destroy", "--env", "prod", "--yes", cwd=deployed_dev.cwd)
    assert refused.returncode == 2
    assert "--allow-protected" in refused.stderr
