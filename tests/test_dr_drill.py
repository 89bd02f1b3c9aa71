"""The DR drill (``pipeline/dr_drill.py``).

Unit tests: the manifest's tags, the objective verdicts, the settings' refusals. End to end (on the shared ``dev``
deployment, its emulator and real PostgreSQL binaries): a local PostgreSQL cluster stands for dev's primary; the
backup-time job records the manifest, snapshots the primary and copies it to the DR region (moto), with the pg_dump
stand-in; ``dr drill --env dev`` restores the copy into an isolated instance in us-west-2, restores the dump into a
fresh cluster, validates, reports RTO/RPO and cleans up; then a backup whose contents no longer match its manifest
makes the drill exit 1.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from pipeline import dr_drill
from pipeline.aws import client
from pipeline.dr_drill import DrillReport, Manifest

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "webplatform-dev"

SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id),
                     total_cents integer NOT NULL, placed_at timestamptz NOT NULL);
"""


# -- unit -----------------------------------------------------------------------------------------------------------

def test_manifest_round_trips_through_snapshot_tags_and_hashes_its_content() -> None:
    m = Manifest(tables={"orders": {"rows": 120, "checksum": "0" * 32}, "sales.items": {"rows": 3, "checksum": "a" * 32}},
                 queries={"orders_total": "b" * 32}, recorded_at="2026-12-02T05:00:00Z")
    tags = m.tags()
    assert {"Key": "drill:table:orders", "Value": f"120:{'0' * 32}"} in tags
    back = Manifest.from_tags(tags)
    assert back is not None and back.tables == m.tables and back.queries == m.queries
    assert back.sha256() == m.sha256() == {t["Key"]: t["Value"] for t in tags}["drill:manifest-sha256"]
    changed = Manifest(tables={**m.tables, "orders": {"rows": 121, "checksum": "0" * 32}}, queries=m.queries,
                       recorded_at=m.recorded_at)
    assert changed.sha256() != m.sha256()
    assert Manifest.from_tags([{"Key": "Environment", "Value": "dev"}]) is None  # not a drill backup
    # every tag value keeps to RDS's tag characters and 256 characters
    assert all(len(t["Value"]) <= 256 and len(t["Key"]) <= 128 for t in tags)


@pytest.mark.parametrize("rto_s, rpo_s, valid, status", [
    (600.0, 3000.0, True, "passed"),          # both within 20 min / 60 min
    (1200.0, 3600.0, True, "passed"),         # exactly at the objectives: met
    (1200.1, 60.0, True, "failed"),           # RTO missed
    (60.0, 3600.1, True, "failed"),           # RPO missed
    (60.0, 60.0, False, "failed"),            # validation failed
])
def test_verdict_compares_measured_rto_and_rpo_with_the_objectives(rto_s: float, rpo_s: float, valid: bool,
                                                                   status: str) -> None:
    r = DrillReport(env="dev", target="local", region="us-east-1", dr_region="us-west-2", started_at="x",
                    rto_minutes_objective=20, rpo_minutes_objective=60, rto_seconds=rto_s, rpo_seconds=rpo_s,
                    validation_passed=valid)
    dr_drill.evaluate(r)
    assert r.status == status
    assert r.rto_met == (rto_s <= 1200) and r.rpo_met == (rpo_s <= 3600)
    assert ("MISSED" in r.markdown()) == (not (r.rto_met and r.rpo_met))


def test_a_restore_that_never_happened_fails_the_drill() -> None:
    r = DrillReport(env="dev", target="local", region="us-east-1", dr_region="us-west-2", started_at="x",
                    rto_minutes_objective=20, rpo_minutes_objective=60, error="no snapshot copy")
    assert dr_drill.evaluate(r).status == "failed" and r.rto_met is None


def _write_env(folder: Path, drill: str) -> None:
    text = (ROOT / "envs" / "dev.toml").read_text()
    start = text.index("[data.dr.drill]")
    end = text.index("\n[", start + 1)
    (folder / "dev.toml").write_text(text[:start] + drill + text[end:])


@pytest.mark.parametrize("drill, message", [
    ('[data.dr.drill]\ntables = ["orders; drop table x"]\n', "data.dr.drill.tables"),
    ('[data.dr.drill]\nqueries = { wipe = "DELETE FROM orders" }\n', "data.dr.drill.queries.wipe"),
    ('[data.dr.drill]\ntables = []\n', "[data.dr.drill] names no table and no query"),
])
def test_bad_drill_settings_exit_2_naming_the_field(tmp_path: Path, drill: str, message: str) -> None:
    _write_env(tmp_path, drill)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(tmp_path), "dr", "drill",
                           "--env", "dev"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


# -- end to end -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def primary() -> Iterator[str]:
    """A local PostgreSQL cluster standing for dev's primary database (db ``app``), with the drill's tables."""
    import psycopg

    with dr_drill.LocalCluster("primary") as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        with psycopg.connect(cluster.dsn("app")) as conn:
            conn.execute(SCHEMA)
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO customers (email, full_name) VALUES (%s, %s)",
                                [(f"user{i}@example.com", f"User {i}") for i in range(150)])
                cur.executemany("INSERT INTO orders (customer_id, total_cents, placed_at) VALUES (%s, %s, %s)",
                                [(1 + i % 150, 100 + i * 7, dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
                                  + dt.timedelta(minutes=i)) for i in range(400)])
        yield cluster.dsn("app")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _cleanup(dev: Any) -> None:
    """Remove what the backup-time job made (snapshots in both regions, the stand-in bucket)."""
    for region in ("us-east-1", "us-west-2"):
        rds = client("rds", region, dev.endpoint)
        for snap in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
            if snap["DBSnapshotIdentifier"].startswith(f"{PREFIX}-postgres-drill-"):
                rds.delete_db_snapshot(DBSnapshotIdentifier=snap["DBSnapshotIdentifier"])
    s3 = client("s3", "us-west-2", dev.endpoint)
    bucket = f"{PREFIX}-drill-standin-111111111111-us-west-2"
    try:
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass


@pytest.mark.e2e
@pytest.mark.timeout(2400)  # the first test of the shared deployment pays for it
def test_dr_drill_on_dev_restores_validates_and_reports_rto_rpo(deployed_dev: Any, primary: str,
                                                                tmp_path: Path) -> None:
    import psycopg

    dev = deployed_dev
    try:
        rec = _run("-m", "pipeline.dr_drill", "record", "--env", "dev", "--dsn", primary, cwd=dev.cwd)
        assert rec.returncode == 0, rec.stdout + rec.stderr
        made = json.loads(rec.stdout[rec.stdout.index("{"):])
        rds_dr = client("rds", "us-west-2", dev.endpoint)
        (copy,) = rds_dr.describe_db_snapshots(DBSnapshotIdentifier=made["snapshot"])["DBSnapshots"]
        assert copy["Encrypted"] is True
        tags = {t["Key"]: t["Value"] for t in rds_dr.list_tags_for_resource(ResourceName=copy["DBSnapshotArn"])["TagList"]}
        assert tags["drill:table:orders"].startswith("400:") and tags["drill:table:customers"].startswith("150:")
        assert tags["drill:manifest-sha256"] == made["manifest_sha256"]

        out = tmp_path / "reports"
        done = _run(str(ROOT / "main.py"), "dr", "drill", "--env", "dev", "--output", str(out), cwd=dev.cwd)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((out / "dr-drill-dev.json").read_text())
        assert report["status"] == "passed" and report["validation_passed"] is True and report["error"] is None
        assert report["snapshot"] == made["snapshot"]
        # measured values, compared with dev's objectives (RTO 480 min, RPO 1440 min)
        assert report["rto_minutes_objective"] == 480 and report["rpo_minutes_objective"] == 1440
        assert 0 < report["rto_seconds"] < 300 and report["rto_met"] is True
        assert 0 <= report["rpo_seconds"] < 600 and report["rpo_met"] is True
        assert report["rto_seconds"] >= sum(s["seconds"] for s in report["steps"]) - 1
        checks = {v["check"]: v for v in report["validation"]}
        assert set(checks) == {"table customers", "table orders", "query orders_total_cents"}
        assert all(v["ok"] for v in checks.values())
        assert checks["table orders"]["actual"]["rows"] == 400
        total = sum(100 + i * 7 for i in range(400))
        assert json.loads(checks["query orders_total_cents"]["value"]) == [[str(total)]]
        # the isolated copy: its own identifier in the DR region, private, encrypted, only the drill's group
        assert report["restored_instance"].startswith(f"{PREFIX}-drill-")
        assert report["isolation"]["publicly_accessible"] is False
        assert report["isolation"]["storage_encrypted"] is True
        assert report["isolation"]["security_groups"] == [report["security_group"]]
        # ... and gone afterwards
        ids = [d["DBInstanceIdentifier"] for d in rds_dr.describe_db_instances()["DBInstances"]]
        assert report["restored_instance"] not in ids
        assert report["subnet_group_created"] is True and report["subnet_group"].startswith(f"{PREFIX}-drill-")
        assert report["subnet_group"] not in [g["DBSubnetGroupName"]
                                              for g in rds_dr.describe_db_subnet_groups()["DBSubnetGroups"]]
        ec2 = client("ec2", "us-west-2", dev.endpoint)
        assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [report["security_group"]]}])[
            "SecurityGroups"]
        md = (out / "dr-drill-dev.md").read_text()
        assert "DR drill: dev (local), PASSED" in md and "| RTO (start to validated restore) | 480 min |" in md
        assert "stands in for the snapshot's contents" in md
        # the run log next to the state
        s3 = dev.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="webplatform-tfstate-111111111111-us-east-1",
                                                      Prefix="runs/dev/").get("Contents", [])]
        records = [json.loads(s3.get_object(Bucket="webplatform-tfstate-111111111111-us-east-1", Key=k)["Body"].read())
                   for k in keys]
        drills = [r for r in records if r["kind"] == "dr-drill"]
        assert drills and drills[-1]["status"] == "succeeded"
        assert drills[-1]["source"]["drill"]["rto_seconds"] == report["rto_seconds"]

        # A backup whose contents no longer match its manifest (an order lost between the manifest and the data):
        # the stand-in dump is replaced by one without order 400, its digest re-tagged: the drill must fail.
        with psycopg.connect(primary) as conn:
            conn.execute("DELETE FROM orders WHERE id = 400")
        dump = tmp_path / "bad.dump"
        subprocess.run([str(dr_drill.pg_bindir() / "pg_dump"), "--format=custom", "--no-owner", "--file", str(dump),
                        primary], check=True, capture_output=True)
        body = dump.read_bytes()
        s3_dr = client("s3", "us-west-2", dev.endpoint)
        s3_dr.put_object(Bucket=f"{PREFIX}-drill-standin-111111111111-us-west-2", Key=tags["drill:dump-key"],
                         Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=f"alias/{PREFIX}-dr")
        rds_dr.add_tags_to_resource(ResourceName=copy["DBSnapshotArn"], Tags=[
            {"Key": "drill:dump-sha256", "Value": hashlib.sha256(body).hexdigest()}])
        bad = _run(str(ROOT / "main.py"), "dr", "drill", "--env", "dev", "--output", str(out), cwd=dev.cwd)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        report = json.loads((out / "dr-drill-dev.json").read_text())
        assert report["status"] == "failed" and report["validation_passed"] is False
        checks = {v["check"]: v for v in report["validation"]}
        assert checks["table orders"]["ok"] is False and checks["table orders"]["detail"] == "rows 399 (manifest 400)"
        assert checks["query orders_total_cents"]["ok"] is False
        assert checks["table customers"]["ok"] is True
        assert report["rto_met"] is True and report["rpo_met"] is True  # the objectives alone would have passed
        assert "FAILED" in (out / "dr-drill-dev.md").read_text()
        assert report["restored_instance"] not in [d["DBInstanceIdentifier"]
                                                   for d in rds_dr.describe_db_instances()["DBInstances"]]
    finally:
        _cleanup(dev)
