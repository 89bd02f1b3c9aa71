#!/usr/bin/env python3
"""Generate the resource-type data of the compliance gate from the pinned AWS provider's schema.

Writes three files, byte for byte reproducible:

- ``tools/aws_provider_types.json``: the compact digest of ``terraform providers schema -json`` this generator
  needs (every resource type of the pinned provider, and whether it takes ``tags`` and computes ``tags_all``);
- ``compliance/resource_classes.json``: every resource type -> ``stateful`` | ``stateless`` and the rule that
  decided it (the stateful guard, :mod:`compliance.guards`, reads it);
- ``compliance/taggable_types.py``: the types that take ``tags`` and compute ``tags_all``.

Usage::

    python tools/gen_resource_classes.py --from-terraform      # run Terraform against the mirror, regenerate all
    python tools/gen_resource_classes.py --schema schema.json  # from a saved `terraform providers schema -json`
    python tools/gen_resource_classes.py                       # regenerate the data from the committed digest
    python tools/gen_resource_classes.py --check               # exit 1 when a committed file differs

``--from-terraform`` needs Terraform and the provider mirror (``source scripts/env.sh``); the other modes need
nothing but this repository (the tests run ``--check``).

Classification: a destroyed or replaced *stateful* resource loses data, keys or identity that the configuration
cannot recreate (a database, a bucket, a key, a secret value, a queue's messages, a log group's events, a user
pool's users); a *stateless* one is recreated from the code alone.  Order of decision: the reviewed overrides
(``STATEFUL``, ``STATELESS`` below, each with its reason), then the name rules (``RULES``), then the conservative
default: a type no rule recognises counts as **stateful** until someone reviews it.  The guard treats a type that is
missing from the data (a newer provider) as stateful too.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = "registry.terraform.io/hashicorp/aws"
VERSION = "5.100.0"  # the provider of the pinned bindings (cdktf-cdktf-provider-aws, pyproject.toml); a test compares
#: The command that regenerates everything from the provider itself, named in each generated file.
COMMAND = "python tools/gen_resource_classes.py --from-terraform"
DIGEST = ROOT / "tools" / "aws_provider_types.json"
CLASSES = ROOT / "compliance" / "resource_classes.json"
TAGGABLE = ROOT / "compliance" / "taggable_types.py"

# --------------------------------------------------------------------------------------------- reviewed overrides
# Data stores and holders of keys, secrets or messages (destroying one loses what it holds).
STATEFUL: dict[str, str] = {
    # relational and other databases (a DB instance/cluster holds the data; snapshots are a copy of it)
    "aws_db_instance": "database", "aws_rds_cluster": "database", "aws_rds_cluster_instance": "database",
    "aws_rds_global_cluster": "database", "aws_db_cluster_snapshot": "database snapshot",
    "aws_db_snapshot": "database snapshot", "aws_db_snapshot_copy": "database snapshot",
    "aws_db_instance_automated_backups_replication": "database backups",
    "aws_docdb_cluster": "DocumentDB", "aws_docdb_cluster_instance": "DocumentDB",
    "aws_docdb_global_cluster": "DocumentDB", "aws_docdb_cluster_snapshot": "DocumentDB snapshot",
    "aws_docdbelastic_cluster": "DocumentDB elastic",
    "aws_neptune_cluster": "Neptune", "aws_neptune_cluster_instance": "Neptune",
    "aws_neptune_global_cluster": "Neptune", "aws_neptune_cluster_snapshot": "Neptune snapshot",
    "aws_redshift_cluster": "Redshift", "aws_redshift_cluster_snapshot": "Redshift snapshot",
    "aws_redshift_snapshot_copy": "Redshift snapshot", "aws_redshiftserverless_namespace": "Redshift Serverless data",
    "aws_redshiftserverless_snapshot": "Redshift Serverless snapshot",
    "aws_dynamodb_table": "DynamoDB", "aws_dynamodb_global_table": "DynamoDB",
    "aws_dynamodb_table_replica": "DynamoDB replica (deleting it deletes the replica's data)",
    "aws_dynamodb_table_item": "DynamoDB item", "aws_keyspaces_keyspace": "Keyspaces",
    "aws_keyspaces_table": "Keyspaces", "aws_timestreamwrite_database": "Timestream",
    "aws_timestreamwrite_table": "Timestream", "aws_timestreaminfluxdb_db_instance": "Timestream for InfluxDB",
    "aws_qldb_ledger": "QLDB", "aws_memorydb_cluster": "MemoryDB", "aws_memorydb_snapshot": "MemoryDB snapshot",
    "aws_elasticache_cluster": "ElastiCache", "aws_elasticache_replication_group": "ElastiCache",
    "aws_elasticache_global_replication_group": "ElastiCache", "aws_elasticache_serverless_cache": "ElastiCache",
    "aws_dax_cluster": "DAX", "aws_opensearch_domain": "OpenSearch", "aws_elasticsearch_domain": "Elasticsearch",
    "aws_opensearchserverless_collection": "OpenSearch Serverless", "aws_lightsail_database": "Lightsail DB",
    "aws_lightsail_disk": "Lightsail disk", "aws_glue_catalog_database": "Glue catalog",
    "aws_glue_catalog_table": "Glue catalog", "aws_lakeformation_resource": "Lake Formation",
    # storage
    "aws_s3_bucket": "S3", "aws_s3_directory_bucket": "S3", "aws_s3_object": "S3 object",
    "aws_s3_bucket_object": "S3 object", "aws_s3_object_copy": "S3 object", "aws_s3control_bucket": "S3 on Outposts",
    "aws_s3outposts_endpoint": "S3 on Outposts", "aws_s3tables_table_bucket": "S3 Tables",
    "aws_s3tables_table": "S3 Tables", "aws_s3tables_namespace": "S3 Tables",
    "aws_efs_file_system": "EFS", "aws_fsx_lustre_file_system": "FSx", "aws_fsx_ontap_file_system": "FSx",
    "aws_fsx_ontap_volume": "FSx", "aws_fsx_openzfs_file_system": "FSx", "aws_fsx_openzfs_volume": "FSx",
    "aws_fsx_openzfs_snapshot": "FSx", "aws_fsx_windows_file_system": "FSx", "aws_fsx_backup": "FSx backup",
    "aws_ebs_volume": "EBS", "aws_ebs_snapshot": "EBS", "aws_ebs_snapshot_copy": "EBS",
    "aws_ebs_snapshot_import": "EBS", "aws_glacier_vault": "Glacier", "aws_backup_vault": "AWS Backup",
    "aws_backup_logically_air_gapped_vault": "AWS Backup", "aws_storagegateway_cached_iscsi_volume": "Storage Gateway",
    "aws_storagegateway_stored_iscsi_volume": "Storage Gateway", "aws_ecr_repository": "ECR images",
    "aws_ecrpublic_repository": "ECR images", "aws_codecommit_repository": "source code",
    "aws_codeartifact_repository": "packages", "aws_codeartifact_domain": "packages",
    "aws_ami": "machine image", "aws_ami_copy": "machine image", "aws_ami_from_instance": "machine image",
    # messages and streams
    "aws_sqs_queue": "queued messages", "aws_kinesis_stream": "stream records",
    "aws_kinesis_video_stream": "stream records", "aws_kinesis_firehose_delivery_stream": "buffered records",
    "aws_msk_cluster": "Kafka", "aws_msk_serverless_cluster": "Kafka", "aws_mq_broker": "message broker",
    "aws_cloudwatch_log_group": "log events", "aws_cloudwatch_event_archive": "archived events",
    "aws_cloudtrail_event_data_store": "CloudTrail Lake events", "aws_sesv2_dedicated_ip_pool": "sender reputation",
    # keys, secrets, certificates, identities
    "aws_kms_key": "key material", "aws_kms_external_key": "key material", "aws_kms_replica_key": "key material",
    "aws_kms_replica_external_key": "key material", "aws_kms_custom_key_store": "key material",
    "aws_cloudhsm_v2_cluster": "key material", "aws_cloudhsm_v2_hsm": "key material",
    "aws_secretsmanager_secret": "secret", "aws_secretsmanager_secret_version": "secret value",
    "aws_ssm_parameter": "parameter value (often a SecureString)", "aws_iam_access_key": "credential",
    "aws_acmpca_certificate_authority": "CA key",
    "aws_cognito_user_pool": "users", "aws_cognito_identity_pool": "identities",
    "aws_route53_zone": "DNS zone (new name servers on recreation)", "aws_directory_service_directory": "directory",
    "aws_workspaces_directory": "directory",
    # stateful compute homes
    "aws_eks_cluster": "Kubernetes state (etcd)", "aws_lightsail_instance": "instance disk",
}

# Types whose name looks like a data store but that hold no data of their own.
STATELESS: dict[str, str] = {
    "aws_acm_certificate": "reissued and revalidated from code (DNS validation)",
    "aws_service_discovery_instance": "a registration of a running task",
    "aws_cloudtrail": "a trail delivers events to a bucket and a log group, which hold them",
    "aws_instance": "compute; data lives on EBS volumes and data stores, which are classified themselves",
    "aws_sns_topic": "delivers messages, does not store them",
    "aws_ecs_cluster": "a grouping of services; no data",
    "aws_service_discovery_private_dns_namespace": "recreated from code",
    "aws_service_discovery_public_dns_namespace": "recreated from code",
    "aws_service_discovery_http_namespace": "recreated from code",
    "aws_key_pair": "holds only the public key",
    "aws_api_gateway_api_key": "recreated; clients get the new key",
    "aws_cognito_user_pool_domain": "a name for the pool's hosted UI",
    "aws_cognito_user_pool_client": "recreated from code",
    "aws_kms_alias": "a name for a key", "aws_kms_grant": "a permission",
    "aws_s3_bucket_policy": "configuration", "aws_sqs_queue_policy": "configuration",
    "aws_db_subnet_group": "configuration", "aws_db_parameter_group": "configuration",
    "aws_db_option_group": "configuration", "aws_rds_cluster_parameter_group": "configuration",
}

# --------------------------------------------------------------------------------------------- name rules
# (rule name, regex on the type name, class): first match wins.
RULES: tuple[tuple[str, str, str], ...] = (
    ("stateless: relation/permission/configuration suffix",
     r"_(association|associations|attachment|attachments|policy|policies|permission|permissions|rule|rules|"
     r"rule_group|configuration|config|settings|setting|options|option|subscription|accepter|acceptance|tag|tags|"
     r"exclusive|membership|memberships|member|filter|route|routes|target|targets|integration|integration_response|"
     r"response|mapping|authorization|authorizer|alias|grant|assignment|propagation|registration|notification|"
     r"logging|webhook|listener|alarm|dashboard|schedule|trigger|invitation|invitation_accepter|"
     r"delegation|share|sharing|peering|principal|enabler|enablement|account|admin_account|organization_admin_account|"
     r"preferences|status|default|attributes|defaults|version_attachment|link|entry|deployment|stage|"
     r"method|method_response|model|resource|usage_plan|usage_plan_key|documentation_part|documentation_version|"
     r"request_validator|gateway_response|base_path_mapping|action|actions|control|selection|plan|"
     r"template|launch_template|workflow|pipeline|job|job_definition|job_queue|task_definition|service|function|"
     r"function_url|layer_version|event_source_mapping|provisioned_concurrency_config|code_signing_config|"
     r"alarm|metric_filter|metric_stream|composite_alarm|query_definition|insight_rule|event_bus|connection|"
     r"api_destination|endpoint|endpoints|endpoint_service|gateway|interface|address|eip|ip|ipset|ip_set|"
     r"regex_pattern_set|set|acl|acl_rule|web_acl|firewall|certificate_validation|identity|verification|"
     r"feedback|record|records|health_check|hosted_zone_dnssec|query_log|resolver_rule|resolver_endpoint|"
     r"distribution|origin_access_identity|origin_access_control|cache_policy|function|key_group|public_key|"
     r"monitor|monitoring|notification_channel|contact|contact_channel|channel|destination|pool|role|user|group|"
     r"group_membership|profile|instance_profile|login_profile|saml_provider|openid_connect_provider|provider|"
     r"server_certificate|signing_certificate|ssh_key|service_specific_credential|virtual_mfa_device|"
     r"subnet|vpc|vpc_endpoint|route_table|network_acl|security_group|network_interface|nat_gateway|"
     r"internet_gateway|flow_log|dhcp_options|prefix_list|transit_gateway|customer_gateway|vpn_connection|"
     r"vpn_gateway|placement_group|capacity_reservation|fleet|spot_fleet_request|spot_instance_request|"
     r"autoscaling_group|lifecycle_hook|scaling_policy|scheduled_action|warm_pool|traffic_source|"
     r"lb|alb|elb|target_group|listener_certificate|trust_store|app|application|environment|"
     r"project|report_group|source_credential|build|fleet|image_recipe|component|infrastructure_configuration|"
     r"distribution_configuration|container_recipe|lifecycle_policy|workspace|studio|portfolio|product|"
     r"constraint|budget|budget_action|anomaly_monitor|anomaly_subscription|category|definition|document|"
     r"maintenance_window|maintenance_window_target|maintenance_window_task|patch_baseline|patch_group|"
     r"activation|resource_data_sync|detector|detector_feature|finding_filter|standards_subscription|"
     r"insight|hub|product_subscription|recorder|recorder_status|delivery_channel|aggregator|"
     r"aggregate_authorization|conformance_pack|remediation_configuration|trail|selector|"
     r"state_machine|activity|rest_api|api|domain_name|vpc_link|route_response|integration|"
     r"topic|topic_policy|topic_subscription|platform_application|sms_preferences|data_protection_policy|"
     r"capacity_provider|cluster_capacity_providers|task_set|account_setting_default|"
     r"addon|node_group|fargate_profile|identity_provider_config|access_entry|access_policy_association|"
     r"pod_identity_association|suppression|receipt_rule|receipt_rule_set|receipt_filter|"
     r"configuration_set|event_destination|email_identity|domain_identity|domain_dkim|domain_mail_from|"
     r"email_identity_policy|tracking_options|contact_list|identity_notification_topic|"
     r"web_acl_association|web_acl_logging_configuration|rate_based_rule|byte_match_set|size_constraint_set|"
     r"sql_injection_match_set|xss_match_set|geo_match_set|regex_match_set|"
     r"parameter_group|subnet_group|option_group|security_group_rule|proxy|proxy_endpoint|proxy_target|"
     r"proxy_default_target_group|event_subscription|export_task|integration|"
     r"user_group|acl|shard|custom_routing_accelerator|accelerator|cross_account_attachment|controls|"
     r"public_access_block|versioning|rotation|protection|canary|service_network|stack_instances|"
     r"state|credit_specification|console_access|analyzer|consumer)$",
     "stateless"),
    ("stateful: data-store name",
     r"_(table|tables|database|databases|db|bucket|buckets|volume|volumes|snapshot|snapshot_copy|snapshots|"
     r"file_system|filesystem|vault|repository|stream|queue|ledger|keyspace|broker|collection|index|disk|"
     r"backup|backups|archive|secret|secret_version|parameter|key|keys|key_store|certificate_authority|"
     r"user_pool|log_group|data_store|datastore|store|cluster|cluster_instance|db_instance|instance|"
     r"replication_group|cache|namespace|domain|directory|zone|ledger|graph|dataset|corpus|model_package|"
     r"feature_group|image|ami|catalog|lake|warehouse|workgroup)$",
     "stateful"),
)
_RULES = tuple((name, re.compile(rx), cls) for name, rx, cls in RULES)
DEFAULT = ("default: no rule matched; treated as data-bearing until reviewed", "stateful")


def classify(rtype: str) -> tuple[str, str]:
    """``(class, rule)`` of one resource type."""
    if rtype in STATEFUL:
        return "stateful", f"override: {STATEFUL[rtype]}"
    if rtype in STATELESS:
        return "stateless", f"override: {STATELESS[rtype]}"
    for name, rx, cls in _RULES:
        if rx.search(rtype):
            return cls, f"rule: {name}"
    return DEFAULT[1], DEFAULT[0]


# --------------------------------------------------------------------------------------------- rendering
def digest_from_schema(schema: dict) -> dict:
    try:
        rs = schema["provider_schemas"][PROVIDER]["resource_schemas"]
    except (KeyError, TypeError):
        raise SystemExit(f"not a `terraform providers schema -json` output with {PROVIDER}") from None
    types = {}
    for t in sorted(rs):
        attrs = (rs[t].get("block") or {}).get("attributes") or {}
        types[t] = {"taggable": "tags" in attrs and "tags_all" in attrs}
    return {"provider": PROVIDER, "version": VERSION, "resource_types": types}


def render_digest(digest: dict) -> str:
    lines = ["{", f'  "provider": {json.dumps(digest["provider"])},', f'  "version": {json.dumps(digest["version"])},',
             f'  "generated_by": {json.dumps(COMMAND + " (terraform providers schema -json)")},',
             '  "resource_types": {']
    items = list(digest["resource_types"].items())
    for i, (t, v) in enumerate(items):
        lines.append(f'    {json.dumps(t)}: {json.dumps(v, sort_keys=True)}' + ("," if i < len(items) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def render_classes(digest: dict) -> str:
    lines = ["{", f'  "provider": {json.dumps(digest["provider"])},', f'  "version": {json.dumps(digest["version"])},',
             f'  "generated_by": {json.dumps(COMMAND + " (terraform providers schema -json)")},', '  "types": {']
    items = list(digest["resource_types"])
    for i, t in enumerate(items):
        cls, rule = classify(t)
        lines.append(f'    {json.dumps(t)}: [{json.dumps(cls)}, {json.dumps(rule)}]' + ("," if i < len(items) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def render_taggable(digest: dict) -> str:
    types = [t for t, v in digest["resource_types"].items() if v["taggable"]]
    body = "".join(f"    {t!r},\n" for t in types)
    return (f'"""Resource types of the AWS provider {digest["version"]} that take `tags` and compute `tags_all`.\n\n'
            f"Generated by `{COMMAND}` from `terraform providers schema -json`\n"
            f"of the pinned provider (do not edit; `python tools/gen_resource_classes.py --check` fails when this file\n"
            f"and the committed schema digest tools/aws_provider_types.json disagree, `--from-terraform --check` when\n"
            f"either and the provider do).\n"
            f'Data only: no import of any project package.\n"""\n\n'
            f"TAGGABLE_TYPES: frozenset[str] = frozenset(\n {{\n{body}}})\n")


def schema_from_terraform() -> dict:
    """``terraform providers schema -json`` of the pinned provider, installed through the project's CLI config."""
    sys.path.insert(0, str(ROOT))
    from pipeline.tfconfig import find_terraform, terraform_env

    with tempfile.TemporaryDirectory(prefix="gen-resource-classes-") as tmp:
        work = Path(tmp)
        (work / "main.tf.json").write_text(json.dumps({"terraform": {"required_providers": {
            "aws": {"source": "hashicorp/aws", "version": VERSION}}}}))
        # the project's build folder: its plugin cache is shared with the pipeline's runs
        env = terraform_env(Path(os.environ.get("PLATFORM_BUILD_DIR", ROOT / ".build")).resolve())
        tf = find_terraform(env.get("PATH"))
        for argv in ([tf, "init", "-input=false", "-backend=false"], [tf, "providers", "schema", "-json"]):
            r = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, check=False)
            if r.returncode:
                raise SystemExit(f"{' '.join(argv[1:])} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
        return json.loads(r.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--schema", type=Path, help="a saved `terraform providers schema -json` output")
    src.add_argument("--from-terraform", action="store_true", help="run Terraform against the provider mirror")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when a committed file differs")
    args = ap.parse_args(argv)
    if args.schema:
        digest = digest_from_schema(json.loads(args.schema.read_text()))
    elif args.from_terraform:
        digest = digest_from_schema(schema_from_terraform())
    else:
        digest = json.loads(DIGEST.read_text())
    outputs = {DIGEST: render_digest(digest), CLASSES: render_classes(digest), TAGGABLE: render_taggable(digest)}
    stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"{p.relative_to(ROOT)}: differs from what tools/gen_resource_classes.py generates; run it",
                  file=sys.stderr)
        return 1 if stale else 0
    for p, text in outputs.items():
        if p in stale:
            p.write_text(text)
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
