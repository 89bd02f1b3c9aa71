"""The data tier: database, cache, storage, CDN, backup and disaster recovery, composed for one stack.

:func:`data_tier_settings` maps an environment's settings (``[data.*]`` tables plus `protection_level`, sizes and
regions) onto :class:`DataTierSettings`; :class:`DataTier` builds the modules in dependency order. The DR-region
resources use the stack's ``dr`` provider.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from constructs import Construct

from envs.dr import objectives as dr_objectives, standby_capacity as dr_standby_capacity
from envs.schema import EnvironmentSettings

from .backup import Backup, BackupSettings
from .base import Context, Module
from .cache import Cache, CacheSettings
from .cdn import Cdn, CdnSettings
from .database import Database, DatabaseSettings
from .dr import DisasterRecovery, DisasterRecoverySettings, DrRegionKey, RunbookInputs, replication_watches
from .storage import DATA_BUCKETS, Storage, StorageSettings

#: Record (in the environment's zone) aliasing the load balancer: the host name CloudFront and API Gateway reach it by.
ORIGIN_RECORD = "origin"


@dataclass(frozen=True)
class DataTierSettings:
    """Inputs of :class:`DataTier`, resolved from one environment (no ``None`` meaning "depends on the environment")."""

    environment: str
    """Environment name (for the runbook). Required."""
    protected: bool
    """Deletion protection, final snapshots, no force-destroy of buckets. Required."""
    dr_region: str
    """The DR region. Required."""
    log_retention_days: int
    """Retention of the module's log groups. Required."""
    database: Mapping[str, Any] | None
    """Keyword values of :class:`DatabaseSettings` besides network, keys and dependencies; None: no database."""
    cache: Mapping[str, Any] | None
    """Keyword values of :class:`CacheSettings` besides network, keys and dependencies; None: no cache."""
    storage: Mapping[str, Any]
    """Keyword values of :class:`StorageSettings` besides keys."""
    cdn: Mapping[str, Any] | None
    """Keyword values of :class:`CdnSettings` besides origins; None: no CDN."""
    backup: Mapping[str, Any]
    """Keyword values of :class:`BackupSettings` besides keys."""
    dr: Mapping[str, Any]
    """Keyword values of :class:`DisasterRecoverySettings` besides endpoints and watches."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the tier on top of the context tags. Default: none."""
    enable_backup: bool = True
    """AWS Backup (vaults, plan, selection, restore testing, alarms). Default true."""
    enable_dr: bool = True
    """The DR zone, health check, failover records and replication alarms. Default true."""


def data_tier_settings(env: EnvironmentSettings) -> DataTierSettings:
    """Resolve an environment's ``[data.*]`` settings, filling the defaults that depend on `protection_level`."""
    d, protected = env.data, env.protected
    db = d.database
    rto, rpo = dr_objectives(env)
    database = None
    if db.enabled:
        database = dict(
            instance_class=env.sizes.db_instance_class, engine_version=db.engine_version,
            allocated_storage_gb=env.sizes.db_allocated_storage_gb,
            max_allocated_storage_gb=env.sizes.db_max_allocated_storage_gb, db_name=db.db_name,
            master_username=db.master_username, multi_az=protected if db.multi_az is None else db.multi_az,
            backup_retention_days=db.backup_retention_days, backup_window=db.backup_window,
            maintenance_window=db.maintenance_window,
            deletion_protection=protected if db.deletion_protection is None else db.deletion_protection,
            final_snapshot=protected if db.deletion_protection is None else db.deletion_protection,
            slow_query_ms=db.slow_query_ms, monitoring_interval_seconds=db.monitoring_interval_seconds,
            performance_insights_retention_days=db.performance_insights_retention_days,
            read_replicas=db.read_replicas, enable_proxy=db.enable_proxy, cpu_alarm_percent=db.cpu_alarm_percent,
            replicate_backups=protected if db.replicate_backups_to_dr is None else db.replicate_backups_to_dr,
            backup_replication_retention_days=db.backup_retention_days,
            replica_lag_alarm_seconds=rpo * 60)
    c = d.cache
    cache = None
    if c.enabled:
        multi_az = protected if c.multi_az is None else c.multi_az
        cache = dict(node_type=env.sizes.cache_node_type, engine_version=c.engine_version,
                     nodes=c.nodes if c.nodes is not None else (2 if multi_az else 1), multi_az=multi_az,
                     snapshot_retention_days=c.snapshot_retention_days, snapshot_window=c.snapshot_window,
                     maintenance_window=c.maintenance_window, maxmemory_policy=c.maxmemory_policy,
                     cpu_alarm_percent=c.cpu_alarm_percent, memory_alarm_percent=c.memory_alarm_percent,
                     evictions_alarm_threshold=c.evictions_alarm_threshold)
    st = d.storage
    storage = dict(transition_to_ia_days=st.transition_to_ia_days,
                   transition_to_glacier_days=st.transition_to_glacier_days,
                   noncurrent_version_expiration_days=st.noncurrent_version_expiration_days,
                   abort_incomplete_multipart_days=st.abort_incomplete_multipart_days,
                   log_expiration_days=st.log_expiration_days,
                   # Nothing to replicate without a data bucket.
                   replicate_to_dr=bool(st.data_buckets) and (
                       protected if st.replicate_to_dr is None else st.replicate_to_dr),
                   create_cdn_log_bucket=d.cdn.enabled, force_destroy=not protected,
                   data_buckets=tuple(st.data_buckets))
    cdn = None
    if d.cdn.enabled:
        cdn = dict(price_class=d.cdn.price_class, aliases=d.cdn.aliases, acm_certificate_arn=d.cdn.acm_certificate_arn,
                   dynamic_paths=d.cdn.dynamic_paths, default_root_object=d.cdn.default_root_object)
    b = d.backup
    backup = dict(daily_retention_days=b.daily_retention_days, weekly_retention_days=b.weekly_retention_days,
                  copy_to_dr=b.copy_to_dr, dr_retention_days=b.dr_retention_days,
                  vault_lock=protected if b.vault_lock is None else b.vault_lock, restore_testing=b.restore_testing,
                  selection_tag=b.selection_tag)
    dr = dict(rto_minutes=rto, rpo_minutes=rpo,
              zone_name=d.dr.domain_name or f"{env.name}.{env.tags.project}.example.com",
              record_name=d.dr.record_name, secondary_endpoint=d.dr.secondary_endpoint,
              health_check_path=d.dr.health_check_path, standby=d.dr.runs_in_dr)
    return DataTierSettings(environment=env.name, protected=protected, dr_region=env.dr_region,
                            log_retention_days=env.log_retention_days, database=database, cache=cache,
                            storage=storage, cdn=cdn, backup=backup, dr=dr, enable_backup=b.enabled,
                            enable_dr=d.dr.enabled)


def runbook_inputs(env: EnvironmentSettings) -> RunbookInputs:
    """What the DR runbook of ``env`` says (see :func:`modules.dr.render_runbook`)."""
    s = data_tier_settings(env)
    db, cache = s.database or {}, s.cache or {}
    return RunbookInputs(
        environment=env.name, name_prefix=env.name_prefix, region=env.region, dr_region=env.dr_region,
        protected=s.protected, rto_minutes=s.dr["rto_minutes"], rpo_minutes=s.dr["rpo_minutes"],
        database=s.database is not None, db_identifier=f"{env.name_prefix}-postgres",
        db_multi_az=bool(db.get("multi_az")), db_read_replicas=int(db.get("read_replicas", 0)),
        db_backup_retention_days=int(db.get("backup_retention_days", 0)),
        db_backups_replicated=bool(db.get("replicate_backups")), db_proxy=bool(db.get("enable_proxy")),
        cache=s.cache is not None, cache_multi_az=bool(cache.get("multi_az")), cache_nodes=int(cache.get("nodes", 0)),
        buckets_replicated=bool(s.storage["replicate_to_dr"]), cdn=s.cdn is not None,
        backup_copy_to_dr=bool(s.backup["copy_to_dr"]), backup_daily_days=s.backup["daily_retention_days"],
        backup_weekly_days=s.backup["weekly_retention_days"],
        backup_dr_days=s.backup["dr_retention_days"] or s.backup["weekly_retention_days"],
        vault_lock=bool(s.backup["vault_lock"]), restore_testing=bool(s.backup["restore_testing"]),
        zone_name=s.dr["zone_name"], record_name=s.dr["record_name"], health_check_path=s.dr["health_check_path"],
        secondary_endpoint=s.dr["secondary_endpoint"], mode=env.data.dr.mode,
        standby_capacity=dr_standby_capacity(env), app=env.app.enabled)


def topic_arns(alerting: Any) -> tuple[str, ...]:
    """The alarm targets offered by the alerting module (None when it is absent): its ``topic_arns`` as a mapping
    (the ``critical`` topic when there is one, else every topic) or a sequence."""
    if alerting is None:
        return ()
    topics = getattr(alerting, "topic_arns", None) or ()
    if isinstance(topics, Mapping):
        return (topics["critical"],) if "critical" in topics else tuple(topics.values())
    return tuple(topics)


class DataTier(Module):
    """Everything that holds data in one environment.

    Public attributes (None when the part is disabled or left out on the target): ``database``, ``cache``,
    ``storage``, ``cdn``, ``backup``, ``dr`` (the modules, escape hatches), and
    ``db_endpoint``, ``db_address``, ``db_identifier``, ``db_arn``, ``db_security_group_id``, ``db_proxy_endpoint``,
    ``db_master_user_secret_arn``, ``cache_replication_group_id``, ``cache_primary_endpoint``,
    ``cache_security_group_id``, ``bucket_names`` / ``bucket_arns`` (key -> value), ``distribution_id``,
    ``distribution_arn``, ``distribution_domain_name``, ``backup_vault_arn``, ``dr_backup_vault_arn``,
    ``dr_key_arn``, ``zone_id``, ``alarm_topic_arns`` (what the alarms notify), ``alarms`` (every alarm),
    ``origin_hostname`` (``origin.<zone>``, a Route 53 alias of the load balancer when `alb_zone_id` is given: the
    name CloudFront and API Gateway verify the ALB's certificate against; the ALB's certificate must cover it).
    WAF hook: :meth:`attach_web_acl` (or ``cdn.attach_web_acl``) sets the distribution's ``web_acl_id``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: DataTierSettings, *,
                 vpc_id: str, database_subnet_group_name: str, private_subnet_ids: Sequence[str],
                 keys: Mapping[str, str], dr_provider: TerraformProvider,
                 app_security_group_id: str | None = None, alb_dns_name: str | None = None,
                 alb_zone_id: str | None = None, alarm_topic_arns: Sequence[str] = ()) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        topics = tuple(alarm_topic_arns)
        self.alarm_topic_arns = topics
        allowed = (app_security_group_id,) if app_security_group_id else ()
        extra = s.extra_tags

        # The load balancer's HTTPS name for CloudFront and API Gateway: ``origin.<zone>``, a Route 53 alias of the
        # ALB that its certificate can cover (no certificate covers ``*.elb.amazonaws.com``, so HTTPS to the ALB's
        # own DNS name fails verification: PLAT_AWS_014/015,
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-cloudfront-to-custom-origin.html).
        # The alias lives in the DR zone, so it exists while `data.dr.enabled` (else the ALB's own name is used and
        # PLAT_AWS_014/015 say so).
        self.origin_hostname: str | None = alb_dns_name
        if alb_dns_name is not None and alb_zone_id is not None and s.enable_dr:
            self.origin_hostname = f"{ORIGIN_RECORD}.{s.dr['zone_name']}"

        # 1. The DR-region key: replicas, the DR vault and replicated database backups are encrypted with it (only
        #    built when one of them exists).
        replicate_storage = bool(s.storage["replicate_to_dr"])
        needs_dr_key = (replicate_storage or (s.enable_backup and bool(s.backup["copy_to_dr"]))
                        or bool((s.database or {}).get("replicate_backups")))
        self.dr_key: DrRegionKey | None = DrRegionKey(self, "dr-key", ctx, dr_provider, extra) if needs_dr_key else None
        self.dr_key_arn: str | None = self.dr_key.arn if self.dr_key else None

        # 2. Backup first (its selection tag goes on the database), then storage, database, cache, CDN, DR.
        self.backup: Backup | None = None
        if s.enable_backup:
            self.backup = Backup(self, "backup", ctx, BackupSettings(
                kms_key_arn=keys["backups"], dr_kms_key_arn=self.dr_key_arn, alarm_topic_arns=topics,
                extra_tags=extra, **s.backup), dr_provider=dr_provider)
        self.backup_vault_arn: str | None = self.backup.vault_arn if self.backup else None
        self.dr_backup_vault_arn: str | None = self.backup.dr_vault_arn if self.backup else None

        self.storage = Storage(self, "storage", ctx, StorageSettings(
            kms_key_arn=keys["data"], log_kms_key_arn=keys["logs"], dr_region=s.dr_region,
            dr_kms_key_arn=self.dr_key_arn if replicate_storage else None, extra_tags=extra, **s.storage),
            dr_provider=dr_provider)
        self.bucket_names: dict[str, str] = self.storage.bucket_names
        self.bucket_arns: dict[str, str] = self.storage.bucket_arns

        self.database: Database | None = None
        if s.database is not None:
            db = dict(s.database)
            replicate = db.pop("replicate_backups")
            self.database = Database(self, "database", ctx, DatabaseSettings(
                vpc_id=vpc_id, subnet_group_name=database_subnet_group_name, storage_kms_key_arn=keys["data"],
                secret_kms_key_arn=keys["secrets"], log_kms_key_arn=keys["logs"],
                log_retention_days=s.log_retention_days, proxy_subnet_ids=tuple(private_subnet_ids),
                allowed_security_group_ids=allowed,
                backup_replication_kms_key_arn=self.dr_key_arn if replicate else None,
                alarm_topic_arns=topics, backup_tags=dict(self.backup.selection_tags) if self.backup else {},
                extra_tags=extra, **db),
                dr_provider=dr_provider)
        self.db_endpoint = self.database.endpoint if self.database else None
        self.db_address = self.database.address if self.database else None
        self.db_identifier = self.database.identifier if self.database else None
        self.db_arn = self.database.arn if self.database else None
        self.db_security_group_id = self.database.security_group_id if self.database else None
        self.db_proxy_endpoint = self.database.proxy_endpoint if self.database else None
        self.db_master_user_secret_arn = self.database.master_user_secret_arn if self.database else None

        # The cache is left out where the target cannot create a replication group (with everything serving it).
        self.cache: Cache | None = None
        if s.cache is not None and ctx.target.supports("aws_elasticache_replication_group"):
            self.cache = Cache(self, "cache", ctx, CacheSettings(
                vpc_id=vpc_id, subnet_ids=tuple(private_subnet_ids), kms_key_arn=keys["data"],
                log_kms_key_arn=keys["logs"], log_retention_days=s.log_retention_days,
                allowed_security_group_ids=allowed, alarm_topic_arns=topics, extra_tags=extra, **s.cache))
        self.cache_replication_group_id = self.cache.replication_group_id if self.cache else None
        self.cache_primary_endpoint = self.cache.primary_endpoint if self.cache else None
        self.cache_security_group_id = self.cache.security_group_id if self.cache else None

        self.cdn: Cdn | None = None
        buckets = self.storage.buckets
        if s.cdn is not None:
            dr_static = buckets.get("static-dr")
            self.cdn = Cdn(self, "cdn", ctx, CdnSettings(
                static_bucket_regional_domain_name=buckets["static"].bucket.bucket_regional_domain_name,
                log_bucket_domain_name=buckets["cdn-logs"].bucket.bucket_domain_name,
                static_dr_bucket_regional_domain_name=dr_static.bucket.bucket_regional_domain_name if dr_static else None,
                alb_dns_name=self.origin_hostname, extra_tags=extra, **s.cdn))
            for key in ("static", "static-dr"):
                if key in buckets:
                    self.storage.grant_cloudfront_read(key, self.cdn.distribution_arn)
            if "static-dr" in buckets:  # the DR replica is SSE-KMS with the DR key (PLAT_AWS_001)
                self.dr_key.allow_cloudfront_read(self.cdn.distribution_arn)
        self.storage.create_policies()
        self.distribution_id = self.cdn.distribution_id if self.cdn else None
        self.distribution_arn = self.cdn.distribution_arn if self.cdn else None
        self.distribution_domain_name = self.cdn.domain_name if self.cdn else None

        # 3. DR: zone, health check and failover records (primary: the load balancer; secondary: the setting, else
        #    the CDN), and the RPO alarms on replication.
        self.dr: DisasterRecovery | None = None
        if s.enable_dr:
            dr = dict(s.dr)
            # With a pilot light (`standby`) the stack adds the failover pairs of the record and of the origin name
            # (modules/pilot_light.py) once the DR load balancer exists; here only the zone and the RPO alarms.
            standby = dr.pop("standby")
            pairs = [(buckets[k].name, buckets[f"{k}-dr"].name) for k in DATA_BUCKETS if f"{k}-dr" in buckets]
            self.dr = DisasterRecovery(self, "dr", ctx, DisasterRecoverySettings(
                dr_region=s.dr_region, primary_endpoint=None if standby else alb_dns_name,
                primary_zone_id=alb_zone_id, replication_watches=replication_watches(pairs, "to-dr-region"),
                alarm_topic_arns=topics, extra_tags=extra, **dr))
            if alb_dns_name is not None and alb_zone_id is not None and not standby:
                Route53Record(self, "origin-record", zone_id=self.dr.zone_id, name=self.origin_hostname, type="A",
                              alias={"name": alb_dns_name, "zone_id": alb_zone_id, "evaluate_target_health": True})
        self.zone_id: str | None = self.dr.zone_id if self.dr else None

        self.alarms = [*(self.database.alarms if self.database else ()), *(self.cache.alarms if self.cache else ()),
                       *(self.backup.alarms if self.backup else ()), *(self.dr.alarms if self.dr else ())]

    def attach_web_acl(self, web_acl_arn: str) -> None:
        """The WAF hook: a CLOUDFRONT-scoped WAFv2 web ACL (us-east-1) on the distribution, if there is one."""
        if self.cdn is not None:
            self.cdn.attach_web_acl(web_acl_arn)
