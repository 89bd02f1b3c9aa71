"""``dr failover --env E`` and ``dr failback --env E``: move an environment with a pilot light (`data.dr.mode` =
``pilot-light`` or ``warm-standby``) to its DR region and back, step by step, each step recorded in the run log
(``s3://<state bucket>/runs/<env>/...``, kind ``dr-failover`` / ``dr-failback``, pipeline/runlog.py).

Failover:
1. **database** — promote the DR region's cross-region read replica to a standalone instance
   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html), or, where there is no
   replica (the local emulator cannot create one), restore ``<prefix>-dr-postgres`` from the newest cross-region copy
   in the DR region: replicated automated backups (point-in-time, latest restorable time) if any, else the newest DB
   snapshot of the primary copied there (AWS Backup copy jobs or manual copies). Then the instance gets an
   RDS-managed master secret of the DR region (encrypted with the DR ``secrets`` key).
2. **scale** — the DR colours that carry traffic (the DR listener's weights) get the primary's capacity (its groups'
   desired capacity; the settings' when the primary region does not answer), as minimum and desired.
3. **health** — wait for that many healthy targets behind the DR load balancer.
4. **dns** — Route 53 fails over by itself once the primary's health check fails; the command does not wait for
   that: it *inverts* the primary's health check (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/
   health-checks-invert.html), so Route 53 treats the primary as unhealthy and answers the SECONDARY alias (the DR
   load balancer) for ``<record_name>`` and ``origin`` even while the primary half-works. Verified with the Route 53
   API: the check is inverted, both failover pairs exist with the SECONDARY aliasing the DR load balancer, and on
   AWS ``TestDNSAnswer`` answers the DR load balancer's addresses (the emulator evaluates no health check and has no
   TestDNSAnswer: there the record state is what is verified).

Failback (the reverse):
1. **primary-health** — the primary region serves (healthy targets behind the primary load balancer).
2. **database** — a snapshot of the DR instance (every write made during the failover), copied to the primary
   region; the primary instance is restored from it when it is gone, and kept (``--keep-primary-data``, the
   operator's decision after reconciling from the copy) when it still exists: the command refuses otherwise.
3. **dns** — the primary's health check is no longer inverted; verified as above.
4. **scale** — the DR groups return to the standby capacity.
5. **replication** — the DR instance is deleted (its snapshot is kept) and, where the target supports cross-region
   replicas, a deploy re-creates the read replica of the primary.

Exit codes (README): 0 done, 1 a step failed (the run log says which), 2 bad input, 3 a tool failed.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from envs.contract import (COLOURS, ORIGIN_RECORD, auto_scaling_group_name, database_identifier,
                           database_network_name, database_parameter_family, database_parameter_group_name,
                           dr_name_prefix, health_check_name, kms_alias_name, load_balancer_name, target_group_name)

from .run import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, EXIT_TOOL


class DrError(RuntimeError):
    """A step could not complete; the message says what to do."""


@dataclass(frozen=True)
class DrNames:
    """Names of the resources the commands act on, from the same contract functions the constructs name them by
    (``envs/contract.py``; the DR region's resources are ``<prefix>-dr-*``)."""

    prefix: str
    family: str
    record_names: tuple[str, ...]
    zone_name: str

    @property
    def dr(self) -> str:
        return dr_name_prefix(self.prefix)

    @property
    def primary_db(self) -> str:
        return database_identifier(self.prefix)

    @property
    def dr_db(self) -> str:
        return database_identifier(self.dr)

    def asgs(self, dr: bool) -> dict[str, str]:
        return {c: auto_scaling_group_name(self.dr if dr else self.prefix, c) for c in COLOURS}

    def target_groups(self, dr: bool) -> dict[str, str]:
        return {c: target_group_name(self.dr if dr else self.prefix, c) for c in COLOURS}

    def alb(self, dr: bool) -> str:
        return load_balancer_name(self.dr if dr else self.prefix)

    def key_alias(self, data_class: str, dr: bool) -> str:
        return kms_alias_name(self.dr if dr else self.prefix, data_class)


def names_for(settings: Any) -> DrNames:
    from modules.stack.mapping import data_tier_settings

    zone = data_tier_settings(settings).dr["zone_name"]
    family = database_parameter_family(settings.data.database.engine_version)
    return DrNames(prefix=settings.name_prefix, family=family,
                   record_names=(settings.data.dr.record_name, ORIGIN_RECORD), zone_name=zone)


class Recorder:
    """Runs steps, times them and keeps them in a run record (saved after every step)."""

    def __init__(self, record: Any, save: Callable[[Any], Any], say: Callable[[str], None]) -> None:
        self.record, self.save, self.say = record, save, say

    def step(self, name: str, action: Callable[[], str]) -> str:
        from .runlog import Step

        started = time.monotonic()
        self.say(f"[{self.record.env}] {self.record.kind}: {name} ...")
        try:
            detail = action()
        except (DrError, ClientError, BotoCoreError) as exc:
            self.record.steps.append(Step(name, "failed", round(time.monotonic() - started, 1), str(exc)))
            self.save(self.record)
            raise
        self.record.steps.append(Step(name, "ok", round(time.monotonic() - started, 1), detail))
        self.save(self.record)
        self.say(f"[{self.record.env}] {self.record.kind}: {name}: {detail}")
        return detail


class DrOperations:
    """The AWS calls of failover and failback for one environment (primary ``region``, DR ``dr_region``)."""

    def __init__(self, settings: Any, endpoint: str | None, client: Callable[..., Any], *, poll_seconds: float = 5,
                 timeout_seconds: float = 1800) -> None:
        self.s, self.endpoint = settings, endpoint
        self.n = names_for(settings)
        self.region, self.dr_region = settings.region, settings.dr_region
        self.c = lambda service, dr: client(service, self.dr_region if dr else self.region, endpoint)
        self.poll, self.timeout = poll_seconds, timeout_seconds

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _wait(self, what: str, done: Callable[[], bool], timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not done():
            if time.monotonic() > deadline:
                raise DrError(f"timed out waiting for {what}")
            time.sleep(self.poll)

    def _instance(self, identifier: str, dr: bool) -> dict[str, Any] | None:
        try:
            return self.c("rds", dr).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DBInstanceNotFound":
                return None
            raise

    def _wait_available(self, identifier: str, dr: bool) -> None:
        self._wait(f"{identifier} to be available",
                   lambda: (self._instance(identifier, dr) or {}).get("DBInstanceStatus") == "available")

    def _security_group_id(self, name: str, dr: bool) -> str:
        groups = self.c("ec2", dr).describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
        if not groups:
            raise DrError(f"security group {name} not found in {self.dr_region if dr else self.region}: deploy the "
                          "environment (with its pilot light) first")
        return groups[0]["GroupId"]

    def _key_arn(self, alias: str, dr: bool) -> str:
        return self.c("kms", dr).describe_key(KeyId=alias)["KeyMetadata"]["Arn"]

    # -- database --------------------------------------------------------------------------------------------------

    def promote_or_restore(self) -> str:
        n, db = self.n, self.s.data.database
        current = self._instance(n.dr_db, dr=True)
        if current is not None and current.get("ReadReplicaSourceDBInstanceIdentifier"):
            self.c("rds", True).promote_read_replica(DBInstanceIdentifier=n.dr_db,
                                                     BackupRetentionPeriod=db.backup_retention_days)
            self._wait(f"{n.dr_db} to be promoted", lambda: not (self._instance(n.dr_db, True) or {}).get(
                "ReadReplicaSourceDBInstanceIdentifier") and (self._instance(n.dr_db, True) or {}).get(
                "DBInstanceStatus") == "available")
            how = f"promoted the cross-region read replica {n.dr_db} to a standalone instance"
        elif current is not None:
            self._wait_available(n.dr_db, True)
            return f"{n.dr_db} is already a standalone instance"
        else:
            how = self._restore_latest_copy()
        self._managed_secret()
        return how

    def _restore_latest_copy(self) -> str:
        n, db, rds = self.n, self.s.data.database, self.c("rds", True)
        common = dict(DBInstanceIdentifier=n.dr_db, DBSubnetGroupName=database_network_name(n.dr),
                      VpcSecurityGroupIds=[self._security_group_id(database_network_name(n.dr), True)],
                      DBParameterGroupName=database_parameter_group_name(n.dr, n.family), EnableIAMDatabaseAuthentication=True,
                      PubliclyAccessible=False, CopyTagsToSnapshot=True,
                      DBInstanceClass=self.s.sizes.db_instance_class)
        backups = [b for b in rds.describe_db_instance_automated_backups().get("DBInstanceAutomatedBackups", [])
                   if b.get("DBInstanceIdentifier") == n.primary_db and b.get("RestoreWindow", {}).get("LatestTime")]
        if backups:
            source = max(backups, key=lambda b: b["RestoreWindow"]["LatestTime"])
            rds.restore_db_instance_to_point_in_time(
                SourceDBInstanceAutomatedBackupsArn=source["DBInstanceAutomatedBackupsArn"],
                TargetDBInstanceIdentifier=common.pop("DBInstanceIdentifier"), UseLatestRestorableTime=True,
                **common)
            how = (f"restored {n.dr_db} from the replicated automated backups of {n.primary_db} (latest restorable "
                   f"time {source['RestoreWindow']['LatestTime']})")
        else:
            snapshots = [s for s in self._snapshots(rds) if s.get("DBInstanceIdentifier") == n.primary_db
                         and s.get("Status") == "available"]
            if not snapshots:
                raise DrError(f"no cross-region copy of {n.primary_db} in {self.dr_region} (no replicated automated "
                              "backups, no DB snapshot): nothing to restore; check the AWS Backup copy jobs")
            latest = max(snapshots, key=lambda s: s["SnapshotCreateTime"])
            rds.restore_db_instance_from_db_snapshot(DBSnapshotIdentifier=latest["DBSnapshotIdentifier"], **common)
            how = (f"restored {n.dr_db} from {latest['DBSnapshotIdentifier']} (taken "
                   f"{latest['SnapshotCreateTime']:%Y-%m-%dT%H:%M:%SZ}), the newest copy in {self.dr_region}")
        self._wait_available(n.dr_db, True)
        return how

    @staticmethod
    def _snapshots(rds: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in ("manual", "awsbackup", "automated"):
            found += rds.describe_db_snapshots(SnapshotType=kind).get("DBSnapshots", [])
        return found

    def _managed_secret(self) -> None:
        """A promoted replica or a restored instance has no master secret of its own: RDS creates one in the DR
        region (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html)."""
        n = self.n
        if (self._instance(n.dr_db, True) or {}).get("MasterUserSecret"):
            return
        self.c("rds", True).modify_db_instance(
            DBInstanceIdentifier=n.dr_db, ManageMasterUserPassword=True, ApplyImmediately=True,
            MasterUserSecretKmsKeyId=self._key_arn(n.key_alias("secrets", dr=True), True))
        self._wait_available(n.dr_db, True)

    # -- capacity --------------------------------------------------------------------------------------------------

    def primary_capacity(self) -> tuple[int, str]:
        """Instances the primary runs (its groups' desired capacity), else the settings' when it does not answer."""
        try:
            groups = self.c("autoscaling", False).describe_auto_scaling_groups(
                AutoScalingGroupNames=list(self.n.asgs(False).values()))["AutoScalingGroups"]
            total = sum(g["DesiredCapacity"] for g in groups)
            if groups and total > 0:
                return total, f"the primary's desired capacity ({total})"
        except (ClientError, BotoCoreError):
            pass
        sizes = self.s.sizes
        wanted = max(1, sizes.desired_capacity if sizes.desired_capacity is not None else sizes.min_capacity)
        return wanted, f"the settings' capacity ({wanted}; the primary region did not answer)"

    def live_colours(self, dr: bool) -> list[str]:
        """Colours with a non-zero weight on the HTTPS listener of the (DR or primary) load balancer."""
        elbv2 = self.c("elbv2", dr)
        lbs = elbv2.describe_load_balancers(Names=[self.n.alb(dr)])["LoadBalancers"]
        listener = next((l for lb in lbs[:1] for l in elbv2.describe_listeners(
            LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if l["Port"] == 443), None)
        if listener is None:
            raise DrError(f"load balancer {self.n.alb(dr)} with an HTTPS listener not found in "
                          f"{self.dr_region if dr else self.region}: deploy the environment first")
        arns = {elbv2.describe_target_groups(Names=[tg])["TargetGroups"][0]["TargetGroupArn"]: c
                for c, tg in self.n.target_groups(dr).items()}
        live = []
        for action in listener["DefaultActions"]:
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                if group.get("Weight", 1) > 0 and group["TargetGroupArn"] in arns:
                    live.append(arns[group["TargetGroupArn"]])
            if action.get("TargetGroupArn") in arns:
                live.append(arns[action["TargetGroupArn"]])
        return sorted(set(live)) or ["blue"]

    def scale(self, capacity: int, colours: list[str]) -> str:
        autoscaling = self.c("autoscaling", True)
        done = []
        for colour in colours:
            name = self.n.asgs(True)[colour]
            group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
            if not group:
                raise DrError(f"Auto Scaling group {name} not found in {self.dr_region}: deploy the pilot light")
            wanted = min(capacity, group[0]["MaxSize"])
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=wanted,
                                                  DesiredCapacity=wanted)
            done.append(f"{name} = {wanted}")
        return ", ".join(done)

    def healthy_targets(self, colour: str, dr: bool) -> int:
        elbv2 = self.c("elbv2", dr)
        arn = elbv2.describe_target_groups(Names=[self.n.target_groups(dr)[colour]])["TargetGroups"][0][
            "TargetGroupArn"]
        return sum(1 for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
                   if d["TargetHealth"]["State"] == "healthy")

    def wait_healthy(self, colours: list[str], capacity: int, dr: bool) -> str:
        timeout = self.s.app.release_health_timeout_seconds
        self._wait(f"{capacity} healthy target(s) per live colour", lambda: all(
            self.healthy_targets(c, dr) >= capacity for c in colours), timeout=timeout)
        return ", ".join(f"{c}: {self.healthy_targets(c, dr)} healthy" for c in colours)

    # -- DNS -------------------------------------------------------------------------------------------------------

    def _zone_id(self) -> str:
        zones = self.c("route53", False).list_hosted_zones_by_name(DNSName=self.n.zone_name)["HostedZones"]
        zone = next((z for z in zones if z["Name"].rstrip(".") == self.n.zone_name), None)
        if zone is None:
            raise DrError(f"hosted zone {self.n.zone_name} not found: deploy the environment first")
        return zone["Id"].split("/")[-1]

    def primary_health_check(self) -> str:
        r53 = self.c("route53", False)
        wanted = health_check_name(self.n.prefix, "primary")
        for page in r53.get_paginator("list_health_checks").paginate():
            for check in page["HealthChecks"]:
                tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check["Id"])
                if any(t["Key"] == "Name" and t["Value"] == wanted for t in tags["ResourceTagSet"]["Tags"]):
                    return check["Id"]
        raise DrError(f"health check {wanted} not found: deploy the environment with its pilot light")

    def switch_dns(self, to_dr: bool) -> str:
        """Invert (to the DR region) or restore the primary's health check, then verify the records."""
        r53 = self.c("route53", False)
        check = self.primary_health_check()
        r53.update_health_check(HealthCheckId=check, Inverted=to_dr)
        return self.verify_dns(check, to_dr)

    def verify_dns(self, check: str, to_dr: bool) -> str:
        r53 = self.c("route53", False)
        inverted = r53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"].get("Inverted")
        if bool(inverted) != to_dr:
            raise DrError(f"health check {check} is {'not ' if to_dr else ''}inverted after the update")
        zone = self._zone_id()
        dr_alb = self.c("elbv2", True).describe_load_balancers(Names=[self.n.alb(True)])["LoadBalancers"][0]
        records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        seen = []
        for name in self.n.record_names:
            fqdn = f"{name}.{self.n.zone_name}."
            pair = {r.get("Failover"): r for r in records if r["Name"] == fqdn and r["Type"] == "A"}
            if set(pair) != {"PRIMARY", "SECONDARY"}:
                if name == ORIGIN_RECORD:
                    continue  # no CDN / API in front: no origin record
                raise DrError(f"{fqdn} has no PRIMARY/SECONDARY failover pair")
            if pair["PRIMARY"].get("HealthCheckId") != check:
                raise DrError(f"{fqdn} PRIMARY does not carry the primary's health check {check}")
            target = pair["SECONDARY"].get("AliasTarget", {}).get("DNSName", "").rstrip(".").lower()
            if target != dr_alb["DNSName"].rstrip(".").lower():
                raise DrError(f"{fqdn} SECONDARY aliases {target or 'nothing'}, not the DR load balancer")
            seen.append(fqdn.rstrip("."))
            if self.endpoint is None and to_dr:
                self._test_dns_answer(zone, fqdn)
        side = "SECONDARY (DR load balancer)" if to_dr else "PRIMARY"
        how = ("TestDNSAnswer" if self.endpoint is None else
               "record state (the emulator evaluates no health check)")
        return (f"health check {check} inverted={to_dr}; {', '.join(seen)} answer {side}; verified by {how}")

    def _test_dns_answer(self, zone: str, fqdn: str) -> None:
        """On AWS: Route 53's own answer for the record is the DR load balancer's (retried for the checkers'
        interval x threshold). https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html"""
        import socket

        dr_dns = self.c("elbv2", True).describe_load_balancers(Names=[self.n.alb(True)])["LoadBalancers"][0][
            "DNSName"]
        expected = {a[4][0] for a in socket.getaddrinfo(dr_dns, 443, socket.AF_INET)}

        def answers_dr() -> bool:
            answer = self.c("route53", False).test_dns_answer(HostedZoneId=zone, RecordName=fqdn, RecordType="A")
            return bool(set(answer.get("RecordData", [])) & expected)

        self._wait(f"{fqdn} to answer the DR load balancer", answers_dr, timeout=300)

    # -- failback --------------------------------------------------------------------------------------------------

    def snapshot_to_primary(self, stamp: str) -> str:
        n = self.n
        rds_dr, rds = self.c("rds", True), self.c("rds", False)
        if self._instance(n.dr_db, True) is None:
            raise DrError(f"{n.dr_db} does not exist in {self.dr_region}: nothing to fail back (was `dr failover` "
                          "run?)")
        snap = f"{n.dr_db}-failback-{stamp}"
        rds_dr.create_db_snapshot(DBInstanceIdentifier=n.dr_db, DBSnapshotIdentifier=snap)
        self._wait(f"snapshot {snap}", lambda: rds_dr.describe_db_snapshots(DBSnapshotIdentifier=snap)[
            "DBSnapshots"][0]["Status"] == "available")
        arn = rds_dr.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["DBSnapshotArn"]
        copy = f"{n.primary_db}-failback-{stamp}"
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=copy,
                             KmsKeyId=self._key_arn(n.key_alias("data", dr=False), False), CopyTags=True,
                             SourceRegion=self.dr_region)
        self._wait(f"snapshot copy {copy}", lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=copy)[
            "DBSnapshots"][0]["Status"] == "available")
        return copy

    def restore_primary(self, copy: str, keep_primary_data: bool) -> str:
        n = self.n
        if self._instance(n.primary_db, False) is not None:
            if not keep_primary_data:
                raise DrError(f"{n.primary_db} still exists in {self.region}; the writes made in {self.dr_region} "
                              f"are in snapshot {copy} ({self.region}). Reconcile from it, then run again with "
                              "--keep-primary-data to keep the primary's data")
            return f"kept {n.primary_db} (--keep-primary-data); the DR region's data is in snapshot {copy}"
        self.c("rds", False).restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=n.primary_db, DBSnapshotIdentifier=copy,
            DBSubnetGroupName=database_network_name(n.prefix),
            VpcSecurityGroupIds=[self._security_group_id(database_network_name(n.prefix), False)],
            DBParameterGroupName=database_parameter_group_name(n.prefix, n.family), EnableIAMDatabaseAuthentication=True,
            PubliclyAccessible=False, CopyTagsToSnapshot=True, DBInstanceClass=self.s.sizes.db_instance_class)
        self._wait_available(n.primary_db, False)
        return f"restored {n.primary_db} from {copy}"

    def drop_dr_database(self) -> str:
        n, rds = self.n, self.c("rds", True)
        if self._instance(n.dr_db, True) is None:
            return f"{n.dr_db} already gone"
        rds.modify_db_instance(DBInstanceIdentifier=n.dr_db, DeletionProtection=False, ApplyImmediately=True)
        rds.delete_db_instance(DBInstanceIdentifier=n.dr_db, SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
        self._wait(f"{n.dr_db} to be deleted", lambda: self._instance(n.dr_db, True) is None)
        return f"deleted {n.dr_db} (its data is in the failback snapshot)"


# -- the commands ------------------------------------------------------------------------------------------------

def _prepare(args: argparse.Namespace) -> tuple[Any, Any] | int:
    from envs import SettingsError

    from . import cli_helpers as commands, synth as synth_mod

    try:
        settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return commands.bad_settings(exc)
    if not (settings.data.enabled and settings.data.dr.enabled and settings.data.dr.runs_in_dr):
        from envs.loader import envs_dir as settings_dir

        path = settings_dir(args.envs_dir) / f"{args.env}.toml"
        commands.fail(f"error: {path}: data.dr.mode = \"{settings.data.dr.mode}\": {args.env} has nothing running in "
                      f"its DR region ({settings.dr_region}) to fail over to; set data.dr.mode = \"pilot-light\" "
                      "(or \"warm-standby\") and deploy, or follow docs/runbooks/"
                      f"{args.env}.md (restore from backups)")
        return EXIT_BAD_INPUT
    if not settings.data.database.enabled:
        commands.fail("error: data.database.enabled = false: dr failover moves the database; nothing to do")
        return EXIT_BAD_INPUT
    return settings, commands.target(args.target)


def _run(args: argparse.Namespace, kind: str, body: Callable[[DrOperations, Recorder], None]) -> int:
    from . import cli_helpers as commands, synth as synth_mod
    from .aws import client
    from .local import EmulatorError
    from .orchestrator import actor
    from .runlog import FAILED, SUCCEEDED, RunLog, iso, new_record, utc_now

    try:
        prepared = _prepare(args)
    except EmulatorError as exc:
        commands.fail(f"error: {exc}")
        return EXIT_TOOL
    if isinstance(prepared, int):
        return prepared
    settings, target = prepared
    log = RunLog(client("s3", settings.region, target.endpoint), settings.state_bucket, settings.name)
    record = new_record(settings.name, target.kind, kind, synth_mod.current_commit(), actor())
    recorder = Recorder(record, log.save, commands.say)
    ops = DrOperations(settings, target.endpoint, client, poll_seconds=2 if target.is_local else 15)
    try:
        url = log.save(record)
    except (ClientError, BotoCoreError) as exc:
        commands.fail(f"error: {kind} of {settings.name}: the run log cannot be written to "
                      f"s3://{settings.state_bucket} ({exc}); deploy the environment first")
        return EXIT_BLOCKED
    try:
        body(ops, recorder)
        record.status, record.message = SUCCEEDED, f"{kind} of {settings.name} done"
        code = EXIT_OK
    except DrError as exc:
        record.status, record.message = FAILED, str(exc)
        commands.fail(f"error: {kind} of {settings.name}: {exc}")
        code = EXIT_BLOCKED
    except (ClientError, BotoCoreError) as exc:
        record.status, record.message = FAILED, f"AWS API: {exc}"
        commands.fail(f"error: {kind} of {settings.name}: AWS API: {exc}")
        code = EXIT_TOOL
    record.finished_at = iso(utc_now())
    try:
        url = log.save(record)
    except (ClientError, BotoCoreError) as exc:
        commands.fail(f"error: the run log could not be written ({exc})")
        return EXIT_TOOL
    commands.say(f"[{settings.name}] {kind}: {record.status}; run log {url}")
    return code


def cmd_failover(args: argparse.Namespace) -> int:
    """``dr failover --env E [--target local|aws]``."""

    def body(ops: DrOperations, rec: Recorder) -> None:
        rec.step("database", ops.promote_or_restore)
        capacity, why = ops.primary_capacity()
        colours = ops.live_colours(dr=True)
        rec.step("scale", lambda: f"{ops.scale(capacity, colours)} ({why})")
        rec.step("health", lambda: ops.wait_healthy(colours, capacity, dr=True))
        rec.step("dns", lambda: ops.switch_dns(to_dr=True))

    return _run(args, "dr-failover", body)


def cmd_failback(args: argparse.Namespace) -> int:
    """``dr failback --env E [--target local|aws] [--keep-primary-data]``."""
    from envs import dr as dr_rules

    def body(ops: DrOperations, rec: Recorder) -> None:
        colours = ops.live_colours(dr=False)
        rec.step("primary-health", lambda: ops.wait_healthy(colours, 1, dr=False))
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        copy = {}
        rec.step("database-snapshot", lambda: f"copied to {ops.region} as "
                                              f"{copy.setdefault('id', ops.snapshot_to_primary(stamp))}")
        rec.step("database", lambda: ops.restore_primary(copy["id"], args.keep_primary_data))
        rec.step("dns", lambda: ops.switch_dns(to_dr=False))
        standby = dr_rules.standby_capacity(ops.s)
        rec.step("scale", lambda: ops.scale(standby, list(COLOURS)) + " (standby capacity)")
        rec.step("replication", lambda: _reestablish(ops, args))

    return _run(args, "dr-failback", body)


def _reestablish(ops: DrOperations, args: argparse.Namespace) -> str:
    """Delete the promoted / restored DR instance, then let Terraform re-create the cross-region read replica where
    the target can create one (a deploy: every gate, the plan shows the replica being created)."""
    from envs.target import AWS

    dropped = ops.drop_dr_database()
    if ops.endpoint is not None or not AWS.supports_feature("rds_read_replica"):
        return (f"{dropped}; no read replica on this target (the emulator cannot create one): the next failover "
                "restores from the newest cross-region copy again")
    from . import commands

    code = commands.cmd_deploy(argparse.Namespace(env=args.env, target=args.target, envs_dir=args.envs_dir,
                                                  approve=[], lock_timeout="0s", recover=False, waivers=None))
    if code != EXIT_OK:
        raise DrError(f"{dropped}; the deploy that re-creates the read replica exited {code}: run `deploy --env "
                      f"{args.env} --target {args.target}` once it can pass")
    return f"{dropped}; deployed: the cross-region read replica of the primary is re-created"


def cmd_dr(args: argparse.Namespace) -> int:
    """``dr failover|failback``."""
    return {"failover": cmd_failover, "failback": cmd_failback}[args.action](args)
