"""RDS PostgreSQL: the primary instance, read replicas, RDS Proxy, cross-region backup replication and alarms.

Secure by default: storage, Performance Insights and the managed master secret encrypted with customer-managed keys;
the master password is generated and rotated by RDS in Secrets Manager (``manage_master_user_password``: no
password in the configuration or the state); TLS forced by the parameter group; IAM database authentication; not
publicly accessible; the security group admits PostgreSQL only from the app tier's group (and the proxy's).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf import Fn, TerraformLocal, TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_instance_automated_backups_replication import DbInstanceAutomatedBackupsReplication
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup
from cdktf_cdktf_provider_aws.db_proxy import DbProxy
from cdktf_cdktf_provider_aws.db_proxy_default_target_group import DbProxyDefaultTargetGroup
from cdktf_cdktf_provider_aws.db_proxy_target import DbProxyTarget
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from envs.contract import (database_identifier, database_network_name, database_parameter_family,
                            database_parameter_group_name)

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require

from modules.core.helpers import (allow_tcp, policy_json, security_group_admitting, service_role, struct_list,
                                   tags)

PORT = 5432
LOG_EXPORTS = ("postgresql", "upgrade")


@dataclass(frozen=True)
class DatabaseSettings:
    """Inputs of :class:`Database`."""

    vpc_id: str
    """VPC of the database. Required."""
    subnet_group_name: str
    """DB subnet group (the network's database tier). Required."""
    storage_kms_key_arn: str
    """Key encrypting storage, snapshots and Performance Insights. Required."""
    secret_kms_key_arn: str
    """Key encrypting the managed master-user secret. Required."""
    log_kms_key_arn: str
    """Key encrypting the exported log groups. Required."""
    instance_class: str = "db.t4g.micro"
    """Instance class of the primary and the replicas. Default ``db.t4g.micro``."""
    engine_version: str = "16.4"
    """PostgreSQL ``MAJOR.MINOR``. Default ``16.4``."""
    allocated_storage_gb: int = 20
    """Initial gp3 storage. Default 20."""
    max_allocated_storage_gb: int = 100
    """Storage autoscaling limit. Default 100; at least `allocated_storage_gb`."""
    db_name: str = "app"
    """Initial database. Default ``app``."""
    master_username: str = "dbadmin"
    """Master user name. Default ``dbadmin``."""
    multi_az: bool = False
    """Synchronous standby in a second AZ. Default false; the stack sets it in protected environments."""
    backup_retention_days: int = 7
    """Automated backup retention, 1 to 35. Default 7."""
    backup_window: str = "03:00-04:00"
    """Daily backup window (UTC). Default ``03:00-04:00``."""
    maintenance_window: str = "sun:04:30-sun:05:30"
    """Weekly maintenance window (UTC). Default ``sun:04:30-sun:05:30``."""
    deletion_protection: bool = False
    """Deletion protection on the primary and the replicas. Default false; the stack sets it when protected."""
    final_snapshot: bool = False
    """Take a final snapshot when the primary is deleted. Default false; the stack sets it when protected."""
    slow_query_ms: int = 500
    """``log_min_duration_statement`` in ms (-1 off). Default 500."""
    monitoring_interval_seconds: int = 60
    """Enhanced monitoring interval (0 turns it off). Default 60."""
    performance_insights_retention_days: int = 7
    """Performance Insights retention. Default 7."""
    log_retention_days: int = 30
    """Retention of the exported log groups. Default 30."""
    read_replicas: int = 0
    """Read replicas in the primary region. Default 0."""
    enable_proxy: bool = True
    """RDS Proxy in `proxy_subnet_ids`. Default true."""
    proxy_subnet_ids: tuple[str, ...] = ()
    """Subnets of the proxy (the private tier). Required when `enable_proxy`."""
    allowed_security_group_ids: tuple[str, ...] = ()
    """Security groups admitted on 5432 (the app tier). Default: none (nothing is admitted)."""
    backup_replication_kms_key_arn: str | None = None
    """Key in the DR region for replicated automated backups. Default: none (no cross-region replication)."""
    backup_replication_retention_days: int = 7
    """Retention of the replicated backups. Default 7."""
    cpu_alarm_percent: int = 80
    """CPU alarm threshold. Default 80."""
    replica_lag_alarm_seconds: int = 3600
    """ReplicaLag alarm threshold (the RPO). Default 3600."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the alarms notify (severity critical). Default: none (alarms without actions)."""
    backup_tags: dict[str, str] = field(default_factory=dict)
    """Tags that place the primary in the AWS Backup selection. Default: none."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.max_allocated_storage_gb >= self.allocated_storage_gb,
                "`max_allocated_storage_gb` must be at least `allocated_storage_gb`")
        require(1 <= self.backup_retention_days <= 35,
                f"`backup_retention_days` must be 1..35, got {self.backup_retention_days}")
        require(not self.enable_proxy or bool(self.proxy_subnet_ids),
                "`proxy_subnet_ids` are required when `enable_proxy` is true")
        require(0 <= self.read_replicas <= 5, f"`read_replicas` must be 0..5, got {self.read_replicas}")

    @property
    def family(self) -> str:
        return database_parameter_family(self.engine_version)


class Database(Module):
    """The PostgreSQL database of one environment.

    Public attributes: ``instance`` (escape hatch), ``identifier``, ``arn``, ``endpoint`` (``host:port``),
    ``address``, ``port``, ``resource_id``, ``master_user_secret_arn``, ``security_group_id``, ``replicas``,
    ``replica_identifiers``, ``proxy`` / ``proxy_endpoint`` (None without a proxy), ``alarms``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: DatabaseSettings,
                 dr_provider: TerraformProvider | None = None) -> None:
        super().__init__(scope, id_, ctx)
        require(settings.backup_replication_kms_key_arn is None or dr_provider is not None,
                "`dr_provider` is required with `backup_replication_kms_key_arn`")
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.identifier_name = database_identifier(prefix)

        # Security groups: the database admits the app tier and the proxy, and sends nothing.
        self.security_group = security_group_admitting(
            self, "sg", ctx, name=database_network_name(prefix), vpc_id=s.vpc_id, port=PORT,
            groups=s.allowed_security_group_ids, description=f"{prefix} PostgreSQL: admits the app tier only",
            rule_description="PostgreSQL from the app tier", rule_tag_name=f"{prefix}-database-from-app",
            extra_tags=extra)
        self.security_group_id: str = self.security_group.id

        self.parameter_group = DbParameterGroup(
            self, "params", name=database_parameter_group_name(prefix, s.family), family=s.family,
            description=f"{prefix} PostgreSQL: TLS only, slow query log, pg_stat_statements",
            parameter=struct_list([
                {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
                {"name": "log_min_duration_statement", "value": str(s.slow_query_ms), "apply_method": "immediate"},
                {"name": "shared_preload_libraries", "value": "pg_stat_statements",
                 "apply_method": "pending-reboot"},
            ]),
            lifecycle={"create_before_destroy": True},
            tags=tags(ctx, f"{prefix}-{s.family}", extra))

        # RDS writes exported logs to these groups; creating them first gives them a key and a retention.
        log_groups = [CloudwatchLogGroup(self, f"log-{kind}", name=f"/aws/rds/instance/{self.identifier_name}/{kind}",
                                         retention_in_days=s.log_retention_days, kms_key_id=s.log_kms_key_arn,
                                         tags=tags(ctx, f"{self.identifier_name}-{kind}", extra))
                      for kind in LOG_EXPORTS]

        monitoring_role = None
        if s.monitoring_interval_seconds:
            monitoring_role = service_role(self, "monitoring-role", ctx, name=f"{prefix}-rds-monitoring",
                                           service="monitoring.rds.amazonaws.com", extra_tags=extra)
            IamRolePolicyAttachment(self, "monitoring-policy", role=monitoring_role.name,
                                    policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/"
                                               "AmazonRDSEnhancedMonitoringRole")
        self._monitoring_role_arn = monitoring_role.arn if monitoring_role else None
        self.monitoring_role_arn: str | None = self._monitoring_role_arn

        self.instance = DbInstance(
            self, "primary",
            identifier=self.identifier_name,
            engine="postgres", engine_version=s.engine_version, instance_class=s.instance_class,
            allocated_storage=s.allocated_storage_gb, max_allocated_storage=s.max_allocated_storage_gb,
            storage_type="gp3", storage_encrypted=True, kms_key_id=s.storage_kms_key_arn,
            db_name=s.db_name, username=s.master_username,
            manage_master_user_password=True, master_user_secret_kms_key_id=s.secret_kms_key_arn,
            iam_database_authentication_enabled=True,
            multi_az=s.multi_az, db_subnet_group_name=s.subnet_group_name,
            vpc_security_group_ids=[self.security_group.id], publicly_accessible=False, port=PORT,
            parameter_group_name=self.parameter_group.name,
            backup_retention_period=s.backup_retention_days, backup_window=s.backup_window,
            maintenance_window=s.maintenance_window, copy_tags_to_snapshot=True,
            deletion_protection=s.deletion_protection, skip_final_snapshot=not s.final_snapshot,
            final_snapshot_identifier=f"{self.identifier_name}-final" if s.final_snapshot else None,
            auto_minor_version_upgrade=True, apply_immediately=False,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            **self._observability(),
            depends_on=log_groups,
            tags=tags(ctx, self.identifier_name, {**extra, **s.backup_tags}),
        )
        self.identifier: str = self.instance.identifier
        self.arn: str = self.instance.arn
        self.endpoint: str = self.instance.endpoint
        self.address: str = self.instance.address
        self.port = PORT
        self.resource_id: str = self.instance.resource_id
        self.master_user_secret_arn: str = self.instance.master_user_secret.get(0).secret_arn

        # Read replicas (left out where the target cannot create them).
        self.replicas: list[DbInstance] = []
        if ctx.target.supports_feature("rds_read_replica"):
            for i in range(s.read_replicas):
                name = f"{self.identifier_name}-replica-{i + 1}"
                self.replicas.append(DbInstance(
                    self, f"replica-{i + 1}", identifier=name, replicate_source_db=self.instance.identifier,
                    instance_class=s.instance_class, storage_type="gp3", storage_encrypted=True,
                    kms_key_id=s.storage_kms_key_arn, max_allocated_storage=s.max_allocated_storage_gb,
                    iam_database_authentication_enabled=True, multi_az=s.multi_az,
                    vpc_security_group_ids=[self.security_group.id], publicly_accessible=False,
                    parameter_group_name=self.parameter_group.name,
                    backup_retention_period=s.backup_retention_days, backup_window=s.backup_window,
                    maintenance_window=s.maintenance_window, copy_tags_to_snapshot=True,
                    deletion_protection=s.deletion_protection, skip_final_snapshot=True,
                    auto_minor_version_upgrade=True, enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
                    **self._observability(),
                    tags=tags(ctx, name, extra)))
        self.replica_identifiers: list[str] = [r.identifier for r in self.replicas]

        # Cross-region replication of automated backups (point-in-time restore in the DR region).
        self.backup_replication: DbInstanceAutomatedBackupsReplication | None = None
        if s.backup_replication_kms_key_arn:
            self.backup_replication = DbInstanceAutomatedBackupsReplication(
                self, "backup-replication", source_db_instance_arn=self.instance.arn,
                kms_key_id=s.backup_replication_kms_key_arn, retention_period=s.backup_replication_retention_days,
                provider=dr_provider)

        self.proxy: DbProxy | None = None
        self.proxy_endpoint: str | None = None
        self.proxy_security_group_id: str | None = None
        self.proxy_resource_id: str | None = None
        if s.enable_proxy:
            self._proxy()

        self.alarms: list[CloudwatchMetricAlarm] = self._alarms()

    # -- helpers --------------------------------------------------------------------------------------------------

    def _observability(self) -> dict[str, Any]:
        s = self.settings
        return dict(
            monitoring_interval=s.monitoring_interval_seconds,
            monitoring_role_arn=self._monitoring_role_arn,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=s.storage_kms_key_arn,
            performance_insights_retention_period=s.performance_insights_retention_days,
        )

    def grant_connect(self, db_user: str) -> list[dict[str, Any]]:
        """IAM statements letting a role log in as ``db_user`` with IAM database authentication: through the proxy
        when there is one (resource ``dbuser:prx-<id>/<user>``, the proxy's id being the last field of its ARN;
        the proxy then logs in to the database with the secret), else directly to the instance
        (``dbuser:<DbiResourceId>/<user>``, the user needing the ``rds_iam`` role in PostgreSQL).
        https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connecting.html
        https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html"""
        ctx = self.ctx
        owner = self.proxy_resource_id if self.proxy is not None else self.resource_id
        return [{"Sid": "ConnectToTheDatabaseWithIam", "Effect": "Allow", "Action": "rds-db:connect",
                 "Resource": f"arn:{ctx.partition}:rds-db:{ctx.region}:{ctx.account_id}:dbuser:{owner}/{db_user}"}]

    def _proxy(self) -> None:
        ctx, s = self.ctx, self.settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        sg = security_group_admitting(
            self, "proxy-sg", ctx, name=f"{prefix}-database-proxy", vpc_id=s.vpc_id, port=PORT,
            groups=s.allowed_security_group_ids,
            description=f"{prefix} RDS Proxy: admits the app tier, reaches the database",
            rule_description="PostgreSQL from the app tier", rule_tag_name=f"{prefix}-proxy-from-app", extra_tags=extra)
        allow_tcp(self, "proxy-sg-out-db", ctx, security_group_id=sg.id, port=PORT, inbound=False,
                  peer_security_group_id=self.security_group.id, description="PostgreSQL to the database",
                  tag_name=f"{prefix}-proxy-to-db", extra_tags=extra)
        allow_tcp(self, "sg-in-proxy", ctx, security_group_id=self.security_group.id, port=PORT,
                  peer_security_group_id=sg.id, description="PostgreSQL from RDS Proxy",
                  tag_name=f"{prefix}-database-from-proxy", extra_tags=extra)
        role = service_role(self, "proxy-role", ctx, name=f"{prefix}-rds-proxy", service="rds.amazonaws.com",
                            extra_tags=extra)
        IamRolePolicy(self, "proxy-policy", name="read-master-secret", role=role.id, policy=policy_json(
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": self.master_user_secret_arn},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": s.secret_kms_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com"}}},
        ))
        self.proxy = DbProxy(
            self, "proxy", name=f"{prefix}-postgres", engine_family="POSTGRESQL", role_arn=role.arn,
            vpc_subnet_ids=list(s.proxy_subnet_ids), vpc_security_group_ids=[sg.id], require_tls=True,
            debug_logging=False, idle_client_timeout=1800,
            auth=struct_list([{"auth_scheme": "SECRETS", "secret_arn": self.master_user_secret_arn, "iam_auth": "REQUIRED",
                   "client_password_auth_type": "POSTGRES_SCRAM_SHA_256",
                   "description": "RDS-managed master secret"}]),
            tags=tags(ctx, f"{prefix}-postgres-proxy", extra))
        target_group = DbProxyDefaultTargetGroup(
            self, "proxy-target-group", db_proxy_name=self.proxy.name,
            connection_pool_config={"max_connections_percent": 90, "max_idle_connections_percent": 50,
                                    "connection_borrow_timeout": 120})
        DbProxyTarget(self, "proxy-target", db_proxy_name=self.proxy.name, target_group_name=target_group.name,
                      db_instance_identifier=self.instance.identifier)
        self.proxy_endpoint = self.proxy.endpoint
        self.proxy_security_group_id = sg.id
        # ``prx-...``: the last field of the proxy's ARN, the resource id IAM database authentication names. A
        # local value, so that policies referencing it hold no quoted HCL (they stay parseable JSON).
        self.proxy_resource_id: str = TerraformLocal(self, "proxy-resource-id",
                                                     Fn.element(Fn.split(":", self.proxy.arn), 6)).as_string

    def _alarms(self) -> list[CloudwatchMetricAlarm]:
        ctx, s = self.ctx, self.settings
        topics = s.alarm_topics.actions("critical")
        common: dict[str, Any] = dict(namespace="AWS/RDS", alarm_actions=topics, ok_actions=topics,
                                      tags=tags(ctx, self.identifier_name, s.extra_tags))
        alarms = [
            CloudwatchMetricAlarm(
                self, "alarm-cpu", alarm_name=f"{self.identifier_name}-cpu-high", metric_name="CPUUtilization",
                dimensions={"DBInstanceIdentifier": self.instance.identifier}, statistic="Average", period=300,
                evaluation_periods=3, threshold=s.cpu_alarm_percent, comparison_operator="GreaterThanThreshold",
                treat_missing_data="missing", alarm_description=f"CPU above {s.cpu_alarm_percent}% for 15 minutes",
                **common),
            CloudwatchMetricAlarm(
                self, "alarm-storage", alarm_name=f"{self.identifier_name}-free-storage-low",
                metric_name="FreeStorageSpace", dimensions={"DBInstanceIdentifier": self.instance.identifier},
                statistic="Minimum", period=300, evaluation_periods=1,
                threshold=s.max_allocated_storage_gb * 1024 ** 3 // 10, comparison_operator="LessThanThreshold",
                treat_missing_data="missing",
                alarm_description="Free storage below 10% of the autoscaling limit", **common),
        ]
        for i, replica in enumerate(self.replicas):
            alarms.append(CloudwatchMetricAlarm(
                self, f"alarm-replica-lag-{i + 1}", alarm_name=f"{self.identifier_name}-replica-{i + 1}-lag",
                metric_name="ReplicaLag", dimensions={"DBInstanceIdentifier": replica.identifier},
                statistic="Maximum", period=60, evaluation_periods=5, threshold=s.replica_lag_alarm_seconds,
                comparison_operator="GreaterThanThreshold", treat_missing_data="breaching",
                alarm_description=f"Replica lag above the RPO ({s.replica_lag_alarm_seconds} s)", **common))
        return alarms
