"""Restore testing that validates: the validation function of the AWS Backup restore testing plan, its trigger and
its alarms.

AWS Backup restore testing (``modules/backup.py``: ``aws_backup_restore_testing_plan`` + selection) restores the
latest RDS recovery point every month; by itself it only checks that the restore completes. Following
https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html this module adds:

- ``<prefix>-restore-validation``, a Lambda function (Python 3.12; source shipped in
  ``modules/data/functions/restore_validation/index.py``, packaged by cdktf as an asset like the canary's code) that checks
  the restored instance (available, encrypted, not public) and reports ``PutRestoreValidationResult``
  SUCCESSFUL/FAILED; its own log group (logs key, the environment's retention) and a role that may only write those
  logs, describe DB instances of this account and region, and report validation results (``backup:
  PutRestoreValidationResult`` and ``DescribeRestoreJob`` have no resource-level permissions: Service Authorization
  Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html);
- an EventBridge rule on ``Restore Job State Change`` events (source ``aws.backup``, status ``COMPLETED``) of this
  plan only (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-backup.html), targeting the function
  (invoke permission limited to the rule's ARN);
- alarms to the alerting topics: a metric filter counts the function's FAILED verdicts
  (``RestoreValidationFailed``), and the function's own ``Errors`` (a validation that never reported).

Built only where the restore testing plan is (the local emulator cannot create one: ``envs/target.py``), so on the
local target none of this exists; it is covered by the unit tests of the function, the synthesized JSON, ``terraform
validate`` and the gate.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_metric_filter import CloudwatchLogMetricFilter
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module
from modules.core.helpers import policy_json, service_role, tags

CODE_DIR = Path(__file__).with_name("functions") / "restore_validation"
RUNTIME = "python3.12"
FAILED_METRIC = "RestoreValidationFailed"


@dataclass(frozen=True)
class RestoreValidationSettings:
    """Inputs of :class:`RestoreValidation`."""

    restore_testing_plan_arn: str
    """ARN of the restore testing plan whose restore jobs are validated. Required."""
    log_kms_key_arn: str
    """Key encrypting the function's log group (the environment's ``logs`` key). Required."""
    log_retention_days: int = 365
    """Retention of the function's log group. Default 365."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """Topics the alarms notify (severity critical). Default: none (alarms without actions)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the context tags. Default: none."""


class RestoreValidation(Module):
    """Public attributes: ``function`` / ``function_name``, ``rule``, ``alarms``."""

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: RestoreValidationSettings) -> None:
        super().__init__(scope, id_, ctx)
        s, prefix, extra = settings, ctx.name_prefix, settings.extra_tags
        self.function_name = name = f"{prefix}-restore-validation"
        arn = f"arn:{ctx.partition}"
        log_group = CloudwatchLogGroup(self, "logs", name=f"/aws/lambda/{name}", kms_key_id=s.log_kms_key_arn,
                                       retention_in_days=s.log_retention_days, tags=tags(ctx, name, extra))
        role = service_role(self, "role", ctx, name=name, service="lambda.amazonaws.com", extra_tags=extra)
        IamRolePolicy(self, "policy", role=role.id, name="restore-validation", policy=policy_json(
            {"Sid": "OwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{log_group.arn}:*"},
            {"Sid": "ReadRestoredInstances", "Effect": "Allow", "Action": "rds:DescribeDBInstances",
             "Resource": f"{arn}:rds:{ctx.region}:{ctx.account_id}:db:*"},
            # no resource-level permissions exist for these (Service Authorization Reference: AWS Backup, X-Ray)
            {"Sid": "ReportValidation", "Effect": "Allow",
             "Action": ["backup:PutRestoreValidationResult", "backup:DescribeRestoreJob"], "Resource": "*"},
            # active tracing uploads through the execution role
            # (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html)
            {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
             "Resource": "*"}))
        code = TerraformAsset(self, "code", path=str(CODE_DIR), type=AssetType.ARCHIVE)
        self.function = LambdaFunction(
            self, "function", function_name=name, role=role.arn, runtime=RUNTIME, handler="index.handler",
            filename=code.path, source_code_hash=code.asset_hash, timeout=60, memory_size=128,
            tracing_config={"mode": "Active"},
            description="Validates AWS Backup restore tests (PutRestoreValidationResult)",
            depends_on=[log_group], tags=tags(ctx, name, extra))
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html (the rule) and
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html (Restore Job State Change events)
        self.rule = CloudwatchEventRule(
            self, "rule", name=name, tags=tags(ctx, name, extra),
            description="Restore test jobs of the restore testing plan that completed",
            event_pattern=json.dumps({"source": ["aws.backup"], "detail-type": ["Restore Job State Change"],
                                      "detail": {"status": ["COMPLETED"],
                                                 "restoreTestingPlanArn": [s.restore_testing_plan_arn]}}))
        CloudwatchEventTarget(self, "target", rule=self.rule.name, target_id="restore-validation",
                              arn=self.function.arn)
        LambdaPermission(self, "invoke", statement_id="restore-test-events", action="lambda:InvokeFunction",
                         function_name=self.function.function_name, principal="events.amazonaws.com",
                         source_arn=self.rule.arn)
        CloudwatchLogMetricFilter(
            self, "failed-filter", name=f"{name}-failed", log_group_name=log_group.name,
            pattern='{ $.validation = "FAILED" }',
            metric_transformation={"name": FAILED_METRIC, "namespace": f"{prefix}/backup", "value": "1",
                                   "default_value": "0", "unit": "Count"})
        namespace = f"{prefix}/backup"
        topics = s.alarm_topics.actions("critical")
        common = dict(period=3600, evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
                      treat_missing_data="notBreaching", statistic="Sum", alarm_actions=topics, ok_actions=topics)
        self.alarms = [
            CloudwatchMetricAlarm(self, "alarm-failed", alarm_name=f"{name}-failed", namespace=namespace,
                                  metric_name=FAILED_METRIC,
                                  alarm_description="A restore test failed validation: the restored database was "
                                                    "not available, encrypted and private (see the function's log)",
                                  tags=tags(ctx, f"{name}-failed", extra), **common),
            CloudwatchMetricAlarm(self, "alarm-errors", alarm_name=f"{name}-errors", namespace="AWS/Lambda",
                                  metric_name="Errors", dimensions={"FunctionName": name},
                                  alarm_description="The restore validation function failed: a restore test went "
                                                    "unvalidated",
                                  tags=tags(ctx, f"{name}-errors", extra), **common),
        ]
