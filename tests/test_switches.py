"""Tier and component switches (``enabled`` / ``enable_*``): what each one leaves out of the synthesized JSON, the
outputs that disappear with their tier, the settings that are refused, and the commands that refuse an environment
without the tier they need.

Every shape is synthesized once, in one process, for the aws target (the complete resource set). The shipped
environments keep every switch on; that their JSON did not change is proven by the byte comparison described in
docs/modules.md (and by every other unit test on dev/staging/prod).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import envs
from envs import EnvironmentSettings, SettingsError

ROOT = Path(__file__).resolve().parents[1]

#: The common head of every test settings file (a low-protection environment in its own address range).
HEAD = """
account_id = "111111111111"
region = "eu-west-1"
dr_region = "eu-central-1"
protection_level = "low"

[tags]
project = "webplatform"
owner = "platform-team@example.com"
cost_center = "CC-1001"

[network]
az_count = 1
nat_strategy = "single"
"""
CERT = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-4000-8000-000000000001"

#: name -> (vpc_cidr, settings body)
SHAPES: dict[str, tuple[str, str]] = {
    # network + one log group (flow logs) + one bucket (the data tier's log bucket)
    "small": ("10.40.0.0/16", """
[app]
enabled = false
[data.storage]
data_buckets = []
[data.database]
enabled = false
[data.cache]
enabled = false
[data.cdn]
enabled = false
[data.backup]
enabled = false
[data.dr]
enabled = false
[security]
enabled = false
[observability]
enabled = false
[integration]
enabled = false
"""),
    # network + the app tier alone
    "apponly": ("10.41.0.0/16", f"""
[app]
certificate_arn = "{CERT}"
[data]
enabled = false
[security]
enabled = false
[observability]
enabled = false
[integration]
enabled = false
"""),
    # no app tier, a CDN with its static bucket, the security baseline with the WAF: only the CloudFront ACL
    "edge": ("10.42.0.0/16", """
[app]
enabled = false
[data.database]
enabled = false
[data.cache]
enabled = false
[data.backup]
enabled = false
[data.dr]
enabled = false
[security]
manage_account_baseline = false
[observability]
enabled = false
[integration]
enabled = false
"""),
    # every tier on, with the component switches off
    "partsoff": ("10.43.0.0/16", f"""
[app]
certificate_arn = "{CERT}"
[data.storage]
data_buckets = ["app"]
[data.database]
enabled = false
[data.cache]
enabled = false
[data.cdn]
enabled = false
[data.backup]
enabled = false
[data.dr]
enabled = false
[security]
enable_waf = false
enable_audit = false
enable_threat_detection = false
enable_incident_response = false
[observability]
enabled = false
[integration]
enable_service_network = false
enable_interface_endpoints = false
"""),
}


def shape_text(name: str, body: str | None = None, cidr: str | None = None) -> str:
    """The TOML of one test environment: ``name``'s shape (or ``body``)."""
    default_cidr, default_body = SHAPES.get(name, ("10.49.0.0/16", ""))
    head = HEAD.replace("[network]\n", f"[network]\nvpc_cidr = \"{cidr or default_cidr}\"\n")
    return f'name = "{name}"\n{head}{default_body if body is None else body}'


def shape(name: str) -> EnvironmentSettings:
    return EnvironmentSettings.model_validate(tomllib.loads(shape_text(name)))


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every shape synthesized once (one app, one process) for the aws target: name -> cdk.tf.json."""
    from envs.target import AWS
    from pipeline.synth import synthesize

    out = tmp_path_factory.mktemp("switches") / "cdktf.out"
    result = synthesize({name: shape(name) for name in SHAPES}, AWS, out, commit="0123456789ab")
    return {name: json.loads(path.read_text()) for name, path in result.stacks.items()}


def types(doc: dict[str, Any]) -> dict[str, int]:
    return {rtype: len(items) for rtype, items in doc.get("resource", {}).items()}


def of(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return doc.get("resource", {}).get(rtype, {})


NETWORK_TYPES = {"aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_eip", "aws_nat_gateway", "aws_route_table",
                 "aws_route", "aws_route_table_association", "aws_network_acl", "aws_network_acl_rule",
                 "aws_default_security_group", "aws_vpc_endpoint", "aws_db_subnet_group", "aws_flow_log",
                 "aws_iam_role", "aws_iam_role_policy", "aws_cloudwatch_log_group", "aws_kms_key", "aws_kms_alias"}
BUCKET_TYPES = {"aws_s3_bucket", "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                "aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy",
                "aws_s3_bucket_lifecycle_configuration"}
NETWORK_OUTPUTS = {"vpc_id", "private_subnet_ids", "database_subnet_group"}


def test_small_environment_is_a_network_a_log_group_and_a_bucket(synthesized: dict[str, Any]) -> None:
    doc = synthesized["small"]
    assert set(types(doc)) == NETWORK_TYPES | BUCKET_TYPES, sorted(set(types(doc)) ^ (NETWORK_TYPES | BUCKET_TYPES))
    (bucket,) = of(doc, "aws_s3_bucket").values()
    assert bucket["bucket"] == "webplatform-small-logs-${data.aws_caller_identity.caller.account_id}-eu-west-1"
    (group,) = of(doc, "aws_cloudwatch_log_group").values()
    assert group["name"] == "/vpc/webplatform-small/flow-logs"
    assert set(doc["output"]) == NETWORK_OUTPUTS
    # The keys and the bucket stay secure without the baseline: customer-managed KMS, every public access flag.
    (sse,) = of(doc, "aws_s3_bucket_server_side_encryption_configuration").values()
    assert sse["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    (pab,) = of(doc, "aws_s3_bucket_public_access_block").values()
    assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                        "restrict_public_buckets"))


def test_app_only_environment(synthesized: dict[str, Any]) -> None:
    doc = synthesized["apponly"]
    t = types(doc)
    assert t["aws_lb"] == 1 and t["aws_autoscaling_group"] == 2 and t["aws_lb_target_group"] == 2
    absent = [x for x in t if x.startswith(("aws_wafv2", "aws_api_gateway", "aws_db_", "aws_elasticache",
                                             "aws_cloudfront", "aws_backup", "aws_route53", "aws_sns",
                                             "aws_cloudtrail", "aws_guardduty", "aws_vpclattice"))
              and x != "aws_db_subnet_group"]
    assert not absent, absent
    # the load balancer's access-log bucket and the app tier's artifact bucket (the workload it runs)
    assert sorted(b["bucket"] for b in of(doc, "aws_s3_bucket").values()) == \
        ["webplatform-apponly-alb-logs-${data.aws_caller_identity.caller.account_id}",
         "webplatform-apponly-artifacts-${data.aws_caller_identity.caller.account_id}-eu-west-1"]
    assert set(doc["output"]) == NETWORK_OUTPUTS | {"alb_dns_name", "alb_arn", "https_listener_arn",
                                                     "app_target_group_arns", "app_asg_names"}
    # no alerting topics: the app tier's alarms notify nobody (their only actions are scaling policies)
    actions = [x for a in of(doc, "aws_cloudwatch_metric_alarm").values() for x in a.get("alarm_actions", [])]
    assert actions and all(x.startswith("${aws_autoscaling_policy.") for x in actions), actions


def test_a_waf_is_created_only_with_something_to_protect(synthesized: dict[str, Any]) -> None:
    # small/apponly: the baseline is off; edge: no load balancer, so only the CloudFront ACL
    assert not [t for t in types(synthesized["small"]) if t.startswith("aws_wafv2")]
    edge = synthesized["edge"]
    acls = of(edge, "aws_wafv2_web_acl")
    assert [a["scope"] for a in acls.values()] == ["CLOUDFRONT"], acls.keys()
    assert not of(edge, "aws_wafv2_web_acl_association")
    assert {s["scope"] for s in of(edge, "aws_wafv2_ip_set").values()} == {"CLOUDFRONT"}
    (distribution,) = of(edge, "aws_cloudfront_distribution").values()
    (acl_name,) = acls
    assert distribution["web_acl_id"] == f"${{aws_wafv2_web_acl.{acl_name}.arn}}"
    assert "waf_regional_acl_arn" not in edge["output"] and "cdn_distribution_id" in edge["output"]
    (dashboard,) = [d for d in of(edge, "aws_cloudwatch_dashboard").values()
                    if d["dashboard_name"].endswith("security-compliance")]
    metrics = [m for w in json.loads(dashboard["dashboard_body"])["widgets"] if w["type"] == "metric"
               for m in w["properties"]["metrics"]]
    assert metrics and all("webplatform-edge-cloudfront" in m for m in metrics), metrics


def test_security_and_data_components_switch_off(synthesized: dict[str, Any]) -> None:
    doc = synthesized["partsoff"]
    t = types(doc)
    gone = ("aws_wafv2_web_acl", "aws_wafv2_ip_set", "aws_wafv2_web_acl_association", "aws_cloudtrail",
            "aws_config_configuration_recorder", "aws_guardduty_detector", "aws_securityhub_account",
            "aws_macie2_account", "aws_inspector2_enabler", "aws_ssm_document", "aws_backup_vault",
            "aws_backup_plan", "aws_route53_zone", "aws_route53_health_check", "aws_db_instance",
            "aws_elasticache_replication_group", "aws_cloudfront_distribution", "aws_vpclattice_service_network",
            "aws_synthetics_canary", "aws_budgets_budget", "aws_xray_sampling_rule")
    assert not [x for x in gone if x in t], [x for x in gone if x in t]
    # the IAM part of the baseline, the compliance dashboard, the alerting topics (the baseline routes findings
    # there) and the API stay
    assert t["aws_sns_topic"] >= 2 and t["aws_api_gateway_rest_api"] == 1 and "aws_iam_policy" in t
    buckets = sorted(b["bucket"].split("-$")[0] for b in of(doc, "aws_s3_bucket").values())
    assert buckets == ["webplatform-partsoff-alb-logs", "webplatform-partsoff-app", "webplatform-partsoff-artifacts",
                       "webplatform-partsoff-logs"], \
        buckets
    # no DR-region key without anything in the DR region
    assert not [k for k, v in of(doc, "aws_kms_key").items() if v.get("provider") == "aws.dr"]
    outputs = set(doc["output"])
    assert {"security_dashboard", "permissions_boundary_arn", "api_rest_api_id", "alb_arn"} <= outputs
    assert not outputs & {"waf_regional_acl_arn", "audit_bucket", "cloudtrail_arn", "containment_document",
                          "backup_vault_arn", "db_endpoint", "static_bucket", "cdn_distribution_id"}
    # the security dashboard has no WAF widget without a WAF
    (dashboard,) = [d for d in of(doc, "aws_cloudwatch_dashboard").values()
                    if d["dashboard_name"].endswith("security-compliance")]
    assert not [w for w in json.loads(dashboard["dashboard_body"])["widgets"] if w["type"] == "metric"]


def test_outputs_never_reference_an_absent_resource(synthesized: dict[str, Any]) -> None:
    import re

    for name, doc in synthesized.items():
        present = {f"{t}.{n}" for t, items in doc.get("resource", {}).items() for n in items}
        for output, body in doc.get("output", {}).items():
            for ref in re.findall(r"\$\{(aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)", json.dumps(body)):
                assert ref in present, f"{name}: output {output} references {ref}, which is not synthesized"


# -- validation ---------------------------------------------------------------------------------------------------

def write(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(shape_text(name, body))
    return path


REFUSED = [
    ("api", "[app]\nenabled = false\n", "integration.enable_api_gateway", "app.enabled is false"),
    ("cdnorigin", "[data.storage]\ndata_buckets = [\"app\"]\n", "data", "no \"static\" bucket"),
    ("twice", "[data.storage]\ndata_buckets = [\"app\", \"app\"]\n", "data.storage.data_buckets", "twice"),
]


@pytest.mark.parametrize("name,body,field,words", REFUSED, ids=[r[0] for r in REFUSED])
def test_conflicting_switches_are_refused(tmp_path: Path, name: str, body: str, field: str, words: str) -> None:
    path = write(tmp_path, name, body)
    with pytest.raises(SettingsError) as caught:
        envs.load_file(path)
    assert any(p.file == str(path) and p.field == field and words in p.message for p in caught.value.problems), \
        [str(p) for p in caught.value.problems]


def test_switched_off_parts_are_accepted_without_their_dependants(tmp_path: Path) -> None:
    # no app tier and no API: fine; the API switch is ignored when the layer is off
    envs.load_file(write(tmp_path, "noapi", "[app]\nenabled = false\n[integration]\nenable_api_gateway = false\n"))
    envs.load_file(write(tmp_path, "nolayer", "[app]\nenabled = false\n[integration]\nenabled = false\n"))
    # no static bucket is fine without a CDN, and without the data tier
    envs.load_file(write(tmp_path, "nocdn", "[data.storage]\ndata_buckets = []\n[data.cdn]\nenabled = false\n"))
    envs.load_file(write(tmp_path, "nodata", "[data]\nenabled = false\n[data.storage]\ndata_buckets = []\n"))


def test_cli_refuses_an_api_without_app_tier_with_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "api", "[app]\nenabled = false\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(tmp_path), "synth",
                           "--outdir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"{tmp_path / 'api.toml'}: integration.enable_api_gateway: the API Gateway proxies to the app tier" \
        in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize("argv,field", [
    (["release", "--env", "small", "--version", "v2", "--target", "aws"], "app.enabled"),
    (["sla", "report", "--env", "small", "--target", "aws"], "observability.enabled"),
    (["runbook", "--env", "nodata"], "data.enabled"),
], ids=["release", "sla", "runbook"])
def test_commands_refuse_an_environment_without_their_tier(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           argv: list[str], field: str) -> None:
    import main

    (tmp_path / "small.toml").write_text(shape_text("small"))
    write(tmp_path, "nodata", "[data]\nenabled = false\n")
    code = main.cli(["--envs-dir", str(tmp_path), *argv, *(["--output", str(tmp_path / "x.md")]
                                                             if argv[0] == "runbook" else [])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{field} = false" in err and ".toml" in err
    assert not (tmp_path / "x.md").exists()


def test_env_sync_refuses_an_environment_without_a_data_tier() -> None:
    from pipeline.envsync import SyncRefused, plan_sync

    source = shape("small")
    target = EnvironmentSettings.model_validate(tomllib.loads(shape_text("nodata", "[data]\nenabled = false\n")))
    with pytest.raises(SyncRefused, match=r"small has no database \(data.database.enabled = false\)"):
        plan_sync(source, target, None)
    with pytest.raises(SyncRefused, match=r"nodata has no data tier \(data.enabled = false\): nowhere to restore"):
        plan_sync(EnvironmentSettings.model_validate(tomllib.loads(shape_text("withdb", ""))), target, None)
