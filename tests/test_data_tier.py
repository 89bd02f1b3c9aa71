"""The data tier on the synthesized JSON of every environment (aws target), the local variant, the module settings
errors, bad settings files (exit 2) and the generated DR runbook."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compliance.secrets import find_literal_secrets
from envs.dr import objectives as dr_objectives
from modules.core.base import ModuleSettingsError
from tests.conftest import resources

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("dev", "staging", "prod")


def mine(doc: dict[str, Any], rtype: str, part: str = "") -> dict[str, dict[str, Any]]:
    """Resources of ``rtype`` built by the data tier (construct path ``data/<part>...``)."""
    return {n: r for n, r in resources(doc, rtype).items() if n.startswith(f"data_{part}")}


def one(doc: dict[str, Any], rtype: str, part: str = "") -> dict[str, Any]:
    found = mine(doc, rtype, part)
    assert len(found) == 1, sorted(found)
    return next(iter(found.values()))


def named(doc: dict[str, Any], rtype: str, construct_id: str) -> dict[str, Any]:
    found = [r for n, r in resources(doc, rtype).items() if n.startswith(construct_id.replace("/", "_") + "_")]
    assert len(found) == 1, (construct_id, sorted(resources(doc, rtype)))
    return found[0]


def key_ref(doc: dict[str, Any], data_class: str) -> str:
    (name,) = [n for n in resources(doc, "aws_kms_key") if n.startswith(f"kms-{data_class}_")]
    return f"${{aws_kms_key.{name}.arn}}"


def ref_name(value: str) -> str:
    """``${aws_x.name.attr}`` -> ``name``."""
    return value.strip("${}").split(".")[1]


# -- RDS ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_database_secure_defaults(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    db = named(doc, "aws_db_instance", "data/database/primary")
    protected_like = env in ("staging", "prod")
    assert db["engine"] == "postgres" and db["engine_version"] == s.data.database.engine_version
    assert db["storage_encrypted"] is True and db["kms_key_id"] == key_ref(doc, "data")
    assert db["storage_type"] == "gp3"
    assert db["allocated_storage"] == s.sizes.db_allocated_storage_gb
    assert db["max_allocated_storage"] == s.sizes.db_max_allocated_storage_gb
    assert db["manage_master_user_password"] is True and "password" not in db and "password_wo" not in db
    assert db["master_user_secret_kms_key_id"] == key_ref(doc, "secrets")
    assert db["iam_database_authentication_enabled"] is True
    assert db["publicly_accessible"] is False
    assert db["multi_az"] is protected_like
    assert db["deletion_protection"] is protected_like
    assert db["skip_final_snapshot"] is (not protected_like)
    assert ("final_snapshot_identifier" in db) is protected_like
    assert db["backup_retention_period"] == s.data.database.backup_retention_days
    assert db["backup_window"] == s.data.database.backup_window
    assert db["copy_tags_to_snapshot"] is True
    assert db["performance_insights_enabled"] is True
    assert db["performance_insights_kms_key_id"] == key_ref(doc, "data")
    assert db["monitoring_interval"] == 60 and "aws_iam_role" in db["monitoring_role_arn"]
    assert db["enabled_cloudwatch_logs_exports"] == ["postgresql", "upgrade"]
    assert db["tags"]["Backup"] == f"{s.name_prefix}-backup", "the primary must be in the AWS Backup selection"
    subnet_group = db["db_subnet_group_name"]
    assert "aws_db_subnet_group.network_db-subnets" in subnet_group


def test_parameter_group_forces_tls_and_logs_slow_queries(synth_aws: dict) -> None:
    group = named(synth_aws["prod"], "aws_db_parameter_group", "data/database/params")
    params = {p["name"]: p for p in group["parameter"]}
    assert group["family"] == "postgres16"
    assert params["rds.force_ssl"]["value"] == "1"
    assert params["shared_preload_libraries"]["value"] == "pg_stat_statements"
    assert params["shared_preload_libraries"]["apply_method"] == "pending-reboot"
    assert params["log_min_duration_statement"]["value"] == "500"


@pytest.mark.parametrize("env", ENVS)
def test_read_replicas_follow_settings(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    replicas = [r for n, r in mine(doc, "aws_db_instance", "database").items() if "replica" in n]
    assert len(replicas) == settings[env].data.database.read_replicas
    for replica in replicas:
        assert "aws_db_instance.data_database_primary" in replica["replicate_source_db"]
        assert replica["storage_encrypted"] is True and replica["publicly_accessible"] is False
        assert "username" not in replica and "manage_master_user_password" not in replica
        lag = [a for a in mine(doc, "aws_cloudwatch_metric_alarm", "database").values()
               if a["metric_name"] == "ReplicaLag"]
        assert lag and lag[0]["threshold"] == dr_objectives(settings[env])[1] * 60


@pytest.mark.parametrize("env,replicated", [("dev", False), ("staging", False), ("prod", True)])
def test_automated_backups_replicate_to_the_dr_region_when_protected(synth_aws: dict, env: str,
                                                                     replicated: bool) -> None:
    doc = synth_aws[env]
    found = mine(doc, "aws_db_instance_automated_backups_replication")
    assert bool(found) is replicated
    for rep in found.values():
        assert rep["provider"] == "aws.dr"
        assert "aws_kms_key.data_dr-key_" in rep["kms_key_id"]


def test_rds_proxy_requires_tls_and_iam_with_the_managed_secret(synth_aws: dict) -> None:
    doc = synth_aws["prod"]
    proxy = named(doc, "aws_db_proxy", "data/database/proxy")
    assert proxy["engine_family"] == "POSTGRESQL" and proxy["require_tls"] is True
    (auth,) = proxy["auth"]
    assert auth["iam_auth"] == "REQUIRED" and auth["auth_scheme"] == "SECRETS"
    assert "master_user_secret[0].secret_arn" in auth["secret_arn"]
    private = set(resources(doc, "aws_subnet"))
    assert all(ref_name(s) in private and "private" in ref_name(s) for s in proxy["vpc_subnet_ids"])
    target = named(doc, "aws_db_proxy_target", "data/database/proxy-target")
    assert "data_database_primary" in target["db_instance_identifier"]
    policy = json.loads(named(doc, "aws_iam_role_policy", "data/database/proxy-policy")["policy"])
    assert {st["Action"] for st in policy["Statement"]} == {"secretsmanager:GetSecretValue", "kms:Decrypt"}


@pytest.mark.parametrize("env", ENVS)
def test_data_security_groups_admit_only_the_app_tier(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    groups = mine(doc, "aws_security_group")
    assert groups and all("ingress" not in g or g["ingress"] == [] for g in groups.values())
    rules = mine(doc, "aws_vpc_security_group_ingress_rule")
    for rule in rules.values():
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule, rule
        assert rule["referenced_security_group_id"].startswith("${aws_security_group.")
        assert rule["from_port"] == rule["to_port"] and rule["from_port"] in (5432, 6379)
    app_groups = [n for n in resources(doc, "aws_security_group") if n.startswith("app_")]
    admitted = {ref_name(r["referenced_security_group_id"]) for r in rules.values()}
    assert admitted <= set(app_groups) | set(groups), admitted


# -- ElastiCache --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env,nodes,multi_az", [("dev", 1, False), ("staging", 2, False), ("prod", 3, True)])
def test_redis_encrypted_rbac_iam_and_alarms(synth_aws: dict, env: str, nodes: int, multi_az: bool) -> None:
    doc = synth_aws[env]
    group = named(doc, "aws_elasticache_replication_group", "data/cache/redis")
    assert group["at_rest_encryption_enabled"] == "true" and group["kms_key_id"] == key_ref(doc, "data")
    assert group["transit_encryption_enabled"] is True and group["transit_encryption_mode"] == "required"
    assert "auth_token" not in group, "no AUTH token: RBAC users with IAM authentication"
    assert group["num_cache_clusters"] == nodes
    assert group["automatic_failover_enabled"] is multi_az and group["multi_az_enabled"] is multi_az
    assert group["snapshot_retention_limit"] >= 1
    users = {u["user_name"]: u for u in mine(doc, "aws_elasticache_user", "cache").values()}
    assert users["default"]["access_string"].startswith("off")
    app_user = [u for name, u in users.items() if name != "default"]
    assert len(app_user) == 1 and app_user[0]["authentication_mode"]["type"] == "iam"
    assert "passwords" not in app_user[0]
    subnets = named(doc, "aws_elasticache_subnet_group", "data/cache/subnets")["subnet_ids"]
    assert all("private" in ref_name(s) for s in subnets)
    alarms = [a for a in mine(doc, "aws_cloudwatch_metric_alarm", "cache").values()]
    metrics = sorted(a["metric_name"] for a in alarms)
    assert metrics == sorted(["EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "Evictions"] * nodes)


# -- S3 -----------------------------------------------------------------------------------------------------------

def bucket_parts(doc: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """Every configuration resource of bucket ``key`` by type."""
    out = {}
    for rtype, suffix in (("aws_s3_bucket", ""), ("aws_s3_bucket_versioning", "-versioning"),
                          ("aws_s3_bucket_server_side_encryption_configuration", "-encryption"),
                          ("aws_s3_bucket_public_access_block", "-public-access"),
                          ("aws_s3_bucket_policy", "-policy"), ("aws_s3_bucket_lifecycle_configuration", "-lifecycle"),
                          ("aws_s3_bucket_ownership_controls", "-ownership"), ("aws_s3_bucket_logging", "-logging")):
        found = [r for n, r in resources(doc, rtype).items() if n.startswith(f"data_storage_{key}{suffix}_")]
        if found:
            out[rtype] = found[0]
    return out


@pytest.mark.parametrize("env", ENVS)
def test_every_bucket_is_versioned_encrypted_private_tls_only_with_lifecycle(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    keys = [n.split("_")[2] for n in mine(doc, "aws_s3_bucket", "storage")]
    expected = {"app", "static", "logs", "cdn-logs"} | ({"app-dr", "static-dr", "logs-dr"} if env == "prod" else set())
    assert set(keys) == expected
    for key in keys:
        parts = bucket_parts(doc, key)
        assert parts["aws_s3_bucket_versioning"]["versioning_configuration"]["status"] == "Enabled"
        (rule,) = parts["aws_s3_bucket_server_side_encryption_configuration"]["rule"]
        default = rule["apply_server_side_encryption_by_default"]
        assert default["sse_algorithm"] == "aws:kms" and default["kms_master_key_id"].startswith("${aws_kms_key.")
        assert rule["bucket_key_enabled"] is True
        pab = parts["aws_s3_bucket_public_access_block"]
        assert all(pab[f] is True for f in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                            "restrict_public_buckets"))
        policy = json.loads(parts["aws_s3_bucket_policy"]["policy"])
        deny = [st for st in policy["Statement"] if st["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert not [st for st in policy["Statement"]
                    if st["Effect"] == "Allow" and st.get("Principal") in ("*", {"AWS": "*"})]
        rules = parts["aws_s3_bucket_lifecycle_configuration"]["rule"]
        assert rules[0]["status"] == "Enabled"
        assert rules[0]["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 7
        assert rules[0]["noncurrent_version_expiration"][0]["noncurrent_days"] >= 1
        ownership = parts["aws_s3_bucket_ownership_controls"]["rule"]["object_ownership"]
        assert ownership == ("BucketOwnerPreferred" if key == "cdn-logs" else "BucketOwnerEnforced")
        logs = key in ("logs", "logs-dr")
        assert ("aws_s3_bucket_logging" in parts) is not logs, key
        if key.endswith("-dr"):
            assert parts["aws_s3_bucket"]["provider"] == "aws.dr"
        if key in ("app", "static", "app-dr", "static-dr"):
            transitions = {t["storage_class"]: t["days"] for t in rules[0]["transition"]}
            assert transitions == {"STANDARD_IA": 30, "GLACIER_IR": 90}


def test_log_buckets_use_the_logs_key_and_admit_s3_log_delivery(synth_aws: dict) -> None:
    doc = synth_aws["dev"]
    parts = bucket_parts(doc, "logs")
    (rule,) = parts["aws_s3_bucket_server_side_encryption_configuration"]["rule"]
    assert rule["apply_server_side_encryption_by_default"]["kms_master_key_id"] == key_ref(doc, "logs")
    statements = json.loads(parts["aws_s3_bucket_policy"]["policy"])["Statement"]
    delivery = [st for st in statements if st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery and delivery[0]["Action"] == "s3:PutObject" and "aws:SourceAccount" in json.dumps(delivery)
    key_policy = json.loads(next(k for n, k in resources(doc, "aws_kms_key").items()
                                 if n.startswith("kms-logs_"))["policy"])
    assert "logging.s3.amazonaws.com" in json.dumps(key_policy)


@pytest.mark.parametrize("env,replicated", [("dev", False), ("staging", False), ("prod", True)])
def test_cross_region_replication_when_protected(synth_aws: dict, env: str, replicated: bool) -> None:
    doc = synth_aws[env]
    configs = mine(doc, "aws_s3_bucket_replication_configuration")
    assert len(configs) == (2 if replicated else 0)
    for config in configs.values():
        (rule,) = config["rule"]
        dest = rule["destination"]
        assert rule["status"] == "Enabled" and "-dr_" in dest["bucket"]
        assert "data_dr-key" in dest["encryption_configuration"]["replica_kms_key_id"]
        assert dest["replication_time"]["status"] == "Enabled"
        assert rule["source_selection_criteria"]["sse_kms_encrypted_objects"]["status"] == "Enabled"
    if replicated:
        latency = [a for a in mine(doc, "aws_cloudwatch_metric_alarm", "dr").values()
                   if a["metric_name"] == "ReplicationLatency"]
        assert len(latency) == 2 and all(a["threshold"] == 15 * 60 for a in latency)


# -- CloudFront ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_cloudfront_https_oac_logging_price_class(synth_aws: dict, settings: dict, env: str) -> None:
    doc, cdn_settings = synth_aws[env], settings[env].data.cdn
    dist = named(doc, "aws_cloudfront_distribution", "data/cdn/distribution")
    assert dist["enabled"] is True and dist["price_class"] == cdn_settings.price_class
    default = dist["default_cache_behavior"]
    assert default["viewer_protocol_policy"] == "redirect-to-https" and default["compress"] is True
    assert default["cache_policy_id"] and default["response_headers_policy_id"]
    s3_origins = [o for o in dist["origin"] if "origin_access_control_id" in o]
    assert s3_origins and all("data_cdn_oac" in o["origin_access_control_id"] for o in s3_origins)
    assert "cdn-logs" in dist["logging_config"]["bucket"]
    cert = dist["viewer_certificate"]
    if cdn_settings.acm_certificate_arn:
        assert cert["minimum_protocol_version"] == "TLSv1.2_2021" and cert["ssl_support_method"] == "sni-only"
        assert dist["aliases"] == list(cdn_settings.aliases)
    else:
        assert cert == {"cloudfront_default_certificate": True}
    for behavior in dist.get("ordered_cache_behavior", []):
        assert behavior["viewer_protocol_policy"] == "https-only"
        assert behavior["cache_policy_id"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    alb_origins = [o for o in dist["origin"] if "custom_origin_config" in o]
    has_app = bool(resources(doc, "aws_lb"))
    assert bool(alb_origins) is has_app
    (zone,) = resources(doc, "aws_route53_zone").values()
    for origin in alb_origins:
        assert origin["domain_name"] == f"origin.{zone['name']}"  # a name the ALB's certificate covers
        assert origin["custom_origin_config"]["origin_protocol_policy"] == "https-only"
        assert origin["custom_origin_config"]["origin_ssl_protocols"] == ["TLSv1.2"]
    # the static bucket admits exactly this distribution
    statements = json.loads(bucket_parts(doc, "static")["aws_s3_bucket_policy"]["policy"])["Statement"]
    read = [st for st in statements if st.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert read and "data_cdn_distribution" in read[0]["Condition"]["StringEquals"]["AWS:SourceArn"]


def test_static_content_fails_over_to_the_dr_replica_in_prod(synth_aws: dict) -> None:
    dist = named(synth_aws["prod"], "aws_cloudfront_distribution", "data/cdn/distribution")
    (group,) = dist["origin_group"]
    assert [m["origin_id"] for m in group["member"]] == ["static-s3", "static-s3-dr"]
    assert dist["default_cache_behavior"]["target_origin_id"] == group["origin_id"]


# -- AWS Backup ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_backup_vaults_plan_copy_selection(synth_aws: dict, settings: dict, env: str) -> None:
    doc, b = synth_aws[env], settings[env].data.backup
    vault = named(doc, "aws_backup_vault", "data/backup/vault")
    dr_vault = named(doc, "aws_backup_vault", "data/backup/dr-vault")
    assert vault["kms_key_arn"] == key_ref(doc, "backups")
    assert dr_vault["provider"] == "aws.dr" and "data_dr-key" in dr_vault["kms_key_arn"]
    plan = named(doc, "aws_backup_plan", "data/backup/plan")
    rules = {r["rule_name"]: r for r in plan["rule"]}
    assert rules["daily"]["lifecycle"]["delete_after"] == b.daily_retention_days
    assert rules["weekly"]["lifecycle"]["delete_after"] == b.weekly_retention_days
    for rule in rules.values():
        (copy,) = rule["copy_action"]
        assert "data_backup_dr-vault" in copy["destination_vault_arn"]
        assert copy["lifecycle"]["delete_after"] == (b.dr_retention_days or b.weekly_retention_days)
    selection = named(doc, "aws_backup_selection", "data/backup/selection")
    assert selection["selection_tag"] == [{"type": "STRINGEQUALS", "key": "Backup",
                                           "value": f"{settings[env].name_prefix}-backup"}]
    locks = mine(doc, "aws_backup_vault_lock_configuration")
    assert len(locks) == (2 if env == "prod" else 0)
    testing = named(doc, "aws_backup_restore_testing_plan", "data/backup/restore-testing")
    assert testing["recovery_point_selection"][0]["algorithm"] == "LATEST_WITHIN_WINDOW"
    rds_test = named(doc, "aws_backup_restore_testing_selection", "data/backup/restore-testing-rds")
    assert rds_test["protected_resource_type"] == "RDS"
    failed = {a["metric_name"] for a in mine(doc, "aws_cloudwatch_metric_alarm", "backup").values()}
    assert failed == {"NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed", "NumberOfRestoreJobsFailed"}


# -- DR -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_dr_key_zone_and_failover(synth_aws: dict, settings: dict, env: str) -> None:
    doc, dr = synth_aws[env], settings[env].data.dr
    key = named(doc, "aws_kms_key", "data/dr-key")
    assert key["provider"] == "aws.dr" and key["enable_key_rotation"] is True
    zone = named(doc, "aws_route53_zone", "data/dr/zone")
    assert zone["name"] == (dr.domain_name or f"{env}.webplatform.example.com")
    records = mine(doc, "aws_route53_record", "dr")
    checks = mine(doc, "aws_route53_health_check", "dr")
    if dr.runs_in_dr:  # the pilot light's failover pairs (tests/test_dr.py); the data tier keeps the zone only
        assert not records and not checks
    elif resources(doc, "aws_lb"):  # backup-only: nothing to fail over to, a plain alias of the load balancer
        (record,) = records.values()
        assert record["type"] == "A" and "failover_routing_policy" not in record
        assert "aws_lb." in record["alias"]["name"] and record["alias"]["evaluate_target_health"] is True
        (check,) = checks.values()  # still watched: the alarm pages when the primary stops answering
        assert check["type"] == "HTTPS" and check["resource_path"] == dr.health_check_path
    else:
        assert not records and not checks


def test_failover_records_with_explicit_endpoints() -> None:
    from cdktf import Testing, TerraformStack
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    from envs.target import AWS
    from modules.core.base import Context
    from modules.data.disaster_recovery import DisasterRecovery, DisasterRecoverySettings, ReplicationWatch

    app = Testing.app()
    stack = TerraformStack(app, "t")
    AwsProvider(stack, "aws", region="us-east-1")
    ctx = Context(name_prefix="p-dev", region="us-east-1", account_id="111111111111", partition="aws", target=AWS)
    dr = DisasterRecovery(stack, "dr", ctx, DisasterRecoverySettings(
        dr_region="us-west-2", zone_name="dev.example.com", rto_minutes=30, primary_endpoint="alb.example.com",
        secondary_endpoint="standby.example.com", replication_watches=(ReplicationWatch("a", "b", "r"),)))
    doc = json.loads(Testing.synth(stack))
    records = resources(doc, "aws_route53_record")
    assert {r["failover_routing_policy"]["type"]: r["records"] for r in records.values()} == {
        "PRIMARY": ["alb.example.com"], "SECONDARY": ["standby.example.com"]}
    (check,) = resources(doc, "aws_route53_health_check").values()
    assert check["request_interval"] == 10, "an RTO under an hour needs the fast health check"
    assert dr.record_fqdn == "app.dev.example.com"
    alarms = {a["metric_name"] for a in resources(doc, "aws_cloudwatch_metric_alarm").values()}
    assert alarms == {"ReplicationLatency", "HealthCheckStatus"}


# -- secrets, tags ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_no_plaintext_secret_in_the_data_tier(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    found = [f"{rtype}.{name}: {path}" for rtype, group in doc.get("resource", {}).items()
             for name, body in group.items() if name.startswith("data_")
             for path in find_literal_secrets(body) if not path.endswith("_wo")]
    assert not found
    text = json.dumps(doc)
    assert '"auth_token"' not in text and '"master_password"' not in text
    for db in resources(doc, "aws_db_instance").values():
        assert "password" not in db


@pytest.mark.parametrize("env", ENVS)
def test_data_resources_carry_a_name_tag(synth_aws: dict, env: str) -> None:
    from compliance.taggable_types import TAGGABLE_TYPES

    doc = synth_aws[env]
    for rtype, group in doc["resource"].items():
        if rtype not in TAGGABLE_TYPES:
            continue
        for name, body in group.items():
            if name.startswith("data_"):
                assert body.get("tags", {}).get("Name"), f"{rtype}.{name}"


# -- local target -------------------------------------------------------------------------------------------------

def test_local_variant_leaves_out_what_the_emulator_cannot_create(synth_local: Path) -> None:
    from envs.target import EMULATOR_UNSUPPORTED

    doc = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    for rtype in EMULATOR_UNSUPPORTED:
        assert not mine(doc, rtype), rtype
    assert not mine(doc, "aws_elasticache_subnet_group"), "the cache is left out with what serves it"
    assert not mine(doc, "aws_elasticache_user")
    assert [n for n in mine(doc, "aws_db_instance") if "replica" in n] == []
    assert named(doc, "aws_db_instance", "data/database/primary")["manage_master_user_password"] is True
    assert mine(doc, "aws_backup_plan") and mine(doc, "aws_cloudfront_distribution")


def test_local_variant_skips_the_waits_the_emulator_makes_pointless(synth_local: Path,
                                                                    synth_aws: dict[str, Any]) -> None:
    """The emulator does not store Performance Insights (every apply would modify the instance again, behind the
    provider's 80-second RDS waiter) and deploys a distribution on its first read (the provider waits a minute
    first): the local variant ignores later Performance Insights changes and does not wait; the aws one is as
    configured. The synthesized Performance Insights settings, which the gates see, are the same on both."""
    local = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    db = named(local, "aws_db_instance", "data/database/primary")
    assert db["lifecycle"] == {"ignore_changes": ["performance_insights_enabled", "performance_insights_kms_key_id",
                                                  "performance_insights_retention_period"]}
    assert db["performance_insights_enabled"] is True
    assert one(local, "aws_cloudfront_distribution")["wait_for_deployment"] is False
    aws = synth_aws["dev"]
    assert "lifecycle" not in named(aws, "aws_db_instance", "data/database/primary")
    assert "wait_for_deployment" not in one(aws, "aws_cloudfront_distribution")


# -- module settings ----------------------------------------------------------------------------------------------

def test_module_settings_reject_conflicts() -> None:
    from modules.data.cache import CacheSettings
    from modules.data.cdn import CdnSettings
    from modules.data.database import DatabaseSettings
    from modules.data.buckets import StorageSettings

    with pytest.raises(ModuleSettingsError, match="`multi_az` needs `nodes` >= 2"):
        CacheSettings(vpc_id="v", subnet_ids=("s",), kms_key_arn="k", log_kms_key_arn="l", multi_az=True, nodes=1)
    with pytest.raises(ModuleSettingsError, match="`proxy_subnet_ids` are required"):
        DatabaseSettings(vpc_id="v", subnet_group_name="g", storage_kms_key_arn="k", secret_kms_key_arn="s",
                         log_kms_key_arn="l")
    with pytest.raises(ModuleSettingsError, match="`dr_kms_key_arn` and `dr_region` are required"):
        StorageSettings(kms_key_arn="k", log_kms_key_arn="l", replicate_to_dr=True)
    with pytest.raises(ModuleSettingsError, match="`aliases` need `acm_certificate_arn`"):
        CdnSettings(static_bucket_regional_domain_name="s", log_bucket_domain_name="l", aliases=("a.example.com",))


# -- bad settings files: exit 2 -----------------------------------------------------------------------------------

BAD = [
    # (env, appended TOML replacing the section, words of the message)
    ("dev", "[data.database]\nbackup_retention_days = 7\nread_replicas = 0",
     "[data.database]\nenabled = false\nread_replicas = 2",
     "data.database: read_replicas = 2 but enabled = false: replicas need a primary; set "
     "data.database.read_replicas = 0"),
    ("dev", "backup_retention_days = 7\nread_replicas = 0", "backup_retention_days = 40\nread_replicas = 0",
     "data.database.backup_retention_days"),
    ("dev", "[data.cache]\nsnapshot_retention_days = 1", "[data.cache]\nmulti_az = true\nnodes = 1",
     "set data.cache.nodes = 2 or more"),
    ("dev", 'price_class = "PriceClass_100"', 'price_class = "PriceClass_50"',
     "set data.cdn.price_class to one of"),
    ("dev", 'price_class = "PriceClass_100"', 'price_class = "PriceClass_100"\naliases = ["www.example.com"]',
     "set data.cdn.acm_certificate_arn"),
    ("dev", "weekly_retention_days = 35", "weekly_retention_days = 3",
     "data.backup.weekly_retention_days"),
    ("dev", "[data.database]\n", '[data.database]\nbackup_window = "04:00-05:00"\n',
     "move data.database.backup_window"),
    ("dev", "[data.dr]\n", "[data.storage]\ntransition_to_glacier_days = 40\n\n[data.dr]\n",
     "raise data.storage.transition_to_glacier_days"),
    ("prod", 'dr_region = "us-west-2"', 'dr_region = "us-east-1"', "dr_region: equals region"),
]


@pytest.mark.parametrize("env,old,new,words", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_data_settings_exit_2(tmp_path: Path, env: str, old: str, new: str, words: str) -> None:
    for name in ENVS:
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    path = tmp_path / f"{env}.toml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(tmp_path), "synth", "--env", env,
                           "--outdir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and f"{env}.toml" in proc.stderr, proc.stderr
    assert not out.exists()


# -- runbook ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_committed_runbook_is_current(settings: dict, env: str) -> None:
    from modules.stack.mapping import runbook_inputs
    from modules.data.disaster_recovery import render_runbook

    text = render_runbook(runbook_inputs(settings[env]))
    committed = ROOT / "docs" / "runbooks" / f"{env}.md"
    assert committed.read_text() == text, f"regenerate: python main.py runbook --env {env}"


def test_runbook_says_what_fails_over_in_order(settings: dict) -> None:
    from modules.stack.mapping import runbook_inputs
    from modules.data.disaster_recovery import render_runbook

    text = render_runbook(runbook_inputs(settings["prod"]))
    assert "| RTO (time to restore service) | 60 minutes |" in text
    assert "| RPO (data loss accepted) | 15 minutes |" in text
    steps = [line.split("**")[1] for line in text.splitlines() if line[:1].isdigit() and "**" in line]
    # prod has a pilot light: the failover and the failback are the commands, not manual steps
    assert steps == ["Declare", "Freeze writes", "Fail over", "Cache", "Objects", "Verify", "Fail back"]
    assert "`python main.py dr failover --env prod --target aws`" in text
    assert "`python main.py dr failback --env prod --target aws`" in text
    assert "`python main.py dr drill --env prod`" in text
    assert "replicated automated backups" in text and "## Failback to the primary region" in text
    dev = render_runbook(runbook_inputs(settings["dev"]))
    assert "AWS Backup copies only" in dev and "single-AZ" in dev
    # dev is backup-only: nothing to fail over to, so the steps stay manual and say why; the drill is a command
    dev_steps = [line.split("**")[1] for line in dev.splitlines() if line[:1].isdigit() and "**" in line]
    assert dev_steps == ["Declare", "Freeze writes", "Database", "Cache", "Objects", "Application", "DNS", "Verify"]
    assert "needs a pilot light" in dev and "`python main.py dr drill --env dev`" in dev


def test_runbook_cli_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "dev.md"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "runbook", "--env", "dev", "--output", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == (ROOT / "docs" / "runbooks" / "dev.md").read_text()
