"""ElastiCache Redis: a replication group in the private subnets, encrypted at rest (KMS) and in transit.

Authentication: Redis RBAC with **IAM authentication** instead of an AUTH token. Provider 5.100 has no write-only
(``*_wo``) form of ``auth_token``, so a token would land in the state (read from Secrets Manager at plan time) or
in the JSON. With RBAC the ``default`` user is disabled (``off``, no commands) and the application user
authenticates with a short-lived IAM token (``elasticache:Connect``): no secret exists at all. Trade-off: clients
must sign an IAM auth token (SDK helper) and reconnect within 12 hours; Redis 7 or later is needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.elasticache_parameter_group import ElasticacheParameterGroup
from cdktf_cdktf_provider_aws.elasticache_replication_group import ElasticacheReplicationGroup
from cdktf_cdktf_provider_aws.elasticache_subnet_group import ElasticacheSubnetGroup
from cdktf_cdktf_provider_aws.elasticache_user import ElasticacheUser
from cdktf_cdktf_provider_aws.elasticache_user_group import ElasticacheUserGroup
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require

from modules.core.helpers import security_group_admitting, struct_list, tags

PORT = 6379


@dataclass(frozen=True)
class CacheSettings:
    """Inputs of :class:`Cache`."""

    vpc_id: str
    """VPC of the cache. Required."""
    subnet_ids: tuple[str, ...]
    """Subnets of the cache (the private tier). Required."""
    kms_key_arn: str
    """Key encrypting data at rest and snapshots. Required."""
    log_kms_key_arn: str
    """Key encrypting the slow-log group. Required."""
    node_type: str = "cache.t4g.micro"
    """Node type. Default ``cache.t4g.micro``."""
    engine_version: str = "7.1"
    """Redis version, 7.x. Default ``7.1``."""
    nodes: int = 1
    """Nodes (primary + replicas), 1 to 6. Default 1; at least 2 when `multi_az`."""
    multi_az: bool = False
    """Multi-AZ with automatic failover. Default false; the stack sets it in protected environments."""
    snapshot_retention_days: int = 7
    """Snapshot retention, 0 to 35. Default 7."""
    snapshot_window: str = "02:00-03:00"
    """Daily snapshot window (UTC). Default ``02:00-03:00``."""
    maintenance_window: str = "sun:05:30-sun:06:30"
    """Weekly maintenance window (UTC). Default ``sun:05:30-sun:06:30``."""
    maxmemory_policy: str = "volatile-lru"
    """``maxmemory-policy``. Default ``volatile-lru``."""
    log_retention_days: int = 30
    """Retention of the slow-log group. Default 30."""
    allowed_security_group_ids: tuple[str, ...] = ()
    """Security groups admitted on 6379 (the app tier). Default: none (nothing is admitted)."""
    cpu_alarm_percent: int = 75
    """EngineCPUUtilization threshold. Default 75."""
    memory_alarm_percent: int = 80
    """DatabaseMemoryUsagePercentage threshold. Default 80."""
    evictions_alarm_threshold: int = 100
    """Evictions per 5 minutes. Default 100."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the alarms notify (severity critical). Default: none (alarms without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(1 <= self.nodes <= 6, f"`nodes` must be 1..6, got {self.nodes}")
        require(not self.multi_az or self.nodes >= 2, "`multi_az` needs `nodes` >= 2")
        require(int(self.engine_version.split(".")[0]) >= 7, "`engine_version` must be 7.x (IAM authentication)")
        require(0 <= self.snapshot_retention_days <= 35, "`snapshot_retention_days` must be 0..35")
        require(bool(self.subnet_ids), "`subnet_ids` must not be empty")


class Cache(Module):
    """The Redis cache of one environment.

    Public attributes: ``replication_group`` (escape hatch), ``replication_group_id``, ``arn``,
    ``primary_endpoint``, ``reader_endpoint``, ``port``, ``security_group_id``, ``app_user_name``,
    ``member_cluster_ids``, ``alarms``; :meth:`grant_connect` for the app tier's role.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: CacheSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        rg_id = f"{prefix}-redis"

        self.security_group = security_group_admitting(
            self, "sg", ctx, name=f"{prefix}-cache", vpc_id=s.vpc_id, port=PORT, groups=s.allowed_security_group_ids,
            description=f"{prefix} Redis: admits the app tier only", rule_description="Redis from the app tier",
            rule_tag_name=f"{prefix}-cache-from-app", extra_tags=extra)
        self.security_group_id: str = self.security_group.id

        subnet_group = ElasticacheSubnetGroup(self, "subnets", name=f"{prefix}-cache",
                                              description=f"{prefix} cache (private tier)",
                                              subnet_ids=list(s.subnet_ids), tags=tags(ctx, f"{prefix}-cache", extra))
        family = f"redis{s.engine_version.split('.')[0]}"
        params = ElasticacheParameterGroup(self, "params", name=f"{prefix}-{family}", family=family,
                                           description=f"{prefix} Redis parameters",
                                           parameter=struct_list([{"name": "maxmemory-policy",
                                                                   "value": s.maxmemory_policy}]),
                                           tags=tags(ctx, f"{prefix}-{family}", extra))

        # RBAC: the mandatory "default" user is switched off; the app user authenticates with IAM.
        default_user = ElasticacheUser(self, "user-default", user_id=f"{prefix}-default-off", user_name="default",
                                       engine="redis", access_string="off -@all",
                                       authentication_mode={"type": "no-password-required"},
                                       tags=tags(ctx, f"{prefix}-default-off", extra))
        self.app_user_name = f"{prefix}-app"
        self.app_user = ElasticacheUser(self, "user-app", user_id=self.app_user_name, user_name=self.app_user_name,
                                        engine="redis", access_string="on ~* +@all -@dangerous",
                                        authentication_mode={"type": "iam"},
                                        tags=tags(ctx, self.app_user_name, extra))
        user_group = ElasticacheUserGroup(self, "user-group", user_group_id=f"{prefix}-users", engine="redis",
                                          user_ids=[default_user.user_id, self.app_user.user_id],
                                          tags=tags(ctx, f"{prefix}-users", extra))

        slow_log = CloudwatchLogGroup(self, "slow-log", name=f"/elasticache/{rg_id}/slow-log",
                                      retention_in_days=s.log_retention_days, kms_key_id=s.log_kms_key_arn,
                                      tags=tags(ctx, f"{rg_id}-slow-log", extra))

        self.replication_group = ElasticacheReplicationGroup(
            self, "redis", replication_group_id=rg_id, description=f"{prefix} Redis",
            engine="redis", engine_version=s.engine_version, node_type=s.node_type, port=PORT,
            num_cache_clusters=s.nodes, automatic_failover_enabled=s.multi_az, multi_az_enabled=s.multi_az,
            subnet_group_name=subnet_group.name, security_group_ids=[self.security_group.id],
            parameter_group_name=params.name,
            at_rest_encryption_enabled="true", kms_key_id=s.kms_key_arn,
            transit_encryption_enabled=True, transit_encryption_mode="required",
            user_group_ids=[user_group.user_group_id],
            snapshot_retention_limit=s.snapshot_retention_days, snapshot_window=s.snapshot_window,
            maintenance_window=s.maintenance_window, auto_minor_version_upgrade="true", apply_immediately=False,
            log_delivery_configuration=struct_list([{"destination": slow_log.name,
                                                     "destination_type": "cloudwatch-logs", "log_format": "json",
                                                     "log_type": "slow-log"}]),
            tags=tags(ctx, rg_id, extra))
        self.replication_group_id: str = self.replication_group.id
        self.arn: str = self.replication_group.arn
        self.primary_endpoint: str = self.replication_group.primary_endpoint_address
        self.reader_endpoint: str = self.replication_group.reader_endpoint_address
        self.port = PORT
        #: Member clusters are named ``<group>-001``, ``-002``, ...: known before apply, used by the alarms.
        self.member_cluster_ids = [f"{rg_id}-{n:03d}" for n in range(1, s.nodes + 1)]
        self.alarms = self._alarms()

    def grant_connect(self) -> list[dict[str, Any]]:
        """IAM statements letting a role connect as the app user with IAM authentication: ``elasticache:Connect``
        on the replication group and the user. https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html"""
        return [{"Sid": "ConnectToTheCacheWithIam", "Effect": "Allow", "Action": "elasticache:Connect",
                 "Resource": [self.replication_group.arn, self.app_user.arn]}]

    def _alarms(self) -> list[CloudwatchMetricAlarm]:
        ctx, s = self.ctx, self.settings
        topics = s.alarm_topics.actions("critical")
        alarms = []
        for cluster_id in self.member_cluster_ids:
            for key, metric, stat, threshold, what in (
                    ("cpu", "EngineCPUUtilization", "Average", s.cpu_alarm_percent, "engine CPU %"),
                    ("memory", "DatabaseMemoryUsagePercentage", "Average", s.memory_alarm_percent, "memory used %"),
                    ("evictions", "Evictions", "Sum", s.evictions_alarm_threshold, "evictions per 5 minutes")):
                alarms.append(CloudwatchMetricAlarm(
                    self, f"alarm-{key}-{cluster_id[-3:]}", alarm_name=f"{cluster_id}-{key}-high",
                    namespace="AWS/ElastiCache", metric_name=metric, dimensions={"CacheClusterId": cluster_id},
                    statistic=stat, period=300, evaluation_periods=3, threshold=threshold,
                    comparison_operator="GreaterThanThreshold", treat_missing_data="missing",
                    alarm_description=f"{cluster_id}: {what} above {threshold}",
                    alarm_actions=topics, ok_actions=topics, depends_on=[self.replication_group],
                    tags=tags(ctx, f"{cluster_id}-{key}", s.extra_tags)))
        return alarms
