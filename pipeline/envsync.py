"""Environment synchronization: refresh a non-production database from a production snapshot, masked.

``env sync --from prod --to staging`` builds a :class:`SyncPlan` (which instance, which snapshot, the restored
instance's identifier, the masking rules, every step) and prints it; ``--execute`` runs the steps the target
supports: snapshot the source instance (or reuse its latest available snapshot), restore it into a NEW instance
identifier in the target's subnet group (never over the running target), wait until it is available, then run the
masking job (``pipeline.masking``) against ``--mask-dsn``. The cut-over (pointing the target at the restored, masked
instance) stays a reviewed step: the Terraform-managed target instance is never replaced behind Terraform's back.

Refused: syncing into a protected environment, from an environment into itself, or without a masking rules file.
On the local emulator, moto creates the snapshot and restores it into a new instance (measured in
``docs/delivery.md``); there is no PostgreSQL behind moto's RDS, so the masking job runs against a real PostgreSQL
server given by ``--mask-dsn`` (the tests start a throwaway cluster).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from compliance.cli import Command, existing_file_option
from envs import SettingsError, contract
from envs.schema import EnvironmentSettings
from envs.target import Target

from . import masking
from . import synth as synth_mod
from .aws import client
from .cli_helpers import bad_settings, fail, say, target, target_argument

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_TOOL = 0, 1, 2, 3


class SyncRefused(Exception):
    pass


@dataclass
class SyncPlan:
    source_env: str
    target_env: str
    region: str
    source_instance: str
    target_instance: str
    snapshot: str
    restored_instance: str
    subnet_group: str
    rules_file: str
    masked_columns: list[str]
    steps: list[str] = field(default_factory=list)
    executed: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"env sync {self.source_env} -> {self.target_env} ({self.region})",
                 f"  source instance:   {self.source_instance}",
                 f"  snapshot:          {self.snapshot}",
                 f"  restore into:      {self.restored_instance} (subnet group {self.subnet_group})",
                 f"  target instance:   {self.target_instance} (unchanged until the reviewed cut-over)",
                 f"  masking rules:     {self.rules_file}"]
        lines += [f"    {c}" for c in self.masked_columns]
        lines.append("  steps:")
        lines += [f"    {i}. {s}" for i, s in enumerate(self.steps, 1)]
        for e in self.executed:
            lines.append(f"  done: {e['step']} ({e['seconds']:.1f}s){': ' + e['detail'] if e.get('detail') else ''}")
        return "\n".join(lines)


def plan_sync(source: EnvironmentSettings, target: EnvironmentSettings, rules_path: str | None,
              now: dt.datetime | None = None) -> SyncPlan:
    if source.name == target.name:
        raise SyncRefused("--from and --to name the same environment")
    if target.protected:
        raise SyncRefused(f"refused: {target.name} is protected (protection_level high); production data is never "
                          "overwritten by a sync")
    for env, role in ((source, "nothing to sync"), (target, "nowhere to restore to")):
        if not env.data.enabled:
            raise SyncRefused(f"{env.name} has no data tier (data.enabled = false): {role}")
        if not env.data.database.enabled:
            raise SyncRefused(f"{env.name} has no database (data.database.enabled = false): {role}")
    rules = masking.load_rules(rules_path)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d%H%M")
    src_id = contract.database_identifier(source.name_prefix)
    dst_id = contract.database_identifier(target.name_prefix)
    plan = SyncPlan(source_env=source.name, target_env=target.name, region=source.region,
                    source_instance=src_id, target_instance=dst_id, snapshot=f"{src_id}-sync-{stamp}",
                    restored_instance=f"{dst_id}-sync-{stamp}", subnet_group=contract.database_network_name(target.name_prefix),
                    rules_file=rules.source, masked_columns=masking.masked_columns_summary(rules))
    plan.steps = [
        f"snapshot {src_id} as {plan.snapshot} (manual snapshot; encrypted with the source key; shared with the "
        f"{target.name} account {target.account_id} when it differs, and re-encrypted there with its data key)",
        f"restore {plan.snapshot} into a new instance {plan.restored_instance} in {plan.subnet_group}, not publicly "
        "accessible, deletion protection off",
        f"wait until {plan.restored_instance} is available",
        f"mask personal data on {plan.restored_instance} with {rules.source} (key from ${rules.key_env}); the job "
        "commits only if every foreign key still resolves",
        "verify: no original value of a masked column remains (sampled against the source), constraints hold",
        f"cut over (reviewed): point {target.name}'s application at {plan.restored_instance}, or rename it to "
        f"{dst_id} after renaming the old one, then `python main.py drift --env {target.name}` to confirm",
        f"delete the snapshot {plan.snapshot} and the old instance after the retention window",
    ]
    return plan


def execute(plan: SyncPlan, target: Target, mask_dsn: str | None, say: Callable[[str], None] = print,
            wait_seconds: float = 900) -> SyncPlan:
    rds = client("rds", plan.region, target.endpoint)

    def step(name: str, call: Callable[[], str]) -> None:
        started = time.monotonic()
        detail = call()
        plan.executed.append({"step": name, "seconds": round(time.monotonic() - started, 2), "detail": detail})
        say(f"  {name}: {detail} ({time.monotonic() - started:.1f}s)")

    def snapshot() -> str:
        try:
            rds.describe_db_instances(DBInstanceIdentifier=plan.source_instance)
        except rds.exceptions.DBInstanceNotFoundFault:
            raise SyncRefused(f"source instance {plan.source_instance} does not exist on the target") from None
        rds.create_db_snapshot(DBSnapshotIdentifier=plan.snapshot, DBInstanceIdentifier=plan.source_instance,
                               Tags=[{"Key": "Purpose", "Value": f"env sync to {plan.target_env}"}])
        status = _wait(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=plan.snapshot)["DBSnapshots"][0]
                       ["Status"], "available", wait_seconds)
        return f"{plan.snapshot} {status}"

    def restore() -> str:
        extra: dict[str, Any] = {}
        try:
            rds.describe_db_subnet_groups(DBSubnetGroupName=plan.subnet_group)
            extra["DBSubnetGroupName"] = plan.subnet_group
        except rds.exceptions.DBSubnetGroupNotFoundFault:
            say(f"  note: subnet group {plan.subnet_group} not found; restoring into the default one")
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=plan.restored_instance, DBSnapshotIdentifier=plan.snapshot,
            PubliclyAccessible=False, DeletionProtection=False, CopyTagsToSnapshot=True,
            Tags=[{"Key": "Environment", "Value": plan.target_env}, {"Key": "SyncedFrom", "Value": plan.source_env},
                  {"Key": "Masked", "Value": "pending"}], **extra)
        status = _wait(lambda: rds.describe_db_instances(DBInstanceIdentifier=plan.restored_instance)
                       ["DBInstances"][0]["DBInstanceStatus"], "available", wait_seconds)
        if target.is_local:
            say(f"  note: the local emulator (moto 5.2.5) gives every DB instance the same DbiResourceId, by which "
                f"Terraform finds an instance: until {plan.restored_instance} is deleted, a deployment's database in "
                f"{plan.region} on this emulator cannot be found (plan and apply fail with \"couldn't find resource\")")
        return f"{plan.restored_instance} {status}"

    def mask() -> str:
        if not mask_dsn:
            return (f"not run: pass --mask-dsn for {plan.restored_instance} (its endpoint with the master secret "
                    "from Secrets Manager)")
        import psycopg

        rules = masking.load_rules(plan.rules_file)
        with psycopg.connect(mask_dsn) as conn:
            report = masking.mask_database(conn, rules, masking.key_from_env(rules), say=say)
        arn = rds.describe_db_instances(DBInstanceIdentifier=plan.restored_instance)["DBInstances"][0]["DBInstanceArn"]
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Masked", "Value": "true"}])
        return f"{len(report.columns)} column(s) masked, {report.foreign_keys_checked} foreign key(s) intact"

    step("snapshot", snapshot)
    step("restore", restore)
    step("mask", mask)
    return plan


def _wait(read: Callable[[], str], wanted: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        status = read()
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(2)


def cmd_env_sync(args: argparse.Namespace) -> int:
    try:
        loaded = synth_mod.load_settings([args.source, args.to], args.envs_dir)
    except SettingsError as exc:
        return bad_settings(exc)
    try:
        plan = plan_sync(loaded[args.source], loaded[args.to], args.rules)
    except SyncRefused as exc:
        fail(f"{exc}")
        return EXIT_BLOCKED if "refused" in str(exc) else EXIT_BAD_INPUT
    except masking.MaskingError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    if args.execute:
        try:
            execute(plan, target(args.target), args.mask_dsn, say=say)
        except SyncRefused as exc:
            fail(f"refused: {exc}")
            return EXIT_BLOCKED
        except masking.MaskingError as exc:
            fail(f"error: masking failed, nothing committed: {exc}")
            return EXIT_BLOCKED
    say(json.dumps(asdict(plan), indent=2) if args.format == "json" else plan.text())
    return EXIT_OK


def _env_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("sync",))
    p.add_argument("--from", dest="source", required=True, help="source environment (e.g. prod)")
    p.add_argument("--to", required=True, help="target environment (never a protected one)")
    target_argument(p)
    existing_file_option(p, "--rules", "masking rules (default: pipeline/masking_rules.toml)")
    p.add_argument("--execute", action="store_true",
                   help="run the steps (snapshot, restore into a new instance, masking) instead of only planning")
    p.add_argument("--mask-dsn", metavar="DSN",
                   help="PostgreSQL connection string of the restored database to mask (with --execute)")
    p.add_argument("--format", choices=("text", "json"), default="text")


COMMANDS = (Command("env", "environment synchronization: refresh a non-production database from a production "
                           "snapshot, with masking", _env_arguments, cmd_env_sync),)
