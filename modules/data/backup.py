"""AWS Backup: KMS-encrypted vaults in the primary and DR regions, a plan with daily and weekly rules copying to the
DR vault, a tag-based selection, vault lock in protected environments, a restore testing plan, and alarms on failed
backup and copy jobs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.backup_plan import BackupPlan
from cdktf_cdktf_provider_aws.backup_restore_testing_plan import BackupRestoreTestingPlan
from cdktf_cdktf_provider_aws.backup_restore_testing_selection import BackupRestoreTestingSelection
from cdktf_cdktf_provider_aws.backup_selection import BackupSelection
from cdktf_cdktf_provider_aws.backup_vault import BackupVault
from cdktf_cdktf_provider_aws.backup_vault_lock_configuration import BackupVaultLockConfiguration
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require

from modules.core.helpers import serves_only, service_role, struct_list, tags

DAILY_SCHEDULE = "cron(0 5 * * ? *)"
WEEKLY_SCHEDULE = "cron(0 6 ? * SUN *)"
RESTORE_TEST_SCHEDULE = "cron(0 8 ? * 2#1 *)"  # first Monday of the month
LOCK_GRACE_DAYS = 3


@dataclass(frozen=True)
class BackupSettings:
    """Inputs of :class:`Backup`."""

    kms_key_arn: str
    """Key encrypting the primary vault. Required."""
    daily_retention_days: int = 7
    """Days a daily recovery point is kept. Default 7."""
    weekly_retention_days: int = 35
    """Days a weekly recovery point is kept. Default 35; at least `daily_retention_days`."""
    copy_to_dr: bool = True
    """Copy every recovery point to the DR vault. Default true; needs `dr_kms_key_arn`."""
    dr_kms_key_arn: str | None = None
    """Key (in the DR region) encrypting the DR vault. Required when `copy_to_dr`."""
    dr_retention_days: int | None = None
    """Days a copy is kept in the DR vault. Default: `weekly_retention_days`."""
    vault_lock: bool = False
    """Vault lock on both vaults (compliance mode after a 3-day grace period). Default false."""
    restore_testing: bool = True
    """Monthly restore testing of the latest RDS recovery point. Default true."""
    selection_tag: str = "Backup"
    """Tag key selecting resources; its value must be the plan name (:attr:`Backup.selection_tags`). Default
    ``Backup``."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the job-failure alarms notify (severity critical). Default: none (alarms without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.weekly_retention_days >= self.daily_retention_days,
                "`weekly_retention_days` must be at least `daily_retention_days`")
        require(not self.copy_to_dr or self.dr_kms_key_arn is not None,
                "`dr_kms_key_arn` is required when `copy_to_dr` is true")

    @property
    def copy_retention_days(self) -> int:
        return self.dr_retention_days or self.weekly_retention_days


class Backup(Module):
    """Backups of one environment.

    Public attributes: ``vault`` / ``vault_arn`` / ``vault_name``, ``dr_vault`` / ``dr_vault_arn`` (None without
    a copy), ``plan`` / ``plan_id`` / ``plan_name``, ``selection_tags`` (tags that put a resource in the plan),
    ``restore_testing_plan`` (or None), ``alarms``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: BackupSettings,
                 dr_provider: TerraformProvider | None = None) -> None:
        super().__init__(scope, id_, ctx)
        require(not settings.copy_to_dr or dr_provider is not None, "`dr_provider` is required when `copy_to_dr`")
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.plan_name = f"{prefix}-backup"
        self.selection_tags = {s.selection_tag: self.plan_name}

        force_destroy = not s.vault_lock
        self.vault = BackupVault(self, "vault", name=f"{prefix}-vault", kms_key_arn=s.kms_key_arn,
                                 force_destroy=force_destroy, tags=tags(ctx, f"{prefix}-vault", extra))
        self.vault_arn: str = self.vault.arn
        self.vault_name: str = self.vault.name
        self.dr_vault: BackupVault | None = None
        self.dr_vault_arn: str | None = None
        if s.copy_to_dr:
            self.dr_vault = BackupVault(self, "dr-vault", name=f"{prefix}-vault-dr", kms_key_arn=s.dr_kms_key_arn,
                                        force_destroy=force_destroy, provider=dr_provider,
                                        tags=tags(ctx, f"{prefix}-vault-dr", extra))
            self.dr_vault_arn = self.dr_vault.arn
        if s.vault_lock:
            for key, vault, days, provider in (("vault", self.vault, s.weekly_retention_days, None),
                                               ("dr-vault", self.dr_vault, s.copy_retention_days, dr_provider)):
                if vault is None:
                    continue
                BackupVaultLockConfiguration(self, f"{key}-lock", backup_vault_name=vault.name,
                                             min_retention_days=min(s.daily_retention_days, days),
                                             max_retention_days=max(days, s.weekly_retention_days),
                                             changeable_for_days=LOCK_GRACE_DAYS, provider=provider)

        copy: list[dict[str, Any]] = []
        if self.dr_vault is not None:
            copy = [{"destination_vault_arn": self.dr_vault.arn,
                     "lifecycle": {"delete_after": s.copy_retention_days}}]
        self.plan = BackupPlan(self, "plan", name=self.plan_name, tags=tags(ctx, self.plan_name, extra), rule=struct_list([
            {"rule_name": "daily", "target_vault_name": self.vault.name, "schedule": DAILY_SCHEDULE,
             "start_window": 60, "completion_window": 360,
             "lifecycle": {"delete_after": s.daily_retention_days}, "copy_action": copy or None,
             "recovery_point_tags": {"Rule": "daily"}},
            {"rule_name": "weekly", "target_vault_name": self.vault.name, "schedule": WEEKLY_SCHEDULE,
             "start_window": 60, "completion_window": 720,
             "lifecycle": {"delete_after": s.weekly_retention_days}, "copy_action": copy or None,
             "recovery_point_tags": {"Rule": "weekly"}},
        ]))
        self.plan_id: str = self.plan.id

        self.role: IamRole | None = self._role()
        if self.role is not None:
            BackupSelection(self, "selection", name=f"{prefix}-by-tag", plan_id=self.plan.id,
                            iam_role_arn=self.role.arn,
                            selection_tag=struct_list([{"type": "STRINGEQUALS", "key": s.selection_tag,
                                                         "value": self.plan_name}]))

        self.restore_testing_plan: BackupRestoreTestingPlan | None = None
        if self.role is not None and s.restore_testing:
            name = f"{prefix.replace('-', '_')}_restore_test"
            self.restore_testing_plan = BackupRestoreTestingPlan(
                self, "restore-testing", name=name, schedule_expression=RESTORE_TEST_SCHEDULE, start_window_hours=24,
                recovery_point_selection=struct_list([{
                    "algorithm": "LATEST_WITHIN_WINDOW", "include_vaults": [self.vault.arn],
                    "recovery_point_types": ["SNAPSHOT"], "selection_window_days": 7}]),
                tags=tags(ctx, name, extra))
            BackupRestoreTestingSelection(
                self, "restore-testing-rds", name=f"{name}_rds", restore_testing_plan_name=self.restore_testing_plan.name,
                protected_resource_type="RDS", iam_role_arn=self.role.arn, validation_window_hours=2,
                protected_resource_conditions=struct_list([{"string_equals": [
                    {"key": f"aws:ResourceTag/{s.selection_tag}", "value": self.plan_name}]}]))

        self.alarms = [
            CloudwatchMetricAlarm(
                self, f"alarm-{key}", alarm_name=f"{prefix}-backup-{key}", namespace="AWS/Backup", metric_name=metric,
                dimensions={"BackupVaultName": self.vault.name}, statistic="Sum", period=3600, evaluation_periods=1,
                threshold=0, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
                alarm_description=f"{what} in the last hour", alarm_actions=s.alarm_topics.actions("critical"),
                ok_actions=s.alarm_topics.actions("critical"), tags=tags(ctx, f"{prefix}-backup-{key}", extra))
            for key, metric, what in (("jobs-failed", "NumberOfBackupJobsFailed", "Backup jobs failed"),
                                      ("copy-jobs-failed", "NumberOfCopyJobsFailed", "Copy jobs to the DR vault failed"),
                                      ("restore-jobs-failed", "NumberOfRestoreJobsFailed", "Restore (test) jobs failed"))
        ]

    def _role(self) -> IamRole:
        ctx = self.ctx
        prefix = ctx.name_prefix
        # The role exists only for the selection and the restore tests: where the target can create neither, the
        # stack layer's local variant leaves it (and its policies) out.
        served = ("aws_backup_selection", "aws_backup_restore_testing_plan")
        role = serves_only(service_role(self, "role", ctx, name=f"{prefix}-backup", service="backup.amazonaws.com",
                                        extra_tags=self.settings.extra_tags), *served)
        for key, policy in (("backup", "AWSBackupServiceRolePolicyForBackup"),
                            ("restore", "AWSBackupServiceRolePolicyForRestores")):
            serves_only(IamRolePolicyAttachment(
                self, f"role-{key}", role=role.name,
                policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/{policy}"), *served)
        return role
