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


from envs.contract import ORIGIN_RECORD

from modules.data.backup import Backup, BackupSettings
from modules.data.restore_validation import RestoreValidation, RestoreValidationSettings
from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module
from modules.core.helpers import serves_only
from modules.data.cache import Cache, CacheSettings
from modules.data.cdn import Cdn, CdnSettings
from modules.data.database import Database, DatabaseSettings
from modules.data.disaster_recovery import DisasterRecovery, DisasterRecoverySettings, DrRegionKey, replication_watches
from modules.data.buckets import DATA_BUCKETS, Storage, StorageSettings



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


class DataTier(Module):
    """Everything that holds data in one environment.

    Public attributes (None when the part is disabled or left out on the target): ``database``, ``cache``,
    ``storage``, ``cdn``, ``backup``, ``dr`` (the modules, escape hatches), and
    ``db_endpoint``, ``db_address``, ``db_identifier``, ``db_arn``, ``db_security_group_id``, ``db_proxy_endpoint``,
    ``db_master_user_secret_arn``, ``cache_replication_group_id``, ``cache_primary_endpoint``,
    ``cache_security_group_id``, ``bucket_names`` / ``bucket_arns`` (key -> value), ``distribution_id``,
    ``distribution_arn``, ``distribution_domain_name``, ``backup_vault_arn``, ``dr_backup_vault_arn``,
    ``dr_key_arn``, ``zone_id``, ``alarm_topics`` (what the alarms notify), ``alarms`` (every alarm),
    ``origin_hostname`` (``origin.<zone>``, a Route 53 alias of the load balancer when `alb_zone_id` is given: the
    name CloudFront and API Gateway verify the ALB's certificate against; the ALB's certificate must cover it).
    WAF hook: :meth:`attach_web_acl` (or ``cdn.attach_web_acl``) sets the distribution's ``web_acl_id``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: DataTierSettings, *,
                 vpc_id: str, database_subnet_group_name: str, private_subnet_ids: Sequence[str],
                 keys: Mapping[str, str], dr_provider: TerraformProvider,
                 app_security_group_id: str | None = None, alb_dns_name: str | None = None,
                 alb_zone_id: str | None = None, alarm_topics: AlarmTopics = AlarmTopics()) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        topics = alarm_topics
        self.alarm_topics = topics
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
                kms_key_arn=keys["backups"], dr_kms_key_arn=self.dr_key_arn, alarm_topics=topics,
                extra_tags=extra, **s.backup), dr_provider=dr_provider)
        # Restore testing that validates (modules/data/restore_validation.py): where the restore testing plan exists.
        self.restore_validation: RestoreValidation | None = None
        if self.backup is not None and self.backup.restore_testing_plan is not None:
            # Validates the restore tests: where the target cannot create the plan, it goes too.
            self.restore_validation = serves_only(RestoreValidation(self, "restore-validation", ctx, RestoreValidationSettings(
                restore_testing_plan_arn=self.backup.restore_testing_plan.arn, log_kms_key_arn=keys["logs"],
                log_retention_days=s.log_retention_days, alarm_topics=topics, extra_tags=extra)),
                "aws_backup_restore_testing_plan")
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
                alarm_topics=topics, backup_tags=dict(self.backup.selection_tags) if self.backup else {},
                extra_tags=extra, **db),
                dr_provider=dr_provider)
        self.db_endpoint = self.database.endpoint if self.database else None
        self.db_address = self.database.address if self.database else None
        self.db_identifier = self.database.identifier if self.database else None
        self.db_arn = self.database.arn if self.database else None
        self.db_security_group_id = self.database.security_group_id if self.database else None
        self.db_proxy_endpoint = self.database.proxy_endpoint if self.database else None
        self.db_master_user_secret_arn = self.database.master_user_secret_arn if self.database else None

        # No cache settings, no cache (and nothing serving it): the stack layer also leaves them out where the target
        # cannot create a replication group (modules/stack/local_variant.py, data_tier_variant).
        self.cache: Cache | None = None
        if s.cache is not None:
            self.cache = Cache(self, "cache", ctx, CacheSettings(
                vpc_id=vpc_id, subnet_ids=tuple(private_subnet_ids), kms_key_arn=keys["data"],
                log_kms_key_arn=keys["logs"], log_retention_days=s.log_retention_days,
                allowed_security_group_ids=allowed, alarm_topics=topics, extra_tags=extra, **s.cache))
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
                alarm_topics=topics, extra_tags=extra, **dr))
            if alb_dns_name is not None and alb_zone_id is not None and not standby:
                Route53Record(self, "origin-record", zone_id=self.dr.zone_id, name=self.origin_hostname, type="A",
                              alias={"name": alb_dns_name, "zone_id": alb_zone_id, "evaluate_target_health": True})
        self.zone_id: str | None = self.dr.zone_id if self.dr else None

        self.alarms = [*(self.database.alarms if self.database else ()), *(self.cache.alarms if self.cache else ()),
                       *(self.backup.alarms if self.backup else ()), *(self.dr.alarms if self.dr else ()),
                       *(self.restore_validation.alarms if self.restore_validation else ())]

    def attach_web_acl(self, web_acl_arn: str) -> None:
        """The WAF hook: a CLOUDFRONT-scoped WAFv2 web ACL (us-east-1) on the distribution, if there is one."""
        if self.cdn is not None:
            self.cdn.attach_web_acl(web_acl_arn)
