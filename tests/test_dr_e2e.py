"""`dr failover` and `dr failback` end to end on TWO emulated regions, through the real CLI, on a small environment of
its own (tests/envs/dr: network + app tier + database in us-east-1, pilot light in us-west-2, project ``drtest``):
deploy (every gate, empty re-plan), a cross-region copy of the primary database, failover (restore in the DR region,
DR group scaled to the primary's capacity, healthy targets, DNS switched), failback (refused without
--keep-primary-data while the primary exists, then done). The emulator of its own is discarded afterwards (the
guarded destroy is the spine test's).

What the emulator cannot do, and how it is covered instead (README "coverage"): a cross-region read replica (moto
cannot read one back: ``rds_read_replica``), so the failover restores from the newest copy in the DR region — the
copy is made here with CopyDBSnapshot, standing in for the AWS Backup copy job moto does not run; the replica itself
is covered by tests/test_dr.py on the aws target's JSON, `terraform validate` and the gate. Route 53 health checks
are not evaluated by moto, so DNS is verified by the record state (inverted check, failover pairs aliasing the DR
load balancer), not by a resolver answer."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, own_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PRIMARY, DR = "us-east-1", "us-west-2"


class DrEnv:
    def __init__(self, root: Path, envs: Path, endpoint: str, settings: Any) -> None:
        self.root, self.envs, self.endpoint, self.settings = root, envs, endpoint, settings

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(self.envs), *args],
                              cwd=self.root, capture_output=True, text=True, timeout=1200,
                              env={**os.environ, "PYTHONUNBUFFERED": "1",
                                   "PLATFORM_BUILD_DIR": str(self.root / ".build")})

    def client(self, service: str, region: str = PRIMARY) -> Any:
        from pipeline.aws import client

        return client(service, region, self.endpoint)


@pytest.fixture(scope="module")
def dr_env(workspace: Path) -> Any:
    import envs

    root = workspace / "dr"
    folder = root / "envs"
    shutil.copytree(ROOT / "tests" / "envs" / "dr", folder)
    with own_emulator(root / ".build" / "local") as emulator:
        env = DrEnv(root, folder, emulator.endpoint, envs.load("dev", folder))
        deployed = env.cli("deploy", "--env", "dev")
        assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]
        assert "re-plan: no changes" in deployed.stdout
        yield env


def _runs(env: DrEnv, kind: str) -> list[dict[str, Any]]:
    s3, bucket = env.client("s3"), env.settings.state_bucket
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="runs/dev/").get("Contents", []))
    records = [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    return [r for r in records if r["kind"] == kind]


def test_failover_then_failback_on_two_regions(dr_env: DrEnv) -> None:
    prefix = dr_env.settings.name_prefix
    rds, rds_dr = dr_env.client("rds"), dr_env.client("rds", DR)
    asg_dr, r53 = dr_env.client("autoscaling", DR), dr_env.client("route53")
    dr_asgs = [f"{prefix}-dr-app-blue", f"{prefix}-dr-app-green"]

    # The pilot light as deployed: DR groups at zero, the DR load balancer, the replicated secret, the failover pairs.
    groups = asg_dr.describe_auto_scaling_groups(AutoScalingGroupNames=dr_asgs)["AutoScalingGroups"]
    assert sorted((g["AutoScalingGroupName"], g["MinSize"], g["DesiredCapacity"]) for g in groups) == \
        sorted((n, 0, 0) for n in dr_asgs)
    (dr_lb,) = dr_env.client("elbv2", DR).describe_load_balancers(Names=[f"{prefix}-dr-alb"])["LoadBalancers"]
    secret = dr_env.client("secretsmanager").describe_secret(SecretId=f"{prefix}/app/runtime")
    assert [r["Region"] for r in secret["ReplicationStatus"]] == [DR]
    assert dr_env.client("secretsmanager", DR).describe_secret(SecretId=f"{prefix}/app/runtime")["Name"]
    zone = r53.list_hosted_zones_by_name(DNSName=f"dev.{dr_env.settings.tags.project}.example.com")["HostedZones"][0]
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    pairs = {(r["Name"].split(".")[0], r["Failover"]): r for r in records if r.get("Failover")}
    assert set(pairs) == {(n, f) for n in ("app", "origin") for f in ("PRIMARY", "SECONDARY")}
    for name in ("app", "origin"):
        assert pairs[(name, "SECONDARY")]["AliasTarget"]["DNSName"].rstrip(".").lower() == dr_lb["DNSName"].lower()
    primary_check = pairs[("app", "PRIMARY")]["HealthCheckId"]
    assert r53.get_health_check(HealthCheckId=primary_check)["HealthCheck"]["HealthCheckConfig"]["ResourcePath"] \
        == "/health"

    # Nothing to restore yet: the failover fails (exit 1) at the database step and says why.
    nothing = dr_env.cli("dr", "failover", "--env", "dev")
    assert nothing.returncode == 1, nothing.stdout + nothing.stderr
    assert "no cross-region copy" in nothing.stderr

    # The cross-region copy (what the AWS Backup copy job makes on AWS; moto does not run backup plans).
    snapshot = rds.create_db_snapshot(DBInstanceIdentifier=f"{prefix}-postgres",
                                      DBSnapshotIdentifier=f"{prefix}-copy-source")["DBSnapshot"]
    dr_key = dr_env.client("kms", DR).describe_key(KeyId=f"alias/{prefix}-dr-data")["KeyMetadata"]["Arn"]
    rds_dr.copy_db_snapshot(SourceDBSnapshotIdentifier=snapshot["DBSnapshotArn"], SourceRegion=PRIMARY,
                            TargetDBSnapshotIdentifier=f"{prefix}-copy", KmsKeyId=dr_key)

    over = dr_env.cli("dr", "failover", "--env", "dev")
    assert over.returncode == 0, over.stdout + over.stderr
    (db,) = rds_dr.describe_db_instances(DBInstanceIdentifier=f"{prefix}-dr-postgres")["DBInstances"]
    assert db["DBInstanceStatus"] == "available" and not db.get("ReadReplicaSourceDBInstanceIdentifier")
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == f"{prefix}-dr-database"
    assert db["IAMDatabaseAuthenticationEnabled"] and not db["PubliclyAccessible"]
    assert db["MasterUserSecret"]["SecretArn"].startswith(f"arn:aws:secretsmanager:{DR}:")
    primary_desired = sum(g["DesiredCapacity"] for g in dr_env.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{prefix}-app-blue", f"{prefix}-app-green"])["AutoScalingGroups"])
    blue = asg_dr.describe_auto_scaling_groups(AutoScalingGroupNames=[dr_asgs[0]])["AutoScalingGroups"][0]
    assert blue["DesiredCapacity"] == blue["MinSize"] == min(primary_desired, blue["MaxSize"]) > 0
    assert len(blue["Instances"]) == blue["DesiredCapacity"]
    assert r53.get_health_check(HealthCheckId=primary_check)["HealthCheck"]["HealthCheckConfig"]["Inverted"] is True
    (run,) = _runs(dr_env, "dr-failover")[-1:]
    assert run["status"] == "succeeded"
    assert [(s["name"], s["status"]) for s in run["steps"]] == [
        ("database", "ok"), ("scale", "ok"), ("health", "ok"), ("dns", "ok")]
    assert f"{prefix}-copy" in run["steps"][0]["detail"]

    # Failback while the primary database exists: refused (exit 1) unless the operator keeps its data.
    refused = dr_env.cli("dr", "failback", "--env", "dev")
    assert refused.returncode == 1 and "--keep-primary-data" in refused.stderr, refused.stdout + refused.stderr
    assert rds_dr.describe_db_instances(DBInstanceIdentifier=f"{prefix}-dr-postgres")["DBInstances"]
    back = dr_env.cli("dr", "failback", "--env", "dev", "--keep-primary-data")
    assert back.returncode == 0, back.stdout + back.stderr
    assert r53.get_health_check(HealthCheckId=primary_check)["HealthCheck"]["HealthCheckConfig"]["Inverted"] is False
    groups = asg_dr.describe_auto_scaling_groups(AutoScalingGroupNames=dr_asgs)["AutoScalingGroups"]
    assert all(g["MinSize"] == g["DesiredCapacity"] == 0 for g in groups)
    assert not [i for i in rds_dr.describe_db_instances()["DBInstances"]
                if i["DBInstanceIdentifier"] == f"{prefix}-dr-postgres"]
    copies = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]]
    assert any(c.startswith(f"{prefix}-postgres-failback-") for c in copies)
    (run,) = _runs(dr_env, "dr-failback")[-1:]
    assert run["status"] == "succeeded"
    assert [s["name"] for s in run["steps"]] == ["primary-health", "database-snapshot", "database", "dns", "scale",
                                                 "replication"]
    # No destroy here: the guarded destroy that leaves nothing is proven on the release environment
    # (tests/test_release_e2e.py) and by the cleanup (tests/test_promotion_e2e.py); this test's own emulator (stopped
    # by the fixture) discards everything, which saves the suite ~2.5 minutes.
