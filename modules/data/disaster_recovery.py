"""Disaster recovery: the DR-region key, Route 53 health check and failover records, alarms on the recovery point
objective (replication lag), and the DR runbook generated from the settings (:func:`render_runbook`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.route53_health_check import Route53HealthCheck
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone
from constructs import Construct

from envs.contract import health_check_name, kms_alias_name

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, tags
from modules.security.keys import cloudfront_read_statement


@dataclass(frozen=True)
class ReplicationWatch:
    """One S3 replication rule whose latency is held against the RPO."""

    source_bucket: str
    destination_bucket: str
    rule_id: str


@dataclass(frozen=True)
class DisasterRecoverySettings:
    """Inputs of :class:`DisasterRecovery`."""

    dr_region: str
    """The DR region. Required."""
    zone_name: str
    """Public hosted zone holding the failover record. Required."""
    rto_minutes: int = 240
    """Recovery time objective. Default 240."""
    rpo_minutes: int = 60
    """Recovery point objective: replication-lag alarms fire above it. Default 60."""
    record_name: str = "app"
    """Failover record name inside the zone. Default ``app``."""
    primary_endpoint: str | None = None
    """DNS name of the primary entry point (the app tier's load balancer). Default: none (no record, no health
    check)."""
    primary_zone_id: str | None = None
    """Route 53 zone id of `primary_endpoint` (the load balancer's canonical zone): the record is an alias of it.
    Default: none (a CNAME)."""
    secondary_endpoint: str | None = None
    """DNS name of a standby entry point of the user's own: with it the record is a PRIMARY/SECONDARY failover pair of
    CNAMEs. Default: none (a plain record of the primary: nothing to fail over to; the pilot light's failover pair is
    :class:`modules.pilot_light.FailoverRecords`)."""
    health_check_path: str = "/health"
    """HTTPS path checked on the primary. Default ``/health``."""
    replication_watches: tuple[ReplicationWatch, ...] = ()
    """S3 replication rules to alarm on. Default: none."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the alarms notify (severity critical). Default: none (alarms without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.dr_region != "", "`dr_region` is required")
        require(self.rpo_minutes >= 1 and self.rto_minutes >= 1, "`rpo_minutes` and `rto_minutes` must be >= 1")


#: Services the DR-region key serves: AWS Backup (the DR vault), S3 (replicas) and RDS (replicated backups).
DR_KEY_SERVICES = ("backup.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com")


class DrRegionKey(Module):
    """A customer-managed key in the DR region (rotation on) for everything copied there.

    Public attributes: ``key`` (escape hatch), ``arn``, ``alias_name``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, dr_provider: TerraformProvider,
                 extra_tags: dict[str, str] | None = None) -> None:
        super().__init__(scope, id_, ctx)
        prefix = ctx.name_prefix
        root = f"arn:{ctx.partition}:iam::{ctx.account_id}:root"
        self._statements: list[dict] = [
            {"Sid": "AccountAdministration", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "ServiceUse", "Effect": "Allow", "Principal": {"Service": list(DR_KEY_SERVICES)},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:Describe*"],
             "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}}}]
        self.key = KmsKey(
            self, "key", provider=dr_provider, description=f"{prefix}-dr: customer-managed key for DR copies",
            enable_key_rotation=True, deletion_window_in_days=30, policy=policy_json(*self._statements),
            tags=tags(ctx, f"{prefix}-dr", extra_tags))
        self.alias = KmsAlias(self, "alias", provider=dr_provider, name=kms_alias_name(prefix, "dr"),
                              target_key_id=self.key.key_id)
        self.arn: str = self.key.arn
        self.alias_name: str = self.alias.name

    def allow_cloudfront_read(self, distribution_arn: str) -> None:
        """Let one CloudFront distribution decrypt the DR replica it fails over to (PLAT_AWS_001)."""
        self._statements.append(cloudfront_read_statement(distribution_arn))
        self.key.policy = policy_json(*self._statements)


class DisasterRecovery(Module):
    """DR plumbing of one environment.

    Public attributes: ``zone`` / ``zone_id`` /
    ``zone_name``, ``health_check_id`` and ``record_fqdn`` (None without both endpoints), ``alarms``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: DisasterRecoverySettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags

        self.zone = Route53Zone(self, "zone", name=s.zone_name, comment=f"{prefix}: failover records",
                                force_destroy=False, tags=tags(ctx, s.zone_name, extra))
        self.zone_id: str = self.zone.zone_id
        self.zone_name = s.zone_name
        self.health_check_id: str | None = None
        self.record_fqdn: str | None = None
        if s.primary_endpoint:
            self.health_check_id = app_health_check(self, "primary-health", ctx, s.primary_endpoint,
                                                    s.health_check_path, s.rto_minutes, "primary", s.extra_tags).id
            if s.secondary_endpoint:
                self._failover(s.primary_endpoint, s.secondary_endpoint)
            else:
                self._single(s.primary_endpoint)
        self.alarms = self._alarms()

    def _single(self, primary: str) -> None:
        """No standby: the record answers the primary entry point only (an alias of the load balancer when its zone
        is known). Route 53 failover to a name that serves nothing for this host (formerly the CloudFront domain,
        whose distribution has no such alias) would only turn an outage into a TLS error."""
        s = self.settings
        if self.settings.primary_zone_id is not None:
            # Alias of the ALB:
            # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html
            Route53Record(self, "record", zone_id=self.zone.zone_id, name=s.record_name, type="A",
                          alias={"name": primary, "zone_id": s.primary_zone_id, "evaluate_target_health": True})
        else:
            Route53Record(self, "record", zone_id=self.zone.zone_id, name=s.record_name, type="CNAME", ttl=60,
                          records=[primary])
        self.record_fqdn = f"{s.record_name}.{s.zone_name}"

    def _failover(self, primary: str, secondary: str) -> None:
        """A PRIMARY/SECONDARY failover pair of CNAMEs to a standby of the user's own (`secondary_endpoint`).
        https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html"""
        ctx, s = self.ctx, self.settings
        prefix = ctx.name_prefix
        for role, target, health in (("PRIMARY", primary, self.health_check_id), ("SECONDARY", secondary, None)):
            Route53Record(self, f"record-{role.lower()}", zone_id=self.zone.zone_id, name=s.record_name,
                          type="CNAME", ttl=60, records=[target], set_identifier=f"{prefix}-{role.lower()}",
                          failover_routing_policy={"type": role}, health_check_id=health)
        self.record_fqdn = f"{s.record_name}.{s.zone_name}"

    def _alarms(self) -> list[CloudwatchMetricAlarm]:
        ctx, s = self.ctx, self.settings
        topics = s.alarm_topics.actions("critical")
        alarms = []
        for watch in s.replication_watches:
            alarms.append(CloudwatchMetricAlarm(
                self, f"alarm-s3-replication-{watch.rule_id}-{len(alarms)}",
                alarm_name=f"{ctx.name_prefix}-s3-replication-latency-{len(alarms) + 1}",
                namespace="AWS/S3", metric_name="ReplicationLatency",
                dimensions={"SourceBucket": watch.source_bucket, "DestinationBucket": watch.destination_bucket,
                            "RuleId": watch.rule_id},
                statistic="Maximum", period=300, evaluation_periods=3, threshold=s.rpo_minutes * 60,
                comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
                alarm_description=f"S3 replication to {s.dr_region} lags beyond the RPO ({s.rpo_minutes} min)",
                alarm_actions=topics, ok_actions=topics,
                tags=tags(ctx, f"{ctx.name_prefix}-s3-replication-latency", s.extra_tags)))
        if self.health_check_id is not None:
            alarms.append(primary_health_alarm(self, ctx, self.health_check_id, s.alarm_topics, s.extra_tags,
                                               failover=bool(s.secondary_endpoint)))
        return alarms


def app_health_check(scope: Construct, id_: str, ctx: Context, fqdn: str, path: str, rto_minutes: int, role: str,
                     extra_tags: dict[str, str] | None = None) -> Route53HealthCheck:
    """An HTTPS Route 53 health check of the application: ``path`` (the app's health endpoint) requested through
    the region's entry point ``fqdn`` (its load balancer), so it fails when no instance serves, not only when the
    load balancer is gone. 10 s interval when the RTO is under an hour; 3 failures.
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html"""
    fast = rto_minutes < 60
    return Route53HealthCheck(
        scope, id_, type="HTTPS", fqdn=fqdn, port=443, resource_path=path, enable_sni=True,
        request_interval=10 if fast else 30, failure_threshold=3, measure_latency=False,
        tags=tags(ctx, health_check_name(ctx.name_prefix, role), extra_tags))


def primary_health_alarm(scope: Construct, ctx: Context, health_check_id: str, topics: AlarmTopics,
                         extra_tags: dict[str, str] | None, failover: bool) -> CloudwatchMetricAlarm:
    """The alarm on the primary's health check (Route 53 metrics are in us-east-1)."""
    return CloudwatchMetricAlarm(
        scope, "alarm-primary-health", alarm_name=f"{ctx.name_prefix}-primary-unhealthy",
        namespace="AWS/Route53", metric_name="HealthCheckStatus",
        dimensions={"HealthCheckId": health_check_id}, statistic="Minimum", period=60,
        evaluation_periods=2, threshold=1, comparison_operator="LessThanThreshold",
        treat_missing_data="breaching",
        alarm_description="Primary entry point failed its health check: "
                          + ("DNS fails over to the DR region" if failover else "no standby; see the DR runbook"),
        alarm_actions=topics.actions("critical"), ok_actions=topics.actions("critical"),
        tags=tags(ctx, f"{ctx.name_prefix}-primary-unhealthy", extra_tags))


# -- the runbook --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunbookInputs:
    """Everything the DR runbook says, resolved from one environment's settings (no Terraform values)."""

    environment: str
    name_prefix: str
    region: str
    dr_region: str
    protected: bool
    rto_minutes: int
    rpo_minutes: int
    database: bool
    db_identifier: str
    db_multi_az: bool
    db_read_replicas: int
    db_backup_retention_days: int
    db_backups_replicated: bool
    db_proxy: bool
    cache: bool
    cache_multi_az: bool
    cache_nodes: int
    buckets_replicated: bool
    cdn: bool
    backup_copy_to_dr: bool
    backup_daily_days: int
    backup_weekly_days: int
    backup_dr_days: int
    vault_lock: bool
    restore_testing: bool
    zone_name: str
    record_name: str
    health_check_path: str
    secondary_endpoint: str | None
    mode: str = "backup-only"
    standby_capacity: int = 0
    app: bool = True

    @property
    def pilot_light(self) -> bool:
        """True when the DR region runs a pilot light or warm standby: `dr failover` / `dr failback` apply."""
        return self.mode != "backup-only" and self.app and self.database


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render_runbook(r: RunbookInputs) -> str:
    """The DR runbook of one environment, as Markdown: objectives, what fails over and how, in which order, and how
    to fail back. Deterministic (no timestamps) so the committed copy can be compared with a fresh one."""
    vault, dr_vault = f"{r.name_prefix}-vault", f"{r.name_prefix}-vault-dr"
    record = f"{r.record_name}.{r.zone_name}"
    rpo_sources = []
    if r.database:
        rpo_sources.append("database: Multi-AZ synchronous standby (RPO 0 inside the region)" if r.db_multi_az else
                           "database: single-AZ; point-in-time restore from automated backups (RPO about 5 minutes "
                           "inside the region)")
        rpo_sources.append(f"database in {r.dr_region}: " + ("replicated automated backups (point-in-time restore, "
                                                              "RPO minutes)" if r.db_backups_replicated else
                                                              "AWS Backup copies only (RPO up to 24 hours)"))
    if r.buckets_replicated:
        rpo_sources.append(f"buckets: S3 replication to {r.dr_region} with replication time control (15 minutes)")
    rpo_sources.append("everything tagged for the backup plan: daily (05:00 UTC) and weekly recovery points"
                       + (f", copied to `{dr_vault}` in {r.dr_region}" if r.backup_copy_to_dr else ""))
    lines = [
        f"# Disaster recovery runbook: {r.environment}",
        "",
        f"Generated by `python main.py runbook --env {r.environment}` from `envs/{r.environment}.toml`; do not edit "
        "by hand (regenerate after changing the settings).",
        "",
        "## Objectives",
        "",
        "| objective | target |",
        "| --- | --- |",
        f"| RTO (time to restore service) | {r.rto_minutes} minutes |",
        f"| RPO (data loss accepted) | {r.rpo_minutes} minutes |",
        f"| primary region | {r.region} |",
        f"| DR region | {r.dr_region} |",
        f"| protected environment | {_yes(r.protected)} |",
        "",
        "Where the data is kept:",
        "",
        *[f"- {line}" for line in rpo_sources],
        "",
        "## What fails over by itself",
        "",
        "| component | automatic failover | how |",
        "| --- | --- | --- |",
    ]
    if r.database:
        lines.append(f"| RDS `{r.db_identifier}` | {_yes(r.db_multi_az)} | "
                     + ("Multi-AZ standby promoted by RDS (60-120 s); the endpoint name stays" if r.db_multi_az else
                        "none: single-AZ, restore from backup") + " |")
        if r.db_read_replicas:
            lines.append(f"| {r.db_read_replicas} read replica(s) | no | promote one manually if the primary is lost |")
        if r.db_proxy:
            lines.append("| RDS Proxy | yes | follows the primary; clients keep the proxy endpoint |")
    if r.cache:
        lines.append(f"| ElastiCache Redis ({r.cache_nodes} node(s)) | {_yes(r.cache_multi_az)} | "
                     + ("replica promoted by ElastiCache" if r.cache_multi_az else "none: recreate from a snapshot")
                     + " |")
    if r.cdn:
        lines.append("| CloudFront static content | "
                     + ("yes | origin group fails over to the DR replica bucket on 5xx |" if r.buckets_replicated
                        else "no | single origin |"))
    if r.pilot_light:
        lines.append(f"| DNS `{record}` and `origin.{r.zone_name}` | yes | Route 53 failover: the health check on "
                     f"`https://<primary load balancer>{r.health_check_path}` fails, SECONDARY aliases answer the "
                     f"DR load balancer in {r.dr_region} (CloudFront's `/api/*` and API Gateway follow `origin`); "
                     "`dr failover` forces the switch |")
        lines.append(f"| app tier in {r.dr_region} | no | {_standby(r)}; `dr failover` scales it to the primary's "
                     "capacity |")
        if r.database:
            lines.append(f"| database in {r.dr_region} | no | cross-region read replica `{r.name_prefix}-dr-postgres`, "
                         "promoted by `dr failover` |")
    elif r.secondary_endpoint:
        lines.append(f"| DNS `{record}` | yes | Route 53 health check on `https://<primary>{r.health_check_path}`; "
                     f"SECONDARY answers `{r.secondary_endpoint}` |")
    else:
        lines.append(f"| DNS `{record}` | no | alias of the primary load balancer; nothing runs in {r.dr_region} "
                     f"to fail over to (`data.dr.mode` = `{r.mode}`); the health check on "
                     f"`https://<primary>{r.health_check_path}` raises the primary-unhealthy alarm |")
    lines += [
        "",
        "## Detection",
        "",
        "Alarms (all notify the alerting topics): database CPU and free storage, read-replica lag above the RPO, "
        "Redis CPU / memory / evictions per node, S3 replication latency above the RPO, failed backup / copy / "
        "restore-test jobs, and the primary health check.",
        "",
        "## Failover to the DR region (region outage)",
        "",
        "Follow the steps in order; note the time of each step in the incident ticket.",
        "",
        f"1. **Declare** the disaster when the primary region ({r.region}) is impaired for longer than the RTO allows "
        f"waiting ({r.rto_minutes // 4} minutes). Page the database owner.",
        "2. **Freeze writes**: set the application to maintenance mode so no client writes to the primary.",
    ]
    if r.pilot_light:
        return "\n".join(lines + _commanded(r))
    step = 3
    if r.database:
        if r.db_backups_replicated:
            how = (f"restore the latest restorable time from the replicated automated backups: `aws rds "
                   f"restore-db-instance-to-point-in-time --region {r.dr_region} --source-db-instance-automated-"
                   f"backups-arn <arn from describe-db-instance-automated-backups> --target-db-instance-identifier "
                   f"{r.db_identifier}-dr --use-latest-restorable-time --multi-az --db-subnet-group-name <DR subnet group>`")
        else:
            how = (f"restore the newest recovery point copied to `{dr_vault}`: `aws backup list-recovery-points-by-"
                   f"backup-vault --region {r.dr_region} --backup-vault-name {dr_vault}`, then `aws backup "
                   "start-restore-job` with the DR subnet group")
        lines.append(f"{step}. **Database**: {how}. Wait until it is `available`; the new instance keeps the "
                     "managed master secret in Secrets Manager of the DR region.")
        step += 1
    if r.cache:
        lines.append(f"{step}. **Cache**: create a Redis replication group in {r.dr_region} (empty, or from the "
                     "latest exported snapshot); the cache is rebuilt from the database, so it may start cold.")
        step += 1
    lines.append(f"{step}. **Objects**: "
                 + (f"the replica buckets `{r.name_prefix}-app-*-{r.dr_region}` and `{r.name_prefix}-static-*-"
                    f"{r.dr_region}` already hold the data; point the application at them." if r.buckets_replicated
                    else f"restore the buckets from AWS Backup copies in `{dr_vault}` if they are in the plan, "
                         "otherwise accept the loss of objects written since the last copy."))
    step += 1
    lines.append(f"{step}. **Application**: deploy the app tier in {r.dr_region} (the same stack with the DR region "
                 "settings), configured with the new database endpoint, cache endpoint and buckets.")
    step += 1
    lines.append(f"{step}. **DNS**: " + (
        f"Route 53 has already answered the SECONDARY record of `{record}` (`{r.secondary_endpoint}`) once the "
        "primary health check failed; point that record at the DR application and check it resolves."
        if r.secondary_endpoint else
        f"`{record}` is an alias of the primary load balancer: UPSERT it (and `origin.{r.zone_name}`) as an alias "
        "of the DR application's load balancer (`aws route53 change-resource-record-sets`) and check it resolves."))
    step += 1
    lines += [
        f"{step}. **Verify**: health endpoint `{r.health_check_path}` answers 200 through `{record}`; a write and "
        "a read succeed; alarms in the DR region are green. Lift maintenance mode.",
        "",
        f"`python main.py dr failover --env {r.environment}` needs a pilot light (`data.dr.mode = \"pilot-light\"` "
        f"or `\"warm-standby\"`); with `{r.mode}` these steps are manual.",
        "",
        "## Failback to the primary region",
        "",
        f"1. When {r.region} is healthy, recreate the primary stack: `python main.py deploy --env {r.environment} "
        "--target aws` (the plan gate refuses to replace stateful resources without approval).",
        f"2. Copy the data back: snapshot the DR database and restore it (or use logical replication) into "
        f"`{r.db_identifier}`; replicate DR buckets back with S3 Batch Replication.",
        "3. Freeze writes in the DR region, let replication catch up (lag alarm green), switch the application "
        "to the primary endpoints.",
        f"4. DNS returns to PRIMARY by itself when the health check on the primary passes; watch `{record}`.",
        "5. Remove the temporary DR resources once the primary has been healthy for a full backup cycle.",
        "",
        *_backups_and_drill(r),
    ]
    return "\n".join(lines)


def _standby(r: RunbookInputs) -> str:
    return (f"load balancer and Auto Scaling groups at {r.standby_capacity} instance(s)" if r.standby_capacity
            else "load balancer and empty Auto Scaling groups (pilot light)")


def _commanded(r: RunbookInputs) -> list[str]:
    """Failover, failback, backups and rehearsal of an environment with a pilot light: the commands."""
    record = f"{r.record_name}.{r.zone_name}"
    env, dr_db = r.environment, f"{r.name_prefix}-dr-postgres"
    lines = [
        f"3. **Fail over**: `python main.py dr failover --env {env} --target aws`. It promotes the cross-region read "
        f"replica `{dr_db}` (where there is none it restores it from the newest copy in {r.dr_region}) and gives it "
        f"an RDS-managed master secret in {r.dr_region}, scales the DR Auto Scaling groups (standing at "
        f"{r.standby_capacity} instance(s)) to the primary's capacity, waits for healthy targets, inverts the "
        "primary's Route 53 health check so "
        f"`{record}` and `origin.{r.zone_name}` answer the DR load balancer, and verifies that with the Route 53 "
        "API. Every step is in the run log (`s3://<state bucket>/runs/<env>/`, kind `dr-failover`). Exit 1 names "
        "the failed step; run the command again once it is fixed (a promoted database is kept).",
    ]
    step = 4
    if r.cache:
        lines.append(f"{step}. **Cache**: none in {r.dr_region}; the application starts without it (the cache is "
                     "rebuilt from the database).")
        step += 1
    lines.append(f"{step}. **Objects**: "
                 + (f"the replica buckets in {r.dr_region} already hold the data; the DR instances read them."
                    if r.buckets_replicated else f"not replicated: objects written since the last AWS Backup copy "
                                                 "are lost."))
    step += 1
    lines += [
        f"{step}. **Verify**: `{r.health_check_path}` answers 200 through `{record}`; a write and a read succeed. "
        "Lift maintenance mode. Do not `deploy` while failed over: the plan would scale the DR groups back to the "
        "standby capacity.",
        "",
        "## Failback to the primary region",
        "",
        f"1. Make sure {r.region} serves again (`python main.py deploy --env {env} --target aws` if it has to be "
        "rebuilt); freeze writes.",
        f"2. **Fail back**: `python main.py dr failback --env {env} --target aws`. It checks the primary's healthy "
        f"targets, snapshots `{dr_db}` and copies the snapshot to {r.region} (`{r.db_identifier}-failback-<time>`), "
        f"restores `{r.db_identifier}` from it when the primary instance is gone, un-inverts the health check and "
        "verifies DNS, scales the DR groups back to the standby capacity, deletes the promoted DR instance and runs "
        "the deploy that re-creates the cross-region read replica. While the primary instance still exists it "
        "stops (exit 1) once the snapshot is copied, before touching the primary, DNS or the DR region: reconcile "
        "the DR region's writes from the copied snapshot, then "
        "run it again with `--keep-primary-data`.",
        "3. Lift maintenance mode; watch the replica-lag alarm turn green.",
        "",
        *_backups_and_drill(r),
    ]
    return lines


def _backups_and_drill(r: RunbookInputs) -> list[str]:
    vault, dr_vault = f"{r.name_prefix}-vault", f"{r.name_prefix}-vault-dr"
    return [
        "## Backups",
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| primary vault | `{vault}` ({r.region}) |",
        f"| DR vault | {f'`{dr_vault}` ({r.dr_region})' if r.backup_copy_to_dr else 'none'} |",
        f"| daily / weekly retention | {r.backup_daily_days} / {r.backup_weekly_days} days |",
        f"| retention of DR copies | {r.backup_dr_days if r.backup_copy_to_dr else '-'} days |",
        f"| vault lock | {_yes(r.vault_lock)} |",
        f"| RDS automated backups | {r.db_backup_retention_days} days"
        + (f", replicated to {r.dr_region}" if r.db_backups_replicated else "") + " |",
        f"| monthly restore test | {_yes(r.restore_testing)} |",
        "",
        "## Exercising this runbook",
        "",
        f"`python main.py dr drill --env {r.environment}` rehearses the recovery: it restores the latest "
        "cross-region backup into an isolated copy, validates the data, measures the achieved RTO and RPO against "
        "the objectives above and writes a report (exit 1 when an objective is missed). Run it monthly and after "
        "every change to this file"
        + (f"; rehearse `dr failover` / `dr failback` against staging or a copy of {r.environment} twice a year."
           if r.pilot_light else "."),
        "",
    ]


def replication_watches(pairs: Sequence[tuple[str, str]], rule_id: str) -> tuple[ReplicationWatch, ...]:
    """Watches for (source bucket, destination bucket) pairs replicated by the rule ``rule_id``."""
    return tuple(ReplicationWatch(src, dst, rule_id) for src, dst in pairs)
