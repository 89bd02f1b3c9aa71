"""``env sync`` on the local target: the plan report, the refusals, and an executed sync (moto: snapshot of the
production instance, restore into a new instance identifier) followed by the masking job on a real PostgreSQL
server standing in for the restored database (moto's RDS has no database engine behind it).

The module has an emulator of its own: moto gives every DB instance one and the same ``DbiResourceId``, and the AWS
provider finds an instance by that id, so the instances this module creates would make the shared dev deployment's
database unfindable ("couldn't find resource") on the session's emulator."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, LocalEmulator, own_emulator
from tests.test_masking import CUSTOMERS, _load, postgres  # noqa: F401 - the throwaway PostgreSQL fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PROJECT, REGION = "dlvsync", "us-east-1"


def _envs(tmp: Path) -> Path:
    import tomllib

    from tests.harness.delivery import dump_toml as _dump

    d = tmp / "envs"
    d.mkdir()
    for source, name, account, cidr in (("prod", "prod", "666666666666", "10.60.0.0/16"),
                                        ("staging", "staging", "777777777777", "10.61.0.0/16")):
        doc = tomllib.loads((ROOT / "envs" / f"{source}.toml").read_text())
        doc.update(name=name, account_id=account)
        doc["tags"]["project"], doc["network"]["vpc_cidr"] = PROJECT, cidr
        (d / f"{name}.toml").write_text(_dump(doc))
    return d


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """This module's own moto server (see the module's docstring), its build folder beside it."""
    with own_emulator(tmp_path_factory.mktemp("envsync") / ".build" / "local") as running:
        yield running


def _cli(emulator: LocalEmulator, envs: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs), *args],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PLATFORM_BUILD_DIR": str(emulator.state_dir.parent), **env})


def test_sync_plan_and_refusals(tmp_path: Path, emulator: LocalEmulator) -> None:
    envs = _envs(tmp_path)
    plan = _cli(emulator, envs, "env", "sync", "--from", "prod", "--to", "staging", "--format", "json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    doc = json.loads(plan.stdout)
    assert doc["source_instance"] == f"{PROJECT}-prod-postgres" and doc["target_instance"] == \
        f"{PROJECT}-staging-postgres"
    assert doc["snapshot"].startswith(f"{PROJECT}-prod-postgres-sync-")
    assert doc["restored_instance"].startswith(f"{PROJECT}-staging-postgres-sync-")
    assert "customers.email -> email" in doc["masked_columns"] and len(doc["steps"]) == 7
    assert doc["executed"] == []
    into_prod = _cli(emulator, envs, "env", "sync", "--from", "staging", "--to", "prod")
    assert into_prod.returncode == 1 and "prod is protected" in into_prod.stderr
    same = _cli(emulator, envs, "env", "sync", "--from", "prod", "--to", "prod")
    # bad arguments: exit 2 with the reason, never a traceback (which would also exit non-zero)
    assert same.returncode == 2, same.stdout + same.stderr
    assert "--from and --to name the same environment" in same.stderr and "Traceback" not in same.stderr
    bad_rules = tmp_path / "rules.toml"
    bad_rules.write_text('[tables.t.columns]\nc = "shuffle"\n')
    bad = _cli(emulator, envs, "env", "sync", "--from", "prod", "--to", "staging", "--rules", str(bad_rules))
    assert bad.returncode == 2 and "use one of" in bad.stderr


def test_executed_sync_restores_a_snapshot_and_masks(tmp_path: Path, emulator: LocalEmulator,
                                                     postgres: str) -> None:  # noqa: F811
    import psycopg

    from pipeline.aws import client

    envs = _envs(tmp_path)
    rds = client("rds", REGION, emulator.endpoint)
    rds.create_db_instance(DBInstanceIdentifier=f"{PROJECT}-prod-postgres", Engine="postgres",
                           DBInstanceClass="db.t4g.micro", AllocatedStorage=20, MasterUsername="dbadmin",
                           MasterUserPassword="not-a-real-password-1")
    with psycopg.connect(postgres) as conn:
        _load(conn)  # the "restored" database: production-like rows
    started = time.monotonic()
    done = _cli(emulator, envs, "env", "sync", "--from", "prod", "--to", "staging", "--execute", "--mask-dsn", postgres,
                "--format", "json", MASKING_KEY="sync-test-key-0123456789")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout[done.stdout.index("{\n"):])
    steps = {e["step"]: e for e in doc["executed"]}
    assert set(steps) == {"snapshot", "restore", "mask"}, doc["executed"]
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=doc["snapshot"])["DBSnapshots"][0]
    assert snap["Status"] == "available" and snap["DBInstanceIdentifier"] == f"{PROJECT}-prod-postgres"
    restored = rds.describe_db_instances(DBInstanceIdentifier=doc["restored_instance"])["DBInstances"][0]
    assert restored["DBInstanceStatus"] == "available"
    assert restored.get("PubliclyAccessible", False) is False  # moto omits the field when false
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=restored["DBInstanceArn"])["TagList"]}
    assert tags["Masked"] == "true" and tags["SyncedFrom"] == "prod"
    assert "3 foreign key(s) intact" in steps["mask"]["detail"]
    with psycopg.connect(postgres) as conn:
        emails = {r[0] for r in conn.execute("SELECT email FROM customers").fetchall()}
    assert not emails & {c[0] for c in CUSTOMERS}
    print(f"env sync on moto: {elapsed:.1f}s in all; steps: "
          + ", ".join(f"{e['step']} {e['seconds']}s" for e in doc["executed"]))
