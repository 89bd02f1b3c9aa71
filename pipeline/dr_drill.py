"""The disaster-recovery drill: restore the latest cross-region backup into an isolated copy, validate its data with
real queries against a manifest recorded at backup time, measure the achieved RTO and RPO, report, clean up.

Two parts:

**The backup-time job** (:func:`record_backup`; ``python -m pipeline.dr_drill record --env E [--dsn DSN]``), run on
the backup schedule by a runner that can reach the primary database:

1. opens a ``REPEATABLE READ, READ ONLY`` transaction on the primary and computes the *manifest*: for every table of
   ``[data.dr.drill] tables`` its row count and a checksum (md5 over the sorted md5 of every row's text, so the
   physical row order does not matter), and the md5 of the result of every ``[data.dr.drill] queries`` entry;
2. snapshots the primary (``CreateDBSnapshot``, ``<prefix>-postgres-drill-<stamp>``) with the manifest in the
   snapshot's tags (``drill:table:<t>`` = ``<rows>:<md5>``, ``drill:query:<q>`` = ``<md5>``, ``drill:recorded-at``,
   ``drill:manifest-sha256``): the manifest travels with the backup and needs no other store;
3. copies the snapshot to the DR region (``CopyDBSnapshot`` with ``CopyTags``, re-encrypted with the DR key
   ``alias/<prefix>-dr``; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CopySnapshot.html).

On AWS the manifest is computed right before the snapshot: a table written between the two differs, so name tables
the application does not write during the backup window (reference data, closed periods) or run the job in it.

**The drill** (:func:`run_drill`; ``python main.py dr drill --env E``):

1. finds the latest snapshot copy in the DR region that carries a manifest (RPO = now minus the original snapshot's
   creation time);
2. creates an isolated security group in the DR region (no ingress at all unless ``--allow-from CIDR`` names the
   runner; nothing from the live application), in the DR network's ``<prefix>-dr-database`` subnet group when one
   exists, else in a DB subnet group of its own over the DR region's default VPC, and restores the copy into a NEW instance ``<prefix>-drill-<stamp>``
   (``RestoreDBInstanceFromDBSnapshot``, not publicly accessible, deletion protection off, tagged ``Purpose =
   dr-drill``) and waits until it is available; checks it is encrypted and private;
3. validates: runs the manifest's queries on the restored data and compares each with the manifest;
4. RTO = time from the drill's start to the validated restore; compares RTO and RPO with ``data.dr.rto_minutes`` /
   ``rpo_minutes``;
5. deletes the restored instance and the security group (always, also on failure), writes the report (markdown +
   JSON), records the drill in the run log (kind ``dr-drill``), exits 1 when validation failed or an objective was
   missed, 0 otherwise, 2 on bad input.

**What is real on the local target** (the emulator holds no data behind its RDS API): the snapshot, the cross-region
copy with its tags, the isolated security group, the restore into a new instance in the DR region, its checks and
its deletion all run on the emulator (moto); the DATA side runs on real PostgreSQL binaries: a local PostgreSQL
cluster stands for the primary database, the backup-time job also takes a ``pg_dump`` in the same transaction
snapshot as the manifest (``pg_export_snapshot`` + ``pg_dump --snapshot``: the dump and the manifest are the same
point in time) and stores it, SSE-KMS with the DR key, in a stand-in bucket of the DR region
(``<prefix>-drill-standin-<account>-<dr region>``, created by the job on the emulator only; its sha256 is in the
snapshot tags), and the drill restores that dump into a fresh, throwaway PostgreSQL cluster (listening on 127.0.0.1
only, on a free port) and runs the validation queries there: *the restore of the dump stands in for the snapshot's
contents*. On AWS the queries run against the restored instance itself (its endpoint, with the master secret RDS
creates for it), from a runner inside the DR region's network admitted by ``--allow-from``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from envs import SettingsError, contract
from envs.schema import EnvironmentSettings
from envs.target import Target

from .aws import client

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_TOOL = 0, 1, 2, 3
TAG_TABLE, TAG_QUERY = "drill:table:", "drill:query:"
TAG_AT, TAG_SHA, TAG_DUMP, TAG_DUMP_SHA = ("drill:recorded-at", "drill:manifest-sha256", "drill:dump-key",
                                           "drill:dump-sha256")
SNAPSHOT_MARK = "-drill-"


class DrillError(Exception):
    """The drill cannot go on (no backup, restore failed): exit 1."""


class DrillInputError(Exception):
    """Bad input (settings or arguments): exit 2."""


# -- the manifest --------------------------------------------------------------------------------------------------

def _qualified(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def checksum_sql(table: str) -> str:
    """Row count and checksum of one table: md5 over the sorted md5 of each row's text (independent of row order)."""
    return (f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) "
            f"FROM {_qualified(table)} t")


@dataclass
class Manifest:
    tables: dict[str, dict[str, Any]]           # table -> {rows, checksum}
    queries: dict[str, str]                      # name -> md5 of the result's text
    recorded_at: str = ""
    values: dict[str, str] = field(default_factory=dict)   # name -> result text (reports only; not in tags)

    def canonical(self) -> str:
        return json.dumps({"tables": self.tables, "queries": self.queries, "recorded_at": self.recorded_at},
                          sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    def tags(self) -> list[dict[str, str]]:
        out = [{"Key": f"{TAG_TABLE}{t}", "Value": f"{v['rows']}:{v['checksum']}"} for t, v in self.tables.items()]
        out += [{"Key": f"{TAG_QUERY}{q}", "Value": v} for q, v in self.queries.items()]
        out += [{"Key": TAG_AT, "Value": self.recorded_at}, {"Key": TAG_SHA, "Value": self.sha256()}]
        return out

    @classmethod
    def from_tags(cls, tags: list[dict[str, str]]) -> "Manifest | None":
        by_key = {t["Key"]: t["Value"] for t in tags}
        if TAG_SHA not in by_key:
            return None
        tables: dict[str, dict[str, Any]] = {}
        for key, value in by_key.items():
            if key.startswith(TAG_TABLE):
                rows, _, checksum = value.partition(":")
                tables[key[len(TAG_TABLE):]] = {"rows": int(rows), "checksum": checksum}
        queries = {k[len(TAG_QUERY):]: v for k, v in by_key.items() if k.startswith(TAG_QUERY)}
        return cls(tables=tables, queries=queries, recorded_at=by_key.get(TAG_AT, ""))


def compute_manifest(cur: Any, tables: list[str], queries: dict[str, str]) -> Manifest:
    """The manifest of the database ``cur`` is connected to, in the caller's transaction."""
    out = Manifest(tables={}, queries={})
    for table in tables:
        cur.execute(checksum_sql(table))
        rows, checksum = cur.fetchone()
        out.tables[table] = {"rows": int(rows), "checksum": checksum}
    for name, sql in queries.items():
        cur.execute(sql)
        text = json.dumps([[None if v is None else str(v) for v in row] for row in cur.fetchall()])
        out.values[name] = text
        out.queries[name] = hashlib.md5(text.encode()).hexdigest()
    return out


def validate(cur: Any, expected: Manifest) -> list[dict[str, Any]]:
    """Run the manifest's queries on the restored database; one result per table and query (``ok`` true/false)."""
    results: list[dict[str, Any]] = []
    for table, want in sorted(expected.tables.items()):
        try:
            cur.execute(checksum_sql(table))
            rows, checksum = cur.fetchone()
        except Exception as exc:  # noqa: BLE001 - a missing table is a failed validation, reported as such
            cur.connection.rollback()
            cur.execute("SET TRANSACTION READ ONLY")
            results.append({"check": f"table {table}", "ok": False, "expected": want, "actual": None,
                            "detail": f"query failed: {str(exc).strip().splitlines()[0]}"})
            continue
        ok = int(rows) == want["rows"] and checksum == want["checksum"]
        detail = "rows and checksum match" if ok else (
            f"rows {rows} (manifest {want['rows']})" if int(rows) != want["rows"] else
            f"checksum {checksum} (manifest {want['checksum']})")
        results.append({"check": f"table {table}", "ok": ok, "expected": want,
                        "actual": {"rows": int(rows), "checksum": checksum}, "detail": detail})
    return results


def validate_queries(cur: Any, expected: Manifest, queries: dict[str, str]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for name, want in sorted(expected.queries.items()):
        sql = queries.get(name)
        if sql is None:
            results.append({"check": f"query {name}", "ok": False, "expected": want, "actual": None,
                            "detail": "recorded at backup time but no longer in data.dr.drill.queries"})
            continue
        cur.execute(sql)
        text = json.dumps([[None if v is None else str(v) for v in row] for row in cur.fetchall()])
        got = hashlib.md5(text.encode()).hexdigest()
        results.append({"check": f"query {name}", "ok": got == want, "expected": want, "actual": got,
                        "value": text, "detail": "result matches" if got == want else f"result {text} differs"})
    return results


# -- a throwaway PostgreSQL cluster (real binaries) ----------------------------------------------------------------

def pg_bindir() -> Path:
    """The PostgreSQL server binaries (initdb, pg_ctl, pg_dump, pg_restore): the newest /usr/lib/postgresql/*/bin,
    else the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent  # type: ignore[arg-type]
    raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl, pg_dump, pg_restore) are not installed: "
                            "apt-get install postgresql (.ci/install-system.sh)")


class LocalCluster:
    """A fresh PostgreSQL cluster in a private temporary folder, listening on 127.0.0.1 only on a free port, trust
    authentication for the local ``postgres`` user; :meth:`stop` stops it (by its own data folder) and deletes it."""

    def __init__(self, purpose: str = "drill") -> None:
        self.bindir = pg_bindir()
        # directly under /tmp: a parent private to root would keep an unprivileged server out
        self.root = Path(tempfile.mkdtemp(prefix=f"pg-{purpose}-", dir="/tmp"))
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        self.env = {**os.environ, "LC_ALL": "C.UTF-8"}
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged account
            import pwd

            user = next((u for u in ("postgres", "nobody") if _has_user(pwd, u)), None)
            if user is None:
                raise FileNotFoundError("no unprivileged user (postgres, nobody) to run PostgreSQL as")
            shutil.chown(self.root, user)
            shutil.chown(self.sock, user)
            self.run_as = ["runuser", "-u", user, "--"]
        self.port = 0
        self.started = False

    def start(self) -> "LocalCluster":
        init = subprocess.run([*self.run_as, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                               "-A", "trust", "-E", "UTF8", "--no-sync"], capture_output=True, text=True, env=self.env)
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        log = self.root / "pg.log"
        started = subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o",
             f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
            capture_output=True, text=True, env=self.env)
        if started.returncode:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log.read_text() if log.exists() else ''}")
        self.started = True
        return self

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                            "stop"], capture_output=True, env=self.env)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _has_user(pwd: Any, name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# -- names ----------------------------------------------------------------------------------------------------------

def primary_instance(s: EnvironmentSettings) -> str:
    return contract.database_identifier(s.name_prefix)


def dr_key_alias(s: EnvironmentSettings) -> str:
    return contract.kms_alias_name(s.name_prefix, "dr")  # the DR-region key (modules/data/disaster_recovery.py)


def standin_bucket(s: EnvironmentSettings) -> str:
    return f"{s.name_prefix}-drill-standin-{s.account_id}-{s.dr_region}"


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d%H%M%S")


def _utc(moment: Any) -> dt.datetime:
    if isinstance(moment, dt.datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(moment).replace("Z", "+00:00"))


def check_inputs(s: EnvironmentSettings) -> None:
    """Refuse (exit 2) what cannot be drilled, naming the field and the fix."""
    d = s.data
    where = f"envs/{s.name}.toml"
    if not d.enabled or not d.database.enabled:
        raise DrillInputError(f"{where}: data.database.enabled = false (or data.enabled = false): {s.name} has no "
                              "database to restore; enable it or drill another environment")
    if not d.backup.enabled or not d.backup.copy_to_dr:
        raise DrillInputError(f"{where}: data.backup.copy_to_dr = false (or data.backup.enabled = false): no DR key "
                              f"in {s.dr_region} to copy backups with; set data.backup.copy_to_dr = true")
    if not d.dr.drill.entries():
        raise DrillInputError(f"{where}: [data.dr.drill] names no table and no query, so a drill would validate "
                              "nothing; add e.g. tables = [\"orders\"] (docs/data-tier.md \"DR drill\")")


def _wait(read: Callable[[], str], wanted: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        status = read()
        if status == wanted:
            return
        if time.monotonic() > deadline:
            raise DrillError(f"{what} is {status!r} after {seconds:.0f}s, not {wanted!r}")
        time.sleep(2)


# -- the backup-time job --------------------------------------------------------------------------------------------

def record_backup(s: EnvironmentSettings, target: Target, dsn: str, say: Callable[[str], None] = print,
                  now: dt.datetime | None = None, wait_seconds: float = 3600) -> dict[str, Any]:
    """The backup-time job (module docstring): manifest, snapshot with the manifest in its tags, copy to the DR
    region; on the local target also the stand-in dump. Returns what it made."""
    import psycopg

    check_inputs(s)
    drill = s.data.dr.drill
    now = now or dt.datetime.now(dt.timezone.utc)
    snap = f"{primary_instance(s)}{SNAPSHOT_MARK}{_stamp(now)}"
    rds, rds_dr = client("rds", s.region, target.endpoint), client("rds", s.dr_region, target.endpoint)
    dump_path: Path | None = None
    with psycopg.connect(dsn) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur = conn.cursor()
        cur.execute("SELECT pg_export_snapshot()")
        exported = cur.fetchone()[0]
        manifest = compute_manifest(cur, drill.tables, drill.queries)
        manifest.recorded_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        if target.is_local:
            # The stand-in for the snapshot's contents: a dump in the SAME transaction snapshot as the manifest.
            dump_path = Path(tempfile.mkdtemp(prefix="drill-dump-")) / f"{snap}.dump"
            done = subprocess.run([str(pg_bindir() / "pg_dump"), "--format=custom", f"--snapshot={exported}",
                                   "--no-owner", "--file", str(dump_path), dsn], capture_output=True, text=True)
            if done.returncode:
                raise DrillError(f"pg_dump failed: {done.stderr.strip()}")
        conn.rollback()
    say(f"  manifest: {len(manifest.tables)} table(s), {len(manifest.queries)} query(ies), sha256 "
        f"{manifest.sha256()[:12]}")
    tags = manifest.tags()
    if dump_path is not None:
        digest = hashlib.sha256(dump_path.read_bytes()).hexdigest()
        s3 = client("s3", s.dr_region, target.endpoint)
        bucket, key = standin_bucket(s), f"dumps/{snap}.dump"
        _ensure_standin_bucket(s3, bucket, s.dr_region, dr_key_alias(s))
        s3.put_object(Bucket=bucket, Key=key, Body=dump_path.read_bytes(), ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=dr_key_alias(s))
        shutil.rmtree(dump_path.parent, ignore_errors=True)
        tags += [{"Key": TAG_DUMP, "Value": key}, {"Key": TAG_DUMP_SHA, "Value": digest}]
        say(f"  stand-in dump: s3://{bucket}/{key} (SSE-KMS {dr_key_alias(s)}, sha256 {digest[:12]})")
    try:
        rds.describe_db_instances(DBInstanceIdentifier=primary_instance(s))
    except rds.exceptions.DBInstanceNotFoundFault:
        raise DrillError(f"the primary {primary_instance(s)} does not exist in {s.region}: deploy {s.name} "
                         "first") from None
    source = rds.create_db_snapshot(DBSnapshotIdentifier=snap, DBInstanceIdentifier=primary_instance(s),
                                    Tags=[*tags, {"Key": "Purpose", "Value": "dr-drill"}])["DBSnapshot"]
    _wait(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Status"], "available",
          wait_seconds, f"snapshot {snap}")
    say(f"  snapshot: {snap} ({s.region})")
    copy = rds_dr.copy_db_snapshot(SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
                                   TargetDBSnapshotIdentifier=snap, KmsKeyId=dr_key_alias(s), CopyTags=True,
                                   SourceRegion=s.region)["DBSnapshot"]
    _wait(lambda: rds_dr.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["Status"], "available",
          wait_seconds, f"snapshot copy {snap} in {s.dr_region}")
    say(f"  copy: {copy['DBSnapshotArn']} (encrypted with {dr_key_alias(s)})")
    return {"snapshot": snap, "copy_arn": copy["DBSnapshotArn"], "manifest": json.loads(manifest.canonical()),
            "manifest_sha256": manifest.sha256()}


def _ensure_standin_bucket(s3: Any, bucket: str, region: str, key_alias: str) -> None:
    """Local target only: the stand-in bucket of the DR region (private, SSE-KMS with the DR key by default)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception:  # noqa: BLE001 - not there yet
        pass
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **extra)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_alias},
        "BucketKeyEnabled": True}]})


# -- the drill ------------------------------------------------------------------------------------------------------

@dataclass
class DrillReport:
    env: str
    target: str
    region: str
    dr_region: str
    started_at: str
    status: str = "failed"                      # passed | failed
    snapshot: str | None = None
    snapshot_created_at: str | None = None
    restored_instance: str | None = None
    security_group: str | None = None
    subnet_group: str | None = None
    subnet_group_created: bool = False
    isolation: dict[str, Any] = field(default_factory=dict)
    validation: list[dict[str, Any]] = field(default_factory=list)
    validation_passed: bool = False
    rto_minutes_objective: int = 0
    rpo_minutes_objective: int = 0
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rto_met: bool | None = None
    rpo_met: bool | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    teardown: list[str] = field(default_factory=list)
    what_is_real: str = ""
    error: str | None = None
    run_log: str | None = None

    def markdown(self) -> str:
        def yes(flag: bool | None) -> str:
            return "n/a" if flag is None else ("met" if flag else "MISSED")

        lines = [f"# DR drill: {self.env} ({self.target}), {self.status.upper()}", "",
                 f"Started {self.started_at}; restored the latest cross-region backup of {self.region} in "
                 f"{self.dr_region} into an isolated copy, validated it, deleted it.", "",
                 "| objective | target | achieved | verdict |", "| --- | --- | --- | --- |",
                 f"| RTO (start to validated restore) | {self.rto_minutes_objective} min | "
                 f"{_minutes(self.rto_seconds)} | {yes(self.rto_met)} |",
                 f"| RPO (age of the restored backup point) | {self.rpo_minutes_objective} min | "
                 f"{_minutes(self.rpo_seconds)} | {yes(self.rpo_met)} |", "",
                 f"- backup point: `{self.snapshot}` (created {self.snapshot_created_at})",
                 f"- isolated copy: `{self.restored_instance}`, security group `{self.security_group}`: "
                 + ", ".join(f"{k} {v}" for k, v in self.isolation.items()), "",
                 "## Validation", "", "| check | result | detail |", "| --- | --- | --- |"]
        lines += [f"| {r['check']} | {'ok' if r['ok'] else 'FAILED'} | {r['detail']} |" for r in self.validation]
        lines += ["", "## Steps", "", "| step | seconds | detail |", "| --- | --- | --- |"]
        lines += [f"| {st['step']} | {st['seconds']:.1f} | {st['detail']} |" for st in self.steps]
        lines += ["", "## Teardown", ""] + [f"- {t}" for t in self.teardown]
        if self.error:
            lines += ["", f"**Error:** {self.error}"]
        if self.what_is_real:
            lines += ["", "## What is real", "", self.what_is_real]
        if self.run_log:
            lines += ["", f"Run log: `{self.run_log}`"]
        return "\n".join(lines) + "\n"


def _minutes(seconds: float | None) -> str:
    return "not measured" if seconds is None else f"{seconds / 60:.2f} min ({seconds:.1f} s)"


LOCAL_TRUTH = ("Local target: snapshot, cross-region copy and its manifest tags, isolated security group, restore "
               "into a new instance in the DR region, its encryption/privacy checks and its deletion ran on the "
               "emulator (moto), which holds no data. The data validation ran on real PostgreSQL binaries: the "
               "pg_dump taken at backup time in the manifest's transaction snapshot (stored SSE-KMS in the DR "
               "region's stand-in bucket) was restored into a fresh throwaway cluster and queried: it stands in for "
               "the snapshot's contents.")


def latest_backup(rds_dr: Any, s: EnvironmentSettings) -> tuple[dict[str, Any], Manifest]:
    """The newest available snapshot copy in the DR region that carries a manifest."""
    snaps = []
    for page in rds_dr.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
        snaps += [x for x in page["DBSnapshots"] if x.get("Status") == "available"
                  and x["DBSnapshotIdentifier"].startswith(f"{primary_instance(s)}{SNAPSHOT_MARK}")]
    for snap in sorted(snaps, key=lambda x: _utc(x.get("OriginalSnapshotCreateTime") or x["SnapshotCreateTime"]),
                       reverse=True):
        tags = snap.get("TagList") or rds_dr.list_tags_for_resource(ResourceName=snap["DBSnapshotArn"])["TagList"]
        manifest = Manifest.from_tags(tags)
        if manifest is None:
            continue
        by_key = {t["Key"]: t["Value"] for t in tags}
        if manifest.sha256() != by_key[TAG_SHA]:
            raise DrillError(f"{snap['DBSnapshotIdentifier']}: its manifest tags do not hash to the recorded "
                             f"{TAG_SHA} (tags edited after the backup?)")
        snap["_tags"] = by_key
        return snap, manifest
    raise DrillError(f"no snapshot copy of {primary_instance(s)} with a drill manifest in {s.dr_region}: run the "
                     f"backup-time job first (python -m pipeline.dr_drill record --env {s.name})")


def run_drill(s: EnvironmentSettings, target: Target, say: Callable[[str], None] = print,
              allow_from: str | None = None, wait_seconds: float = 3600,
              now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> DrillReport:
    check_inputs(s)
    started, t0 = now(), time.monotonic()
    report = DrillReport(env=s.name, target=target.kind, region=s.region, dr_region=s.dr_region,
                         started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         rto_minutes_objective=s.data.dr.rto_minutes, rpo_minutes_objective=s.data.dr.rpo_minutes,
                         what_is_real=LOCAL_TRUTH if target.is_local else "")
    rds_dr, ec2_dr = client("rds", s.dr_region, target.endpoint), client("ec2", s.dr_region, target.endpoint)
    cluster: LocalCluster | None = None

    def step(name: str, call: Callable[[], str]) -> None:
        began = time.monotonic()
        detail = call()
        report.steps.append({"step": name, "seconds": round(time.monotonic() - began, 2), "detail": detail})
        say(f"  {name}: {detail} ({time.monotonic() - began:.1f}s)")

    state: dict[str, Any] = {}
    try:
        def find() -> str:
            snap, manifest = latest_backup(rds_dr, s)
            state["snap"], state["manifest"] = snap, manifest
            created = _utc(snap.get("OriginalSnapshotCreateTime") or snap["SnapshotCreateTime"])
            report.snapshot, report.snapshot_created_at = snap["DBSnapshotIdentifier"], created.isoformat()
            report.rpo_seconds = round((started - created).total_seconds(), 1)
            return f"{snap['DBSnapshotArn']} (created {created:%Y-%m-%d %H:%M:%S}Z)"

        def isolate() -> str:
            stamp = _stamp(started)
            vpc, group, created = _drill_network(ec2_dr, rds_dr, s, stamp)
            report.subnet_group = group
            report.subnet_group_created = created
            # No ingress rule at all (nothing from the live application); only --allow-from, the drill's runner.
            sg = ec2_dr.create_security_group(
                GroupName=f"{s.name_prefix}-drill-{stamp}", VpcId=vpc,
                Description=f"DR drill {stamp}: isolated restore, no ingress from the application",
                TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                    {"Key": "Purpose", "Value": "dr-drill"}, {"Key": "Environment", "Value": s.name}]}])["GroupId"]
            report.security_group = sg
            if allow_from:
                ec2_dr.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
                    "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                    "IpRanges": [{"CidrIp": allow_from, "Description": "DR drill runner"}]}])
            return (f"{sg} in {vpc} (subnet group {group}): "
                    + (f"ingress 5432 from {allow_from} only" if allow_from else "no ingress"))

        def restore() -> str:
            ident = f"{s.name_prefix}-drill-{_stamp(started)}"
            extra: dict[str, Any] = {}
            if not target.is_local:
                # a new secret for the copy, in the DR region with the DR key (the source's secret stays untouched)
                extra = {"ManageMasterUserPassword": True, "MasterUserSecretKmsKeyId": dr_key_alias(s)}
            rds_dr.restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=ident, DBSnapshotIdentifier=state["snap"]["DBSnapshotIdentifier"],
                DBInstanceClass=s.sizes.db_instance_class, PubliclyAccessible=False, MultiAZ=False,
                DeletionProtection=False, VpcSecurityGroupIds=[report.security_group], CopyTagsToSnapshot=False,
                DBSubnetGroupName=report.subnet_group,
                Tags=[{"Key": "Purpose", "Value": "dr-drill"}, {"Key": "Environment", "Value": s.name},
                      {"Key": "RestoredFrom", "Value": state["snap"]["DBSnapshotIdentifier"]}], **extra)
            report.restored_instance = ident
            _wait(lambda: rds_dr.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
                  ["DBInstanceStatus"], "available", wait_seconds, f"restored instance {ident}")
            inst = rds_dr.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            groups = [g["VpcSecurityGroupId"] for g in inst.get("VpcSecurityGroups", [])]
            report.isolation = {"publicly_accessible": bool(inst.get("PubliclyAccessible", False)),
                                "storage_encrypted": bool(inst.get("StorageEncrypted", False)),
                                "security_groups": groups}
            problems = [p for p, bad in (("publicly accessible", report.isolation["publicly_accessible"]),
                                         ("not encrypted", not report.isolation["storage_encrypted"]),
                                         ("not in the drill's security group only", groups != [report.security_group]))
                        if bad]
            if problems:
                raise DrillError(f"restored instance {ident} is {', '.join(problems)}")
            state["instance"] = inst
            return f"{ident} available, private, encrypted, security group {report.security_group} only"

        def check_data() -> str:
            nonlocal cluster
            import psycopg

            manifest: Manifest = state["manifest"]
            drill = s.data.dr.drill
            dbname = drill.database or s.data.database.db_name
            if target.is_local:
                cluster = LocalCluster("drill").start()
                dsn = _restore_standin(s, target, state["snap"]["_tags"], cluster, dbname)
            else:
                dsn = _restored_dsn(s, target, state["instance"], dbname)
            with psycopg.connect(dsn) as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur = conn.cursor()
                report.validation = validate(cur, manifest) + validate_queries(cur, manifest, drill.queries)
                conn.rollback()
            report.validation_passed = bool(report.validation) and all(r["ok"] for r in report.validation)
            bad = [r["check"] for r in report.validation if not r["ok"]]
            return ("every check matches the manifest" if not bad else f"{len(bad)} check(s) FAILED: {', '.join(bad)}") \
                + f" ({len(report.validation)} check(s))"

        step("find latest cross-region backup", find)
        step("isolate", isolate)
        step("restore", restore)
        step("validate", check_data)
        report.rto_seconds = round(time.monotonic() - t0, 1)
    except (DrillError, ClientError) as exc:
        report.error = str(exc)
        say(f"  drill failed: {exc}")
    finally:
        report.teardown = _teardown(rds_dr, ec2_dr, report, cluster, wait_seconds)
        for line in report.teardown:
            say(f"  teardown: {line}")
    evaluate(report)
    return report


def evaluate(report: DrillReport) -> DrillReport:
    """Compare the measured RTO/RPO with the objectives; the verdict (passed only when the restore was validated and
    both objectives are met)."""
    report.rto_met = None if report.rto_seconds is None else report.rto_seconds <= report.rto_minutes_objective * 60
    report.rpo_met = None if report.rpo_seconds is None else report.rpo_seconds <= report.rpo_minutes_objective * 60
    report.status = "passed" if (report.error is None and report.validation_passed and report.rto_met
                                 and report.rpo_met) else "failed"
    return report


def _drill_network(ec2: Any, rds: Any, s: EnvironmentSettings, stamp: str) -> tuple[str, str, bool]:
    """(VPC, DB subnet group, whether the drill created the group) for the isolated copy: the DR network's database
    subnet group when one exists (pilot light), else a subnet group of the drill's own over the DR region's default
    VPC (deleted at the end). Named explicitly: a restore otherwise asks for the source's subnet group, which does not
    exist in the DR region."""
    dr_subnet_group = contract.database_network_name(contract.dr_name_prefix(s.name_prefix))
    try:
        group = rds.describe_db_subnet_groups(DBSubnetGroupName=dr_subnet_group)["DBSubnetGroups"][0]
        return group["VpcId"], group["DBSubnetGroupName"], False
    except rds.exceptions.DBSubnetGroupNotFoundFault:
        pass
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise DrillError(f"no network to restore into in {s.dr_region}: no subnet group {dr_subnet_group} "
                         "and no default VPC")
    vpc = vpcs[0]["VpcId"]
    subnets = [x["SubnetId"] for x in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    name = f"{s.name_prefix}-drill-{stamp}"
    rds.create_db_subnet_group(DBSubnetGroupName=name, SubnetIds=subnets,
                               DBSubnetGroupDescription=f"DR drill {stamp}: isolated restore",
                               Tags=[{"Key": "Purpose", "Value": "dr-drill"}, {"Key": "Environment", "Value": s.name}])
    return vpc, name, True


def _restore_standin(s: EnvironmentSettings, target: Target, tags: dict[str, str], cluster: LocalCluster,
                     dbname: str) -> str:
    """Local target: the dump taken at backup time (the snapshot's contents) into the fresh cluster."""
    import psycopg

    key, digest = tags.get(TAG_DUMP), tags.get(TAG_DUMP_SHA)
    if not key or not digest:
        raise DrillError("the backup carries no stand-in dump (drill:dump-key): record it with the local target")
    body = client("s3", s.dr_region, target.endpoint).get_object(Bucket=standin_bucket(s), Key=key)["Body"].read()
    if hashlib.sha256(body).hexdigest() != digest:
        raise DrillError(f"s3://{standin_bucket(s)}/{key} does not match the sha256 recorded with the backup")
    path = cluster.root / "restore.dump"
    path.write_bytes(body)
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    done = subprocess.run([str(cluster.bindir / "pg_restore"), "--no-owner", "--exit-on-error", "-d",
                           cluster.dsn(dbname), str(path)], capture_output=True, text=True)
    if done.returncode:
        raise DrillError(f"pg_restore failed: {done.stderr.strip()}")
    return cluster.dsn(dbname)


def _restored_dsn(s: EnvironmentSettings, target: Target, inst: dict[str, Any], dbname: str) -> str:
    """AWS: the restored instance's endpoint with the master secret RDS created for it (TLS required)."""
    secret_arn = (inst.get("MasterUserSecret") or {}).get("SecretArn")
    if not secret_arn:
        raise DrillError(f"{inst['DBInstanceIdentifier']} has no RDS-managed master secret to connect with")
    secret = json.loads(client("secretsmanager", s.dr_region, target.endpoint)
                        .get_secret_value(SecretId=secret_arn)["SecretString"])
    from psycopg.conninfo import make_conninfo

    return make_conninfo(host=inst["Endpoint"]["Address"], port=inst["Endpoint"]["Port"], dbname=dbname,
                         user=secret["username"], password=secret["password"], sslmode="require",
                         connect_timeout=30)


def _teardown(rds: Any, ec2: Any, report: DrillReport, cluster: LocalCluster | None, wait_seconds: float) -> list[str]:
    out: list[str] = []
    if cluster is not None:
        cluster.stop()
        out.append("throwaway PostgreSQL cluster stopped and deleted")
    if report.restored_instance:
        try:
            rds.delete_db_instance(DBInstanceIdentifier=report.restored_instance, SkipFinalSnapshot=True,
                                   DeleteAutomatedBackups=True)
            deadline = time.monotonic() + wait_seconds
            while time.monotonic() < deadline:
                try:
                    rds.describe_db_instances(DBInstanceIdentifier=report.restored_instance)
                except rds.exceptions.DBInstanceNotFoundFault:
                    break
                time.sleep(5)
            out.append(f"restored instance {report.restored_instance} deleted")
        except Exception as exc:  # noqa: BLE001 - reported, and the drill fails
            out.append(f"FAILED to delete {report.restored_instance}: {exc}")
            report.error = report.error or f"teardown failed: {exc}"
    if report.subnet_group and report.subnet_group_created:
        try:
            rds.delete_db_subnet_group(DBSubnetGroupName=report.subnet_group)
            out.append(f"DB subnet group {report.subnet_group} deleted")
        except Exception as exc:  # noqa: BLE001
            out.append(f"FAILED to delete DB subnet group {report.subnet_group}: {exc}")
            report.error = report.error or f"teardown failed: {exc}"
    if report.security_group:
        try:
            ec2.delete_security_group(GroupId=report.security_group)
            out.append(f"security group {report.security_group} deleted")
        except Exception as exc:  # noqa: BLE001
            out.append(f"FAILED to delete security group {report.security_group}: {exc}")
            report.error = report.error or f"teardown failed: {exc}"
    return out


# -- reports, run log, command line ---------------------------------------------------------------------------------

def write_reports(report: DrillReport, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"dr-drill-{report.env}.md", folder / f"dr-drill-{report.env}.json"
    md.write_text(report.markdown())
    js.write_text(json.dumps(asdict(report), indent=2, sort_keys=True) + "\n")
    return md, js


def record_run(s: EnvironmentSettings, target: Target, report: DrillReport) -> str:
    """The drill in the run log next to the state (kind ``dr-drill``)."""
    from .orchestrator import actor
    from .runlog import FAILED, SUCCEEDED, RunLog, Step, new_record
    from .synth import current_commit

    record = new_record(s.name, target.kind, "dr-drill", current_commit(), actor())
    record.started_at = report.started_at.replace("Z", ".000000Z")
    record.status = SUCCEEDED if report.status == "passed" else FAILED
    record.steps = [Step(st["step"], "ok", st["seconds"], st["detail"]) for st in report.steps]
    record.message = report.error or (f"RTO {_minutes(report.rto_seconds)} (objective {report.rto_minutes_objective} "
                                      f"min), RPO {_minutes(report.rpo_seconds)} (objective "
                                      f"{report.rpo_minutes_objective} min), validation "
                                      f"{'passed' if report.validation_passed else 'FAILED'}")
    record.source = {"drill": {"snapshot": report.snapshot, "rto_seconds": report.rto_seconds,
                               "rpo_seconds": report.rpo_seconds, "rto_met": report.rto_met, "rpo_met": report.rpo_met,
                               "validation_passed": report.validation_passed}}
    record.finished_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return RunLog(client("s3", s.region, target.endpoint), s.state_bucket, s.name).save(record)


def cmd_dr(args: argparse.Namespace) -> int:
    """``dr drill --env E [--target local|aws] [--output DIR] [--allow-from CIDR]``."""
    from . import synth as synth_mod
    from .cli_helpers import bad_settings as _bad_settings, fail, say, target as _target
    from .run import default_build_dir

    try:
        s = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return _bad_settings(exc)
    out = Path(args.report_dir) if args.report_dir else default_build_dir() / "dr-drill" / args.env
    if out.exists() and not out.is_dir():
        fail(f"error: --output {out} is a file; give the folder the reports go to")
        return EXIT_BAD_INPUT
    if args.allow_from:
        import ipaddress

        try:
            ipaddress.ip_network(args.allow_from)
        except ValueError:
            fail(f"error: --allow-from {args.allow_from!r} is not a CIDR block; e.g. --allow-from 10.20.1.15/32")
            return EXIT_BAD_INPUT
    try:
        check_inputs(s)
        pg_bindir()
    except DrillInputError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    except FileNotFoundError as exc:
        fail(f"error: {exc}")
        return EXIT_TOOL
    target = _target(args.target)
    say(f"[{s.name}] DR drill: restore the latest cross-region backup in {s.dr_region} into an isolated copy")
    report = run_drill(s, target, say=say, allow_from=args.allow_from)
    try:
        report.run_log = record_run(s, target, report)
    except Exception as exc:  # noqa: BLE001 - the drill's verdict stands; the missing record is said
        fail(f"warning: the drill could not be recorded in the run log ({exc})")
    md, js = write_reports(report, out)
    say(f"[{s.name}] RTO {_minutes(report.rto_seconds)} / objective {report.rto_minutes_objective} min: "
        f"{'met' if report.rto_met else 'MISSED' if report.rto_met is False else 'not measured'}; "
        f"RPO {_minutes(report.rpo_seconds)} / objective {report.rpo_minutes_objective} min: "
        f"{'met' if report.rpo_met else 'MISSED' if report.rpo_met is False else 'not measured'}; validation "
        f"{'passed' if report.validation_passed else 'FAILED'}")
    say(f"[{s.name}] DR drill {report.status.upper()}: {md} {js}" + (f" (run log {report.run_log})"
                                                                        if report.run_log else ""))
    return EXIT_OK if report.status == "passed" else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.dr_drill record --env E [--target local|aws] [--dsn DSN]``: the backup-time job."""
    from . import synth as synth_mod
    from .cli_helpers import bad_settings as _bad_settings, fail, say, target as _target

    p = argparse.ArgumentParser(prog="python -m pipeline.dr_drill", description=main.__doc__)
    p.add_argument("action", choices=("record",))
    p.add_argument("--env", required=True)
    p.add_argument("--target", choices=("local", "aws"), default="local")
    p.add_argument("--envs-dir")
    p.add_argument("--dsn", help="connection string of the primary database (default on aws: its endpoint with the "
                                 "RDS-managed master secret; on the local target: required, the local cluster that "
                                 "stands for it)")
    args = p.parse_args(argv)
    try:
        s = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
        check_inputs(s)
    except SettingsError as exc:
        return _bad_settings(exc)
    except DrillInputError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    target = _target(args.target)
    dsn = args.dsn
    if not dsn:
        if target.is_local:
            fail("error: --dsn is required on the local target (the PostgreSQL cluster standing for the primary)")
            return EXIT_BAD_INPUT
        inst = client("rds", s.region).describe_db_instances(DBInstanceIdentifier=primary_instance(s))["DBInstances"][0]
        dsn = _restored_dsn(s.model_copy(update={"dr_region": s.region}), target, inst,
                            s.data.dr.drill.database or s.data.database.db_name)
    say(f"[{s.name}] backup-time job: manifest, snapshot, copy to {s.dr_region}")
    try:
        made = record_backup(s, target, dsn, say=say)
    except (DrillError, ClientError) as exc:
        fail(f"error: {exc}")
        return EXIT_FAILED
    say(json.dumps(made, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
