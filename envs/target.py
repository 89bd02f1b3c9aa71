"""Where a stack deploys: a real AWS account (``aws``) or the local emulator (``local``, moto server).

The two variants of a synthesized stack differ only in provider endpoints and emulator-only settings, backend
settings, and the resource types listed in :data:`EMULATOR_UNSUPPORTED`, which the local variant leaves out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

#: Resource types the local emulator (moto 5.2.x) cannot create, with what it answers. The local target leaves these
#: out (and whatever only serves them); validate, plan and the compliance gate still cover them on every target.
#: Measured: ../shared/LOCAL-EMULATOR.md. README.md shows this list in its coverage table.
EMULATOR_UNSUPPORTED: Mapping[str, str] = {
    "aws_db_instance_automated_backups_replication": "not implemented",
    "aws_elasticache_replication_group": "member cluster never created; group stuck 'deleting'",
    "aws_securityhub_account": "not implemented (UpdateSecurityHubConfiguration)",
    "aws_securityhub_standards_subscription": "needs aws_securityhub_account",
    "aws_macie2_account": "provider reports an inconsistent result after apply",
    "aws_macie2_classification_job": "needs aws_macie2_account",
    "aws_guardduty_detector_feature": "UpdateDetector replaces the feature list instead of merging it: the provider "
                                      "then reads an empty result for every feature but the last",
    "aws_cloudwatch_composite_alarm": "not implemented",
    "aws_xray_sampling_rule": "404",
    "aws_synthetics_canary": "timestamp format error",
    "aws_budgets_budget": "not implemented operations",
    "aws_ce_anomaly_monitor": "not implemented operations",
    "aws_ce_anomaly_subscription": "not implemented operations",
    "aws_backup_selection": "not implemented",
    "aws_backup_restore_testing_plan": "404 (CreateRestoreTestingPlan not implemented)",
    "aws_backup_restore_testing_selection": "needs aws_backup_restore_testing_plan",
    "aws_vpclattice_service_network": "creates, but cannot be deleted",
    "aws_vpclattice_service": "creates, but DeleteService answers HTTP 500 (not implemented); measured moto 5.2.5",
    "aws_vpclattice_listener": "creates, but DeleteListener answers HTTP 500 (not implemented); measured moto 5.2.5",
    "aws_vpclattice_target_group": "creates, but DeleteTargetGroup answers HTTP 500 (not implemented); measured "
                                   "moto 5.2.5",
    "aws_vpclattice_target_group_attachment": "RegisterTargets answers HTTP 500 (not implemented); measured moto 5.2.5",
    "aws_cloudwatch_query_definition": "PutQueryDefinition not implemented (HTTP 500); measured moto 5.2.5",
    "aws_xray_group": "CreateGroup answers HTTP 404; measured moto 5.2.5",
    "aws_ce_cost_allocation_tag": "UpdateCostAllocationTagsStatus not implemented (HTTP 500); measured moto 5.2.5",
    # moto 5.2.5 has no ssm-contacts and no ssm-incidents service, and its Config backend implements organization
    # conformance packs only (no PutConformancePack, no PutRemediationConfigurations); read in its source.
    "aws_ssmincidents_replication_set": "moto 5.2.5 has no ssm-incidents service",
    "aws_ssmincidents_response_plan": "moto 5.2.5 has no ssm-incidents service",
    "aws_ssmcontacts_contact": "moto 5.2.5 has no ssm-contacts service",
    "aws_ssmcontacts_contact_channel": "moto 5.2.5 has no ssm-contacts service",
    "aws_ssmcontacts_plan": "moto 5.2.5 has no ssm-contacts service",
    "aws_ssmcontacts_rotation": "moto 5.2.5 has no ssm-contacts service",
    "aws_config_conformance_pack": "PutConformancePack not implemented in moto 5.2.5",
    "aws_config_remediation_configuration": "PutRemediationConfigurations not implemented in moto 5.2.5",
    "aws_secretsmanager_secret_rotation": "RotateSecret invokes the rotation function at once, and moto runs Lambda "
                                          "functions only in Docker, which the local target does not require",
}

#: Read replicas are an ``aws_db_instance`` with ``replicate_source_db``; moto fails to read them back: it gives every
#: DB instance the same ``DbiResourceId`` and the provider finds an instance by that id (two answers = not found).
EMULATOR_UNSUPPORTED_FEATURES: Mapping[str, str] = {
    "rds_read_replica": ("read after create fails (couldn't find resource: moto gives every DB instance "
                         "one DbiResourceId); destroy then hangs on the primary"),
    "asg_instance_refresh": "StartInstanceRefresh answers HTTP 500 (not implemented); measured moto 5.2.5",
}

#: Attributes a re-plan after a local apply shows changed although AWS itself would not (moto omits or reshapes
#: them). Only these, on the local target only, are accepted as "no changes"; any other diff fails verification.
EMULATOR_REPLAN_DIFFS: Mapping[str, tuple[str, ...]] = {
    "aws_autoscaling_policy": ("enabled", "predictive_scaling_configuration"),
    "aws_db_parameter_group": ("parameter",),
    "aws_cloudfront_distribution": ("origin", "viewer_certificate", "default_cache_behavior",
                                    "ordered_cache_behavior"),
    "aws_kms_key": ("rotation_period_in_days",),
    "aws_s3_bucket_replication_configuration": ("rule",),
    # moto copies the launch template's own tags into its data as a "launch-template" tag specification (measured
    # moto 5.2.5); the template then plans a new version, which the group's launch template reference follows.
    "aws_launch_template": ("tag_specifications", "default_version", "latest_version"),
    # moto does not store DefaultInstanceWarmup; plus the launch template version that follows the diff above.
    # moto returns an empty capacity reservation preference as "" where AWS returns none (measured moto 5.2.5).
    "aws_autoscaling_group": ("default_instance_warmup", "mixed_instances_policy", "launch_template",
                              "capacity_reservation_specification"),
    # Data tier, measured moto 5.2.5: CloudFront returns empty forwarded_values beside a cache policy; referenced
    # security groups come back as "<account>/sg-..."; backup vault and plan tags are not read back.
    # ... and moto drops the description of a rule that references a security group (measured moto 5.2.5).
    "aws_vpc_security_group_ingress_rule": ("referenced_security_group_id", "description"),
    "aws_vpc_security_group_egress_rule": ("referenced_security_group_id", "description"),
    # A refresh reads these back in another shape (metric_query's defaults, the SSE rule's bucket key flag) while
    # the re-plan stays clean: state-only differences, measured moto 5.2.5; they are not drift.
    "aws_cloudwatch_metric_alarm": ("metric_query",),
    "aws_s3_bucket_server_side_encryption_configuration": ("rule",),
    "aws_backup_vault": ("tags", "tags_all"),
    "aws_backup_plan": ("tags", "tags_all"),
    # The pilot light's replicated secret: moto reads the replica's KmsKeyId back as alias/aws/secretsmanager, not the
    # DR key it was given (measured moto 5.2.5; DescribeSecret ReplicationStatus).
    "aws_secretsmanager_secret": ("replica",),
}

#: Arguments the emulator does not store at all, whose update sits behind a fixed provider waiter: without help every
#: local apply would "update" them again (an RDS modification waits at least 80 s: a 1-minute delay, then three
#: "available" answers 10 s apart). The local variant ignores later changes to them (``lifecycle.ignore_changes``);
#: the synthesized values, and so every gate, are the same as on AWS. Measured moto 5.2.5.
EMULATOR_UNSTORED: Mapping[str, tuple[str, ...]] = {
    "aws_db_instance": ("performance_insights_enabled", "performance_insights_kms_key_id",
                        "performance_insights_retention_period"),
}


@dataclass(frozen=True)
class Target:
    """The deploy target of one synthesis."""

    kind: Literal["aws", "local"] = "aws"
    """``aws`` (default): the normal AWS credential chain. ``local``: the emulator at `endpoint`."""
    endpoint: str | None = None
    """The emulator's URL, e.g. ``http://127.0.0.1:4566``. Required when `kind` is local, unset otherwise."""

    def __post_init__(self) -> None:
        if self.kind not in ("aws", "local"):
            raise ValueError(f"target must be 'aws' or 'local', not {self.kind!r}")
        if (self.kind == "local") != (self.endpoint is not None):
            raise ValueError("an endpoint is required for the local target and forbidden for aws")

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def supports(self, resource_type: str) -> bool:
        """Whether this target can create ``resource_type`` (always true on aws)."""
        return not self.is_local or resource_type not in EMULATOR_UNSUPPORTED

    def supports_feature(self, feature: str) -> bool:
        """Whether this target supports a feature of :data:`EMULATOR_UNSUPPORTED_FEATURES`."""
        return not self.is_local or feature not in EMULATOR_UNSUPPORTED_FEATURES

    def lifecycle(self, resource_type: str) -> dict[str, list[str]] | None:
        """The lifecycle block for ``resource_type`` on this target: on the emulator, ignore later changes to the
        arguments it does not store (:data:`EMULATOR_UNSTORED`); nothing on aws."""
        unstored = EMULATOR_UNSTORED.get(resource_type) if self.is_local else None
        return {"ignore_changes": list(unstored)} if unstored else None


AWS = Target()
