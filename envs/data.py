"""Settings of the data tier (database, cache, storage, CDN, backup and disaster recovery): ``[data.*]`` tables.

Every field has a default; defaults that depend on the environment's `protection_level` are ``None`` here and
resolved by the stack ("true when the environment is protected", i.e. `protection_level` is high).
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from . import aws_catalog
from .base import Section
from .dr_drill import DrillSettings

_HHMM_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_DAY_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
                         r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$")
#: Retention values Performance Insights accepts (days): 7, or a multiple of 31 up to 731 (24 months).
PI_RETENTION_DAYS = (7, *(31 * m for m in range(1, 24)), 731)
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
#: CloudFront alternate domain names: DNS names, a leading "*." wildcard allowed
#: (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/CNAMEs.html).
_ALIAS = re.compile(r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
#: CloudFront path patterns: A-Z a-z 0-9 _ - . * $ / ~ " ' @ : + and &, at most 255 characters
#: (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html,
#: "Path pattern").
_PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-.*$/~\"'@:+&]{1,255}$")


def _window(value: str, field: str, example: str, pattern: re.Pattern[str]) -> str:
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not a valid window; set data.{field} like {example!r} (UTC)")
    return value


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _daily_overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    """Whether two windows given as minutes of the day (start, end) share a minute; a window whose end is not after
    its start runs past midnight (it covers [start, 24:00) and [00:00, end))."""
    def spans(start: int, end: int) -> list[tuple[int, int]]:
        return [(start, end)] if end > start else [(start, 1440), (0, end)]

    return any(max(x0, y0) < min(x1, y1) for x0, x1 in spans(a0, a1) for y0, y1 in spans(b0, b1))


class DatabaseSettings(Section):
    """``[data.database]``: the RDS PostgreSQL instance, its read replicas and RDS Proxy."""

    enabled: bool = True
    """Create the database. Default true."""
    engine_version: Annotated[str, Field(pattern=r"^1[3-7]\.\d+$")] = "16.4"
    """PostgreSQL version ``MAJOR.MINOR``. Default ``16.4``; the parameter group family follows the major version."""
    db_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = "app"
    """Name of the initial database. Default ``app``."""
    master_username: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")] = "dbadmin"
    """Master user name (its password is generated and kept by RDS in Secrets Manager). Default ``dbadmin``."""
    multi_az: bool | None = None
    """Standby in a second AZ. Default: true when the environment is protected, false otherwise."""
    deletion_protection: bool | None = None
    """Deletion protection and a final snapshot. Default: true when the environment is protected, false otherwise."""
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    """Automated backup retention, 1 to 35 days (the RDS limit). Default 7."""
    backup_window: str = "03:00-04:00"
    """Daily backup window ``HH:MM-HH:MM`` (UTC). Default ``03:00-04:00``; must not overlap `maintenance_window`."""
    maintenance_window: str = "sun:04:30-sun:05:30"
    """Weekly maintenance window ``ddd:HH:MM-ddd:HH:MM`` (UTC). Default ``sun:04:30-sun:05:30``."""
    read_replicas: Annotated[int, Field(ge=0, le=5)] = 0
    """Read replicas in the primary region, 0 to 5. Default 0; needs `enabled`."""
    replicate_backups_to_dr: bool | None = None
    """Replicate automated backups to the DR region. Default: true when the environment is protected; needs
    `enabled`."""
    slow_query_ms: Annotated[int, Field(ge=-1, le=3_600_000)] = 500
    """``log_min_duration_statement``: statements slower than this many milliseconds are logged (-1 turns it
    off). Default 500."""
    monitoring_interval_seconds: int = 60
    """Enhanced monitoring interval: 0 (off), 1, 5, 10, 15, 30 or 60. Default 60."""
    performance_insights_retention_days: int = 7
    """Performance Insights retention: 7, or a multiple of 31 up to 731. Default 7 (free tier)."""
    enable_proxy: bool = True
    """RDS Proxy (connection pooling, IAM auth, TLS required) in the private subnets. Default true."""
    cpu_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 80
    """CPU utilisation alarm threshold in percent. Default 80."""

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        return _window(value, "database.backup_window", "03:00-04:00", _HHMM_WINDOW)

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        return _window(value, "database.maintenance_window", "sun:04:30-sun:05:30", _DAY_WINDOW)

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in MONITORING_INTERVALS:
            raise ValueError(f"{value} is not an enhanced monitoring interval; set data.database."
                             f"monitoring_interval_seconds to one of {', '.join(map(str, MONITORING_INTERVALS))}")
        return value

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, value: int) -> int:
        if value not in PI_RETENTION_DAYS:
            raise ValueError(f"{value} is not a Performance Insights retention; set data.database."
                             "performance_insights_retention_days to 7 or a multiple of 31 up to 731")
        return value

    @model_validator(mode="after")
    def _needs_primary(self) -> "DatabaseSettings":
        b0, b1 = (_minutes(t) for t in self.backup_window.split("-"))
        m0, m1 = (_minutes(t[4:]) for t in self.maintenance_window.split("-"))
        if _daily_overlap(b0, b1, m0, m1):
            raise ValueError(f"backup_window {self.backup_window} overlaps maintenance_window "
                             f"{self.maintenance_window}; move data.database.backup_window")
        if not self.enabled and self.read_replicas:
            raise ValueError(f"read_replicas = {self.read_replicas} but enabled = false: replicas need a primary; "
                             "set data.database.read_replicas = 0 or data.database.enabled = true")
        if not self.enabled and self.replicate_backups_to_dr:
            raise ValueError("replicate_backups_to_dr = true but enabled = false: there are no backups to "
                             "replicate; remove data.database.replicate_backups_to_dr or enable the database")
        return self

    @property
    def major_version(self) -> str:
        return self.engine_version.split(".")[0]


class CacheSettings(Section):
    """``[data.cache]``: the ElastiCache Redis replication group."""

    enabled: bool = True
    """Create the cache. Default true."""
    engine_version: Annotated[str, Field(pattern=r"^7\.\d+$")] = "7.1"
    """Redis version (7.x: IAM authentication needs 7 or later). Default ``7.1``."""
    nodes: Annotated[int, Field(ge=1, le=6)] | None = None
    """Nodes in the replication group (one primary, the rest replicas), 1 to 6. Default: 2 when `multi_az`, else 1."""
    multi_az: bool | None = None
    """Multi-AZ with automatic failover. Default: true when the environment is protected, false otherwise; needs
    at least 2 `nodes`."""
    snapshot_retention_days: Annotated[int, Field(ge=0, le=35)] = 7
    """Daily snapshots kept, 0 to 35 days (0 turns snapshots off). Default 7."""
    snapshot_window: str = "02:00-03:00"
    """Daily snapshot window ``HH:MM-HH:MM`` (UTC). Default ``02:00-03:00``."""
    maintenance_window: str = "sun:05:30-sun:06:30"
    """Weekly maintenance window ``ddd:HH:MM-ddd:HH:MM`` (UTC). Default ``sun:05:30-sun:06:30``."""
    maxmemory_policy: str = "volatile-lru"
    """Redis eviction policy (parameter ``maxmemory-policy``). Default ``volatile-lru``."""
    cpu_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 75
    """EngineCPUUtilization alarm threshold in percent. Default 75."""
    memory_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 80
    """DatabaseMemoryUsagePercentage alarm threshold in percent. Default 80."""
    evictions_alarm_threshold: Annotated[int, Field(ge=0)] = 100
    """Evictions per 5 minutes that raise the alarm. Default 100."""

    @field_validator("snapshot_window")
    @classmethod
    def _snapshot_window(cls, value: str) -> str:
        return _window(value, "cache.snapshot_window", "02:00-03:00", _HHMM_WINDOW)

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        return _window(value, "cache.maintenance_window", "sun:05:30-sun:06:30", _DAY_WINDOW)

    @field_validator("maxmemory_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        allowed = ("volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random",
                   "allkeys-random", "volatile-ttl", "noeviction")
        if value not in allowed:
            raise ValueError(f"{value!r} is not a Redis eviction policy; set data.cache.maxmemory_policy to one of "
                             f"{', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _failover_needs_replicas(self) -> "CacheSettings":
        if self.multi_az and self.nodes is not None and self.nodes < 2:
            raise ValueError(f"multi_az = true needs a replica but nodes = {self.nodes}; set data.cache.nodes = 2 "
                             "or more, or data.cache.multi_az = false")
        return self


class StorageSettings(Section):
    """``[data.storage]``: the application, static-content and log buckets."""

    data_buckets: tuple[Literal["app", "static"], ...] = ("app", "static")
    """Which data buckets exist: ``app`` (application data) and ``static`` (static content, the CDN origin).
    Default both. The access-log bucket (``logs``) always exists with the data tier: it receives the other buckets'
    server access logs. ``static`` is required while `data.cdn.enabled` is true. An empty list leaves the log
    bucket alone."""

    @field_validator("data_buckets")
    @classmethod
    def _unique_buckets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists a bucket twice ({list(value)}); name each of \"app\" and \"static\" at most "
                             "once in data.storage.data_buckets")
        return value

    transition_to_ia_days: Annotated[int, Field(ge=30)] = 30
    """Days before current objects move to STANDARD_IA (S3 minimum 30). Default 30."""
    transition_to_glacier_days: Annotated[int, Field(ge=31)] = 90
    """Days before current objects move to GLACIER_IR; more than `transition_to_ia_days` + 30. Default 90."""
    noncurrent_version_expiration_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days after which non-current object versions are deleted. Default 90."""
    abort_incomplete_multipart_days: Annotated[int, Field(ge=1, le=365)] = 7
    """Days after which incomplete multipart uploads are aborted. Default 7."""
    log_expiration_days: Annotated[int, Field(ge=1, le=3650)] = 365
    """Days after which access-log objects are deleted. Default 365."""
    replicate_to_dr: bool | None = None
    """Replicate the application and static buckets to the DR region. Default: true when the environment is
    protected, false otherwise."""

    @model_validator(mode="after")
    def _transitions(self) -> "StorageSettings":
        if self.transition_to_glacier_days < self.transition_to_ia_days + 30:
            raise ValueError(f"transition_to_glacier_days ({self.transition_to_glacier_days}) must be at least 30 "
                             f"days after transition_to_ia_days ({self.transition_to_ia_days}); raise "
                             "data.storage.transition_to_glacier_days")
        return self


class CdnSettings(Section):
    """``[data.cdn]``: the CloudFront distribution in front of the static bucket and the load balancer."""

    enabled: bool = True
    """Create the distribution. Default true."""
    price_class: str = "PriceClass_100"
    """``PriceClass_100``, ``PriceClass_200`` or ``PriceClass_All``. Default ``PriceClass_100``."""
    aliases: tuple[str, ...] = ()
    """Alternate domain names. Default: none (the ``*.cloudfront.net`` name); needs `acm_certificate_arn`."""
    acm_certificate_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/.+$")] | None \
        = None
    """ACM certificate (us-east-1) for `aliases`; enables TLS 1.2_2021 minimum with SNI. Default: none (the
    CloudFront default certificate)."""
    dynamic_paths: tuple[str, ...] = ("/api/*",)
    """Path patterns sent uncached to the load balancer (when the app tier exists). Default ``/api/*``."""
    default_root_object: str = "index.html"
    """Object served for ``/``. Default ``index.html``."""

    @field_validator("price_class")
    @classmethod
    def _price_class(cls, value: str) -> str:
        if value not in PRICE_CLASSES:
            raise ValueError(f"{value!r} is not a price class; set data.cdn.price_class to one of "
                             f"{', '.join(PRICE_CLASSES)}")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if not _ALIAS.match(a)]
        if bad:
            raise ValueError(f"{bad} are not domain names; list names such as 'www.example.com' or "
                             "'*.example.com' in data.cdn.aliases")
        return value

    @field_validator("dynamic_paths")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if not _PATH_PATTERN.match(p)]
        if bad:
            raise ValueError(f"{bad} are not CloudFront path patterns (letters, digits and _ - . * $ / ~ \" ' @ : + "
                             "&, at most 255); fix data.cdn.dynamic_paths, e.g. ['/api/*']")
        return value

    @model_validator(mode="after")
    def _aliases_need_certificate(self) -> "CdnSettings":
        if self.aliases and not self.acm_certificate_arn:
            raise ValueError("aliases need a certificate; set data.cdn.acm_certificate_arn to an ACM certificate in "
                             "us-east-1 covering them, or remove data.cdn.aliases")
        return self


class BackupSettings(Section):
    """``[data.backup]``: the AWS Backup vaults, plan, selection and restore testing."""

    enabled: bool = True
    """Build AWS Backup: the vaults, the plan, the selection, restore testing and the backup alarms. Default true.
    When false the database is not tagged for a backup plan (its own automated backups stay) and every other
    ``[data.backup]`` field is ignored."""

    daily_retention_days: Annotated[int, Field(ge=1, le=36500)] = 7
    """Days a daily recovery point is kept. Default 7."""
    weekly_retention_days: Annotated[int, Field(ge=7, le=36500)] = 35
    """Days a weekly recovery point is kept; at least `daily_retention_days`. Default 35."""
    copy_to_dr: bool = True
    """Copy recovery points to the vault in the DR region. Default true."""
    dr_retention_days: Annotated[int, Field(ge=1, le=36500)] | None = None
    """Days a copy is kept in the DR vault. Default: `weekly_retention_days`."""
    vault_lock: bool | None = None
    """Vault lock (compliance mode after a 3-day grace period) on both vaults. Default: true when the environment
    is protected. Irreversible once the grace period ends."""
    restore_testing: bool = True
    """A monthly restore testing plan that restores the latest database recovery point and checks it. Default
    true."""
    selection_tag: str = "Backup"
    """Resources carrying this tag with the plan's name as value are backed up. Default ``Backup``."""

    @field_validator("selection_tag")
    @classmethod
    def _selection_tag(cls, value: str) -> str:
        problem = aws_catalog.tag_text_problem(value, aws_catalog.TAG_KEY_MAX) if value else "is empty"
        if problem:
            raise ValueError(f"{value!r} is not a tag key: it {problem}; fix data.backup.selection_tag")
        return value

    @model_validator(mode="after")
    def _retention(self) -> "BackupSettings":
        if self.weekly_retention_days < self.daily_retention_days:
            raise ValueError(f"weekly_retention_days ({self.weekly_retention_days}) is below daily_retention_days "
                             f"({self.daily_retention_days}); raise data.backup.weekly_retention_days")
        if self.vault_lock and min(self.daily_retention_days, self.dr_retention_days or 7) < 7:
            raise ValueError("vault_lock needs recovery points kept at least 7 days; raise "
                             "data.backup.daily_retention_days (and dr_retention_days) to 7 or more")
        return self


class DrSettings(Section):
    """``[data.dr]``: the DR mode, recovery objectives, DNS failover and the alarms that watch them (the bounds the
    objectives are held to per mode are in envs/dr.py and docs/data-tier.md, "Disaster recovery modes")."""

    enabled: bool = True
    """Build the DR resources: the Route 53 zone, the health check and failover records, and the replication (RPO)
    alarms. Default true. The objectives (`rto_minutes`, `rpo_minutes`) still shape the runbook and the database's
    replica-lag alarm when false."""

    mode: Literal["backup-only", "pilot-light", "warm-standby"] = "backup-only"
    """``backup-only`` (copies in the DR region, nothing runs there), ``pilot-light`` (the DR region runs the
    network, the load balancer, an Auto Scaling group at zero instances, a cross-region read replica of the
    database, replicated secrets and keys; `dr failover` scales it up) or ``warm-standby`` (the same with
    `standby_capacity` instances always running). Default ``backup-only``. The objectives must be deliverable by
    the mode (envs/dr.py)."""
    rto_minutes: Annotated[int, Field(ge=1, le=10080)] | None = None
    """Recovery time objective in minutes (in the runbook and the health check's sensitivity). Default 240 for
    ``backup-only``, 60 for ``pilot-light``, 15 for ``warm-standby``; never below what the mode can deliver."""
    rpo_minutes: Annotated[int, Field(ge=1, le=10080)] | None = None
    """Recovery point objective in minutes: replication lag alarms fire above it. Default: the smallest the mode
    delivers (``backup-only``: 1440, the daily backup copy, or 15 with `data.database.replicate_backups_to_dr`;
    ``pilot-light`` and ``warm-standby``: 15)."""
    standby_capacity: Annotated[int, Field(ge=0, le=100)] | None = None
    """Instances the DR Auto Scaling group keeps running. Default 0 for ``pilot-light`` (must stay 0), 1 for
    ``warm-standby`` (must be at least 1)."""
    certificate_arn: str | None = None
    """ACM certificate in `dr_region` for the DR load balancer's HTTPS listener (certificates are regional; it must
    cover ``origin.<domain_name>`` like the primary's). Required with ``pilot-light``/``warm-standby`` on the aws
    target; the local target requests one on the emulator."""
    domain_name: Annotated[str, Field(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")] | None = None
    """Public DNS zone holding the failover record. Default: ``<environment>.<project>.example.com``."""
    record_name: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")] = "app"
    """Name of the failover record inside the zone. Default ``app``."""
    secondary_endpoint: Annotated[str, Field(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")] | None = None
    """DNS name of a standby entry point of your own in the DR region (``backup-only`` only: with a pilot light
    the SECONDARY records are aliases of the DR load balancer). Default: none, and then ``backup-only`` builds no
    failover pair: ``<record_name>`` is a plain alias of the primary load balancer (there is nothing in the DR
    region to fail over to until it is deployed there)."""
    health_check_path: Annotated[str, Field(pattern=r"^/")] = "/health"
    """HTTPS path the Route 53 health checks request through each region's entry point. Default ``/health``."""
    drill: DrillSettings = DrillSettings()
    """What the DR drill (`dr drill`) validates. Default: all defaults of DrillSettings (nothing: the drill refuses
    to run until tables or queries are named)."""

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$", value):
            raise ValueError(f"{value!r} is not an ACM certificate ARN; set data.dr.certificate_arn to "
                             "'arn:aws:acm:<dr_region>:<account>:certificate/<uuid>' or remove it")
        return value

    @property
    def runs_in_dr(self) -> bool:
        """True for the modes that keep resources running in the DR region (pilot light, warm standby)."""
        return self.mode != "backup-only"


class DataTierSettings(Section):
    """Settings of the data tier (database, cache, storage, CDN, backup and disaster recovery). Every field has a
    default; see docs/data-tier.md."""

    enabled: bool = True
    """Build the data tier. Default true. When false there is no database, cache, bucket, CDN, AWS Backup or DR
    resource, and every other ``[data]`` field is ignored; with the tier on, each part has its own switch
    (`database.enabled`, `cache.enabled`, `cdn.enabled`, `backup.enabled`, `dr.enabled`, `storage.data_buckets`)."""

    database: DatabaseSettings = DatabaseSettings()
    """RDS PostgreSQL. Default: all defaults of DatabaseSettings."""
    cache: CacheSettings = CacheSettings()
    """ElastiCache Redis. Default: all defaults of CacheSettings."""
    storage: StorageSettings = StorageSettings()
    """S3 buckets. Default: all defaults of StorageSettings."""
    cdn: CdnSettings = CdnSettings()
    """CloudFront. Default: all defaults of CdnSettings."""
    backup: BackupSettings = BackupSettings()
    """AWS Backup. Default: all defaults of BackupSettings."""
    dr: DrSettings = DrSettings()
    """Disaster recovery. Default: all defaults of DrSettings."""

    @model_validator(mode="after")
    def _parts(self) -> "DataTierSettings":
        if self.enabled and self.cdn.enabled and "static" not in self.storage.data_buckets:
            raise ValueError("cdn.enabled is true but storage.data_buckets has no \"static\" bucket (the CDN's "
                             "origin); add \"static\" to data.storage.data_buckets or set data.cdn.enabled = false")
        return self
