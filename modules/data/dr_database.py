"""The database of the DR region (pilot light / warm standby): a cross-region read replica of the primary where the
target supports it, and on every target what a restore there needs (security group, parameter group, log groups).

Cross-region read replica of an encrypted PostgreSQL instance: ``replicate_source_db`` is the source's ARN (a
cross-region source must be named by ARN), ``kms_key_id`` a key of the destination region ("If you create an
encrypted read replica in a different AWS Region, then you must specify a KMS key identifier for the destination AWS
Region"), and a DB subnet group of the destination region.
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html
https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/db_instance#replicate_source_db

Where the target cannot create a read replica (the local emulator: ``rds_read_replica`` in
``envs.target.EMULATOR_UNSUPPORTED_FEATURES``) ``dr failover`` restores the DR instance from the latest cross-region
copy instead, into this security group, parameter group and the DR network's subnet group (pipeline/dr.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from envs.contract import database_identifier, database_network_name, database_parameter_group_name

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module
from modules.core.helpers import struct_list, tags
from modules.data.database import LOG_EXPORTS, PORT, Database


@dataclass(frozen=True)
class DrDatabaseSettings:
    """Inputs of :class:`DrDatabase` (the source's own settings come from the source :class:`Database`)."""

    vpc_id: str
    """The DR network's VPC. Required."""
    subnet_group_name: str
    """The DR network's database subnet group. Required."""
    storage_kms_key_arn: str
    """Key of the DR region encrypting the replica (and Performance Insights). Required."""
    log_kms_key_arn: str
    """Key of the DR region encrypting the log groups. Required."""
    allowed_security_group_ids: tuple[str, ...] = ()
    """Security groups admitted on 5432 (the DR app tier). Default: none."""
    replica_lag_alarm_seconds: int = 3600
    """ReplicaLag above this raises the alarm (the RPO). Default 3600."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the alarm notifies (severity critical). Default: none (an alarm without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the context tags. Default: none."""


class DrDatabase(Module):
    """Public attributes: ``identifier`` (the replica's, or the name a restore uses), ``replica`` (None where the
    target cannot create one), ``address`` (None without a replica), ``security_group_id``, ``parameter_group_name``,
    ``alarms``. Build with the DR context (``<prefix>-dr``) and move into the DR region with
    :func:`modules.pilot_light.in_region`."""

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: DrDatabaseSettings,
                 source: Database) -> None:
        super().__init__(scope, id_, ctx)
        s, src = settings, source.settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.identifier: str = database_identifier(prefix)

        self.security_group = SecurityGroup(self, "sg", name=database_network_name(prefix), vpc_id=s.vpc_id,
                                            description=f"{prefix} PostgreSQL: admits the DR app tier only",
                                            tags=tags(ctx, f"{prefix}-database", extra))
        self.security_group_id: str = self.security_group.id
        for i, group in enumerate(s.allowed_security_group_ids):
            VpcSecurityGroupIngressRule(self, f"sg-in-app-{i}", security_group_id=self.security_group.id,
                                        referenced_security_group_id=group, ip_protocol="tcp", from_port=PORT,
                                        to_port=PORT, description="PostgreSQL from the DR app tier",
                                        tags=tags(ctx, f"{prefix}-database-from-app", extra))
        # Parameter groups are regional: the same parameters as the primary's (TLS only, slow log).
        self.parameter_group = DbParameterGroup(
            self, "params", name=database_parameter_group_name(prefix, src.family), family=src.family,
            description=f"{prefix} PostgreSQL: TLS only, slow query log, pg_stat_statements",
            parameter=struct_list([{"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"},
                                   {"name": "log_min_duration_statement", "value": str(src.slow_query_ms),
                                    "apply_method": "immediate"},
                                   {"name": "shared_preload_libraries", "value": "pg_stat_statements",
                                    "apply_method": "pending-reboot"}]),
            lifecycle={"create_before_destroy": True}, tags=tags(ctx, f"{prefix}-{src.family}", extra))
        self.parameter_group_name: str = self.parameter_group.name
        log_groups = [CloudwatchLogGroup(self, f"log-{kind}", name=f"/aws/rds/instance/{self.identifier}/{kind}",
                                         retention_in_days=src.log_retention_days, kms_key_id=s.log_kms_key_arn,
                                         tags=tags(ctx, f"{self.identifier}-{kind}", extra))
                      for kind in LOG_EXPORTS]

        self.replica: DbInstance | None = None
        self.address: str | None = None
        self.alarms: list[CloudwatchMetricAlarm] = []
        if not ctx.target.supports_feature("rds_read_replica"):
            return
        observability: dict[str, Any] = dict(
            monitoring_interval=src.monitoring_interval_seconds,
            monitoring_role_arn=source.monitoring_role_arn,  # IAM is global: the primary's monitoring role
            performance_insights_enabled=True, performance_insights_kms_key_id=s.storage_kms_key_arn,
            performance_insights_retention_period=src.performance_insights_retention_days)
        self.replica = DbInstance(
            self, "replica", identifier=self.identifier, replicate_source_db=source.arn,
            instance_class=src.instance_class, storage_type="gp3", storage_encrypted=True,
            kms_key_id=s.storage_kms_key_arn, max_allocated_storage=src.max_allocated_storage_gb,
            db_subnet_group_name=s.subnet_group_name, iam_database_authentication_enabled=True,
            multi_az=src.multi_az, vpc_security_group_ids=[self.security_group.id], publicly_accessible=False,
            parameter_group_name=self.parameter_group.name,
            # Backups on the replica: a promoted replica then has point-in-time restore from the first minute.
            backup_retention_period=src.backup_retention_days, backup_window=src.backup_window,
            maintenance_window=src.maintenance_window, copy_tags_to_snapshot=True,
            deletion_protection=src.deletion_protection, skip_final_snapshot=True,
            auto_minor_version_upgrade=True, enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            depends_on=log_groups, tags=tags(ctx, self.identifier, extra), **observability)
        self.address = self.replica.address
        topics = s.alarm_topics.actions("critical")
        self.alarms.append(CloudwatchMetricAlarm(
            self, "alarm-replica-lag", alarm_name=f"{self.identifier}-lag", namespace="AWS/RDS",
            metric_name="ReplicaLag", dimensions={"DBInstanceIdentifier": self.identifier},
            statistic="Maximum", period=60, evaluation_periods=5, threshold=s.replica_lag_alarm_seconds,
            comparison_operator="GreaterThanThreshold", treat_missing_data="breaching",
            alarm_description=f"Cross-region replica lag above the RPO ({s.replica_lag_alarm_seconds} s)",
            alarm_actions=topics, ok_actions=topics, tags=tags(ctx, f"{self.identifier}-lag", extra)))

    def grant_connect(self, db_user: str) -> list[dict[str, Any]]:
        """IAM database authentication to the DR instance as ``db_user``. The promoted replica (or the restored
        instance) gets a DbiResourceId of its own, unknown before it exists, so the grant names the DR region's
        instances of this account for that user only."""
        ctx = self.ctx
        return [{"Sid": "ConnectToTheDrDatabaseWithIam", "Effect": "Allow", "Action": "rds-db:connect",
                 "Resource": f"arn:{ctx.partition}:rds-db:{ctx.region}:{ctx.account_id}:dbuser:*/{db_user}"}]
