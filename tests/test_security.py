"""Security baseline (issue 6) on the synthesized JSON: WAF, IAM, KMS key policies, audit, threat detection,
incident response, the compliance dashboard, the local-target subset, and rejected settings."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import envs
from envs import SettingsError
from modules.core.base import ModuleSettingsError
from tests.conftest import primary_region, resources

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("dev", "staging", "prod")
MANAGED_GROUPS = {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet",
                  "AWSManagedRulesLinuxRuleSet", "AWSManagedRulesAmazonIpReputationList",
                  "AWSManagedRulesAnonymousIpList"}


@pytest.fixture(scope="session")
def synth_aws(synth_aws: dict[str, Any]) -> dict[str, Any]:
    """The primary region's resources (prod's pilot light in the DR region is tests/test_dr.py's)."""
    return {env: primary_region(doc) for env, doc in synth_aws.items()}


def ours(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """Resources of the security module (construct path ``<env>/security/...``)."""
    return {n: r for n, r in resources(doc, rtype).items() if n.startswith("security_")}


def one(doc: dict[str, Any], rtype: str, contains: str = "") -> dict[str, Any]:
    found = [r for n, r in ours(doc, rtype).items() if contains in n]
    assert len(found) == 1, f"{rtype} *{contains}*: {len(found)} found"
    return found[0]


def statements(policy: str | dict[str, Any]) -> list[dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


# -- policies in every environment --------------------------------------------------------------------------------

def all_policy_documents(doc: dict[str, Any]) -> list[tuple[str, str]]:
    docs = []
    for rtype in ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_group_policy", "aws_iam_user_policy"):
        docs += [(f"{rtype}.{n}", r["policy"]) for n, r in resources(doc, rtype).items()]
    for n, role in resources(doc, "aws_iam_role").items():
        docs += [(f"aws_iam_role.{n}.inline_policy", p["policy"]) for p in as_list(role.get("inline_policy", []))
                 if isinstance(p, dict) and p.get("policy")]
    return docs


@pytest.mark.parametrize("env", ENVS)
def test_no_iam_policy_allows_star_on_star(synth_aws: dict, env: str) -> None:
    docs = all_policy_documents(synth_aws[env])
    assert len(docs) >= 8, "the stack has IAM policies; the test must see them"
    for address, policy in docs:
        for st in statements(policy):
            if st.get("Effect") != "Allow":
                continue
            actions, res = as_list(st.get("Action", [])), as_list(st.get("Resource", []))
            assert not ({"*", "*:*"} & set(actions) and "*" in res), f"{address}: {st}"
            assert "NotAction" not in st, f"{address}: an Allow with NotAction grants almost everything: {st}"


@pytest.mark.parametrize("env", ENVS)
def test_every_kms_key_policy_names_its_services(synth_aws: dict, settings: dict, env: str) -> None:
    from modules.stack.platform import key_services

    expected = key_services(settings[env].region)
    keys = resources(synth_aws[env], "aws_kms_key")
    seen = set()
    for name, key in keys.items():
        data_class = key["description"].rsplit(" for ", 1)[1]
        seen.add(data_class)
        sts = statements(key["policy"])
        # the CloudFront statement a key gets for the distribution reading its bucket (PLAT_AWS_001) is scoped to
        # that distribution, not a data-class service
        oac = [st for st in sts if st.get("Sid") == "CloudFrontOriginAccessControl"]
        assert all(set(st["Condition"]["StringEquals"]) == {"AWS:SourceArn"} for st in oac), name
        sts = [st for st in sts if st not in oac]
        principals = {p for st in sts for p in as_list(st.get("Principal", {}).get("Service", []))
                      if isinstance(st.get("Principal"), dict)}
        via = {v for st in sts for v in as_list(st.get("Condition", {}).get("StringEquals", {})
                                                .get("kms:ViaService", []))}
        assert principals or via, f"{name}: the key policy names no service"
        if data_class in expected:
            assert principals == set(expected[data_class].principals), name
            assert via == set(expected[data_class].via), name
        # nothing broader: no wildcard principal; in the data-class keys (modules/security/keys.py) the account root
        # administers without using the key, and the account uses it only through the named services
        for st in sts:
            assert st.get("Principal") != "*" and st.get("Principal", {}).get("AWS") != "*", (name, st)
            if data_class not in expected:
                continue
            if st["Sid"] == "AccountAdministration":
                assert "kms:*" not in st["Action"] and "kms:Decrypt" not in st["Action"], st
            elif "AWS" in st.get("Principal", {}):
                assert "kms:ViaService" in st["Condition"]["StringEquals"], (name, st)
        assert key["enable_key_rotation"] is True
    assert {"logs", "data", "backups", "secrets", "alerts"} <= seen


def test_cloudtrail_and_logs_grants_are_scoped_to_the_account(synth_aws: dict) -> None:
    (logs,) = [k for k in resources(synth_aws["prod"], "aws_kms_key").values() if k["description"].endswith("logs")]
    by_principal = {as_list(st["Principal"]["Service"])[0]: st for st in statements(logs["policy"])
                    if st["Sid"].startswith("ServiceUse")}
    assert "kms:EncryptionContext:aws:cloudtrail:arn" in by_principal["cloudtrail.amazonaws.com"]["Condition"][
        "StringLike"]
    assert "kms:EncryptionContext:aws:logs:arn" in by_principal["logs.us-east-1.amazonaws.com"]["Condition"]["ArnLike"]
    assert "aws:SourceAccount" in by_principal["config.amazonaws.com"]["Condition"]["StringEquals"]


# -- WAF ------------------------------------------------------------------------------------------------------------

def waf_rules(acl: dict) -> list[dict]:
    """An ACL's rules in Terraform block form, read from its ``rule_json`` (the WAFv2 API's Rule list), after checking
    that the JSON uses only API field names (the provider would silently drop an unknown one)."""
    from modules.security.waf import API_FIELDS, rules_from_api

    assert "rule" not in acl
    api = json.loads(acl["rule_json"])
    allowed = set(API_FIELDS.values()) | {"Statements"}

    def keys(value: object) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()
    assert keys(api) <= allowed, keys(api) - allowed
    return rules_from_api(api)


@pytest.mark.parametrize("env", ENVS)
def test_waf_acls_rules_and_attachments(synth_aws: dict, settings: dict, env: str) -> None:
    doc, sec = synth_aws[env], settings[env].security
    acls = ours(doc, "aws_wafv2_web_acl")
    assert sorted(a["scope"] for a in acls.values()) == ["CLOUDFRONT", "REGIONAL"]
    for name, acl in acls.items():
        assert acl.get("provider") == ("aws.us_east_1" if acl["scope"] == "CLOUDFRONT" else None), name
        acl_rules = waf_rules(acl)
        rules = {r["name"]: r for r in acl_rules}
        assert MANAGED_GROUPS <= set(rules)
        for group in MANAGED_GROUPS:
            assert rules[group]["statement"]["managed_rule_group_statement"] == {"name": group, "vendor_name": "AWS"}
            assert rules[group]["override_action"] == {"none": {}}
        rate = rules["rate-per-ip"]["statement"]["rate_based_statement"]
        assert rate == {"limit": sec.waf_rate_limit, "aggregate_key_type": "IP",
                        "evaluation_window_sec": sec.waf_rate_window_seconds}
        assert ("geo-block" in rules) == bool(sec.waf_blocked_countries)
        assert rules["ip-allow"]["action"] == {"allow": {}}
        assert "ip_set_reference_statement" in rules["ip-deny"]["statement"]
        for r in acl_rules:
            assert r["visibility_config"]["cloudwatch_metrics_enabled"] is True, r["name"]
            assert r["visibility_config"]["sampled_requests_enabled"] is True, r["name"]
            if "block" in r.get("action", {}):
                assert r["action"]["block"]["custom_response"]["custom_response_body_key"] == "blocked"
        assert [b["key"] for b in acl["custom_response_body"]] == ["blocked"]
        assert json.loads(acl["custom_response_body"][0]["content"])["status"] == 403
        assert sorted(r["priority"] for r in acl_rules) == list(range(len(acl_rules)))
    # logging: one configuration per ACL, to an aws-waf-logs-* group with a KMS key, headers redacted
    groups = ours(doc, "aws_cloudwatch_log_group")
    for conf in ours(doc, "aws_wafv2_web_acl_logging_configuration").values():
        assert sorted(f["single_header"]["name"] for f in conf["redacted_fields"]) == ["authorization", "cookie"]
        (dest,) = conf["log_destination_configs"]
        group = groups[dest.split(".")[1]]
        assert group["name"].startswith("aws-waf-logs-") and group["kms_key_id"].startswith("${aws_kms_key.")
    assert len(ours(doc, "aws_wafv2_web_acl_logging_configuration")) == 2
    # attachments: the ALB (association) and the CloudFront distribution (web_acl_id)
    (assoc,) = ours(doc, "aws_wafv2_web_acl_association").values()
    assert assoc["resource_arn"].startswith("${aws_lb.") and "regional-acl" in assoc["web_acl_arn"]
    for dist in resources(doc, "aws_cloudfront_distribution").values():
        assert "cloudfront-acl" in dist["web_acl_id"] and dist["web_acl_id"].endswith(".arn}")
    assert not ours(doc, "aws_shield_protection") if not sec.enable_shield_advanced else True


def test_waf_geo_ip_sets_and_shield_from_settings() -> None:
    from cdktf import Testing

    from modules.security.waf import Waf, WafSettings

    stack, ctx, us_east_1 = mini_stack()
    waf = Waf(stack, "waf", ctx, WafSettings(
        logs_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/a", cloudfront_logs_kms_key_arn="arn:k",
        blocked_countries=("KP", "IR"), allowed_cidrs=("203.0.113.0/24", "2001:db8::/32"),
        blocked_cidrs=("198.51.100.0/24",), enable_shield_advanced=True, rate_limit=500),
        us_east_1=us_east_1, alb_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1")
    doc = json.loads(Testing.synth(stack))
    acl = next(a for a in resources(doc, "aws_wafv2_web_acl").values() if a["scope"] == "REGIONAL")
    rules = {r["name"]: r for r in waf_rules(acl)}
    assert rules["geo-block"]["statement"] == {"geo_match_statement": {"country_codes": ["KP", "IR"]}}
    assert len(rules["ip-allow"]["statement"]["or_statement"]["statement"]) == 2  # IPv4 and IPv6 sets
    api = {r["Name"]: r for r in json.loads(acl["rule_json"])}  # the API's spelling where it is not the blocks'
    assert len(api["ip-allow"]["Statement"]["OrStatement"]["Statements"]) == 2
    assert api["ip-allow"]["Statement"]["OrStatement"]["Statements"][0]["IPSetReferenceStatement"]["ARN"]
    assert api["rate-per-ip"]["Statement"] == {"RateBasedStatement": {
        "Limit": 500, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}}
    assert api["AWSManagedRulesSQLiRuleSet"]["OverrideAction"] == {"None": {}}
    assert api["ip-deny"]["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 403,
                                                                    "CustomResponseBodyKey": "blocked"}}}
    sets = {s["name"]: s for s in resources(doc, "aws_wafv2_ip_set").values()}
    assert sets["p-t-regional-allow-v6"]["addresses"] == ["2001:db8::/32"]
    assert sets["p-t-regional-deny-v4"]["addresses"] == ["198.51.100.0/24"]
    assert list(resources(doc, "aws_shield_subscription").values())[0]["auto_renew"] == "ENABLED"
    assert len(resources(doc, "aws_shield_protection")) == 1
    assert rules["rate-per-ip"]["statement"]["rate_based_statement"]["limit"] == 500
    assert waf.cloudfront_acl_arn is not None


def test_waf_rejects_overlapping_ip_lists() -> None:
    from modules.security.waf import WafSettings

    with pytest.raises(ModuleSettingsError, match="`blocked_cidrs` .* overlap `allowed_cidrs`"):
        WafSettings(logs_kms_key_arn="k", cloudfront_logs_kms_key_arn="k", allowed_cidrs=("10.0.0.0/8",),
                    blocked_cidrs=("10.1.0.0/16",))


# -- IAM ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_permissions_boundary_on_every_workload_role(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    boundary_name, boundary = next((n, p) for n, p in ours(doc, "aws_iam_policy").items()
                                   if p["name"].endswith("-permissions-boundary"))
    ref = f"${{aws_iam_policy.{boundary_name}.arn}}"
    exempt = {"ci-deploy", "ci-plan", "security-audit"}
    roles = resources(doc, "aws_iam_role")
    assert len(roles) >= 5
    for name, role in roles.items():
        if any(role["name"].endswith(f"-{e}") for e in exempt):
            assert "permissions_boundary" not in role, name
        else:
            assert role.get("permissions_boundary") == ref, f"{name} ({role['name']}) has no boundary"
    sts = {st["Sid"]: st for st in statements(boundary["policy"])}
    assert "iam:*" not in sts["PlatformServicesInThisAccount"]["Action"]
    assert all(":*:*:" in r or r.startswith("arn:${") for r in sts["PlatformServicesInThisAccount"]["Resource"])
    assert sts["ProtectAuditDetectionAndBoundary"]["Effect"] == "Deny"
    assert {"cloudtrail:StopLogging", "guardduty:DeleteDetector", "iam:DeleteRolePermissionsBoundary",
            "config:StopConfigurationRecorder"} <= set(sts["ProtectAuditDetectionAndBoundary"]["Action"])


@pytest.mark.parametrize("env", ENVS)
def test_ci_oidc_roles_audit_role_password_policy_and_mfa(synth_aws: dict, settings: dict, env: str) -> None:
    doc, sec = synth_aws[env], settings[env].security
    (oidc,) = ours(doc, "aws_iam_openid_connect_provider").values()
    assert oidc["url"] == "https://token.actions.githubusercontent.com"
    assert oidc["client_id_list"] == ["sts.amazonaws.com"]
    roles = {r["name"].rsplit("-", 2)[-2] + "-" + r["name"].rsplit("-", 1)[-1]: r
             for r in ours(doc, "aws_iam_role").values()}
    deploy = statements(roles["ci-deploy"]["assume_role_policy"])[0]
    assert deploy["Action"] == "sts:AssumeRoleWithWebIdentity"
    # exact subjects (tests/test_ci_identity.py checks them against the workflows)
    assert deploy["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [f"repo:{sec.ci_github_repository}:environment:{env}"]}}
    plan = statements(roles["ci-plan"]["assume_role_policy"])[0]
    assert plan["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == [
        f"repo:{sec.ci_github_repository}:pull_request"] + [
        f"repo:{sec.ci_github_repository}:ref:refs/heads/{b}" for b in sec.ci_deploy_branches]
    deploy_iam = next(p for p in ours(doc, "aws_iam_role_policy").values() if p["name"] == "platform-iam-with-boundary")
    create = statements(deploy_iam["policy"])[0]
    assert create["Action"] == ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    assert create["Condition"]["StringEquals"]["iam:PermissionsBoundary"].endswith(
        f":policy/{settings[env].name_prefix}-permissions-boundary")
    audit = statements(roles["security-audit"]["assume_role_policy"])[0]
    assert audit["Principal"]["AWS"].endswith(f":iam::{sec.audit_account_id}:root")
    assert audit["Condition"] == {"StringEquals": {"sts:ExternalId": sec.audit_external_id}}
    (pw,) = ours(doc, "aws_iam_account_password_policy").values()
    assert pw["minimum_password_length"] == sec.password_min_length >= 14
    assert pw["password_reuse_prevention"] == sec.password_reuse_prevention
    assert all(pw[k] is True for k in ("require_symbols", "require_numbers", "require_uppercase_characters",
                                       "require_lowercase_characters"))
    mfa = next(p for p in ours(doc, "aws_iam_policy").values() if p["name"].endswith("-force-mfa"))
    deny = next(st for st in statements(mfa["policy"]) if st["Effect"] == "Deny")
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    assert "iam:EnableMFADevice" in deny["NotAction"] and deny["Resource"] == "*"
    assert any("${aws:username}" in r for st in statements(mfa["policy"]) for r in as_list(st.get("Resource", [])))
    groups = {g["name"] for g in ours(doc, "aws_iam_group").values()}
    assert groups == {f"{settings[env].name_prefix}-{g}" for g in sec.human_groups}
    assert len(ours(doc, "aws_iam_group_policy_attachment")) == len(sec.human_groups)


def test_force_mfa_username_variable_survives_terraform(synth_aws: dict) -> None:
    """IAM's ${aws:username} must reach AWS literally: Terraform JSON spells it $${aws:username}."""
    mfa = next(p for p in ours(synth_aws["dev"], "aws_iam_policy").values() if p["name"].endswith("-force-mfa"))
    assert "$${aws:username}" in mfa["policy"]


def test_workload_role_helper_rejects_star_on_star() -> None:
    from modules.security.iam import Iam, IamSettings

    stack, ctx, _ = mini_stack()
    iam = Iam(stack, "iam", ctx, IamSettings())
    with pytest.raises(ModuleSettingsError, match=r"allows action \* on resource \*"):
        iam.workload_role(stack, "bad", name="p-t-bad", service="lambda.amazonaws.com",
                          statements=[{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    with pytest.raises(ModuleSettingsError, match="`audit_account_id` and `audit_external_id`"):
        IamSettings(audit_account_id="999999999999")


# -- audit ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_cloudtrail_trail_and_locked_down_bucket(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    trail = one(doc, "aws_cloudtrail")
    assert trail["is_multi_region_trail"] is True and trail["enable_log_file_validation"] is True
    assert trail["include_global_service_events"] is True and trail["kms_key_id"].startswith("${aws_kms_key.")
    assert trail["cloud_watch_logs_group_arn"].endswith(".arn}:*") and trail["cloud_watch_logs_role_arn"]
    selectors = {s["name"]: s for s in trail["advanced_event_selector"]}
    data = {f["field"]: f for f in selectors["S3 data events of the data buckets"]["field_selector"]}
    assert data["resources.type"]["equals"] == ["AWS::S3::Object"]
    assert len(data["resources.ARN"]["starts_with"]) == 2  # the app and static buckets
    assert all(a.startswith("${aws_s3_bucket.data_storage_") for a in data["resources.ARN"]["starts_with"])
    bucket_ref = trail["s3_bucket_name"].split(".")[1]
    buckets = ours(doc, "aws_s3_bucket")
    assert len(buckets) == 2  # the audit bucket and the bucket of its access logs
    (access_ref,) = set(buckets) - {bucket_ref}
    for ref in (bucket_ref, access_ref):
        assert buckets[ref]["force_destroy"] is (not settings[env].protected)
        for rtype in ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                      "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy",
                      "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_ownership_controls"):
            assert len([r for r in ours(doc, rtype).values() if ref in r["bucket"]]) == 1, (rtype, ref)
        sse = one(doc, "aws_s3_bucket_server_side_encryption_configuration", ref.rsplit("_", 1)[0])["rule"][0]
        assert sse["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
        assert sse["apply_server_side_encryption_by_default"]["kms_master_key_id"].startswith("${aws_kms_key.kms-logs")
        pab = one(doc, "aws_s3_bucket_public_access_block", ref.rsplit("_", 1)[0])
        assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                            "restrict_public_buckets"))
        lifecycle = one(doc, "aws_s3_bucket_lifecycle_configuration", ref.rsplit("_", 1)[0])["rule"][0]
        assert lifecycle["expiration"][0]["days"] == settings[env].security.audit_log_retention_days
        policy = {st["Sid"]: st for st in statements(one(doc, "aws_s3_bucket_policy", ref.rsplit("_", 1)[0])["policy"])}
        assert policy["TlsOnly"]["Effect"] == "Deny" and policy["TlsOnly"]["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}}
    policy = {st["Sid"]: st for st in statements(one(doc, "aws_s3_bucket_policy", "audit_bucket-policy")["policy"])}
    assert "aws:SourceArn" in policy["CloudTrailWrite"]["Condition"]["StringEquals"]
    assert "aws:SourceAccount" in policy["ConfigWrite"]["Condition"]["StringEquals"]
    logging = one(doc, "aws_s3_bucket_logging")
    assert logging["bucket"] == f"${{aws_s3_bucket.{bucket_ref}.id}}"
    assert logging["target_bucket"] == f"${{aws_s3_bucket.{access_ref}.id}}"


@pytest.mark.parametrize("env", ENVS)
def test_config_recorder_channel_and_managed_rules(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    recorder = one(doc, "aws_config_configuration_recorder")
    assert recorder["recording_group"] == {"all_supported": True, "include_global_resource_types": True}
    channel = one(doc, "aws_config_delivery_channel")
    assert channel["s3_kms_key_arn"].startswith("${aws_kms_key.") and channel["s3_key_prefix"] == "config"
    assert one(doc, "aws_config_configuration_recorder_status")["is_enabled"] is True
    rules = {r["source"]["source_identifier"] for r in ours(doc, "aws_config_config_rule").values()}
    assert rules == {"ENCRYPTED_VOLUMES", "RDS_STORAGE_ENCRYPTED", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
                     "ROOT_ACCOUNT_MFA_ENABLED", "CLOUD_TRAIL_ENABLED", "INCOMING_SSH_DISABLED", "IAM_PASSWORD_POLICY"}
    role = next(r for r in ours(doc, "aws_iam_role_policy_attachment").values()
                if r["policy_arn"].endswith("service-role/AWS_ConfigRole"))
    assert role


def test_password_rule_passes_only_values_that_differ_from_aws_defaults() -> None:
    from modules.security.audit import config_rules

    assert config_rules(14, 90, 24)["iam-password-policy"] == ("IAM_PASSWORD_POLICY", {})
    assert config_rules(20, 90, 24)["iam-password-policy"][1] == {"MinimumPasswordLength": "20"}


# -- threat detection -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_guardduty_security_hub_inspector_macie(synth_aws: dict, settings: dict, env: str) -> None:
    doc, sec = synth_aws[env], settings[env].security
    detector = one(doc, "aws_guardduty_detector")
    assert detector["enable"] is True and detector["finding_publishing_frequency"] == sec.guardduty_finding_frequency
    features = {f["name"]: f for f in ours(doc, "aws_guardduty_detector_feature").values()}
    assert {n: f["status"] for n, f in features.items()} == {
        "S3_DATA_EVENTS": "ENABLED" if sec.guardduty_s3_protection else "DISABLED",
        "EKS_AUDIT_LOGS": "ENABLED" if sec.guardduty_eks_protection else "DISABLED",
        "RUNTIME_MONITORING": "ENABLED" if sec.guardduty_runtime_monitoring else "DISABLED",
        "EBS_MALWARE_PROTECTION": "ENABLED" if sec.guardduty_malware_protection else "DISABLED"}
    assert len(features["RUNTIME_MONITORING"]["additional_configuration"]) == 3
    hub = one(doc, "aws_securityhub_account")
    assert hub["enable_default_standards"] is False
    standards = sorted(s["standards_arn"].split("::", 1)[1] for s in ours(doc, "aws_securityhub_standards_subscription")
                       .values())
    assert standards == ["standards/aws-foundational-security-best-practices/v/1.0.0",
                         "standards/cis-aws-foundations-benchmark/v/3.0.0"]
    assert sorted(one(doc, "aws_inspector2_enabler")["resource_types"]) == sorted(sec.inspector_resource_types)
    assert one(doc, "aws_macie2_account")["status"] == "ENABLED"
    job = one(doc, "aws_macie2_classification_job")
    (definition,) = job["s3_job_definition"]["bucket_definitions"]
    assert len(definition["buckets"]) == 2


def test_local_target_leaves_out_what_the_emulator_cannot_create(synth_local: Path) -> None:
    from envs.target import EMULATOR_UNSUPPORTED

    doc = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    for rtype in ("aws_securityhub_account", "aws_securityhub_standards_subscription", "aws_macie2_account",
                  "aws_macie2_classification_job", "aws_guardduty_detector_feature"):
        assert rtype in EMULATOR_UNSUPPORTED and not resources(doc, rtype), rtype
    for rtype in ("aws_guardduty_detector", "aws_inspector2_enabler", "aws_cloudtrail",
                  "aws_config_configuration_recorder", "aws_wafv2_web_acl", "aws_iam_openid_connect_provider"):
        assert ours(doc, rtype), rtype


def test_without_account_baseline_no_singletons() -> None:
    from cdktf import Testing

    from modules.security.audit import Audit, AuditSettings
    from modules.security.iam import Iam, IamSettings
    from modules.security.threat_detection import ThreatDetection, ThreatDetectionSettings

    stack, ctx, _ = mini_stack()
    Iam(stack, "iam", ctx, IamSettings(manage_account_baseline=False, github_repository="o/r", state_bucket="b",
                                       lock_table="t", github_environment="dev", run_log_prefix="runs/dev/"))
    Audit(stack, "audit", ctx, AuditSettings(logs_kms_key_arn="arn:k", manage_account_baseline=False))
    ThreatDetection(stack, "td", ctx, ThreatDetectionSettings(manage_account_baseline=False))
    doc = json.loads(Testing.synth(stack))
    for rtype in ("aws_iam_account_password_policy", "aws_iam_openid_connect_provider",
                  "aws_config_configuration_recorder", "aws_config_config_rule", "aws_guardduty_detector",
                  "aws_securityhub_account", "aws_inspector2_enabler", "aws_macie2_account"):
        assert not resources(doc, rtype), rtype
    # the environment-scoped parts stay: its trail, and CI roles trusting the account's existing OIDC provider
    assert resources(doc, "aws_cloudtrail")
    deploy = next(r for r in resources(doc, "aws_iam_role").values() if r["name"].endswith("ci-deploy"))
    assert statements(deploy["assume_role_policy"])[0]["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com")


# -- incident response and dashboard --------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_findings_routed_by_severity_with_playbook_links(synth_aws: dict, settings: dict, env: str) -> None:
    doc, sec = synth_aws[env], settings[env].security
    rules = {r["name"].removeprefix(settings[env].name_prefix + "-"): r
             for r in ours(doc, "aws_cloudwatch_event_rule").values()}
    high = sec.critical_finding_severity
    critical = json.loads(rules["guardduty-critical"]["event_pattern"])
    assert critical["detail"]["severity"] == [{"numeric": [">=", high]}]
    notify = json.loads(rules["guardduty-notify"]["event_pattern"])
    assert notify["detail"]["severity"] == [{"numeric": [">=", 4, "<", high]}]
    hub = json.loads(rules["securityhub-critical"]["event_pattern"])
    assert hub["detail"]["findings"]["Severity"]["Label"] == ["CRITICAL", "HIGH"]
    targets = {t["rule"].split(".")[1]: t for t in ours(doc, "aws_cloudwatch_event_target").values()}
    topics = resources(doc, "aws_sns_topic")

    def topic_of(rule_name: str) -> str:
        rule_id = next(n for n, r in ours(doc, "aws_cloudwatch_event_rule").items() if r["name"].endswith(rule_name))
        return topics[targets[rule_id]["arn"].split(".")[1]]["name"]

    assert topic_of("guardduty-critical").endswith("alerts-critical")
    assert topic_of("securityhub-critical").endswith("alerts-critical")
    assert topic_of("guardduty-notify").endswith("alerts-warning")
    for rule_name, kind in (("guardduty-critical", "guardduty-finding"), ("securityhub-notify",
                                                                          "security-hub-finding")):
        rule = rules[rule_name]
        playbook = f"{sec.playbooks_url}/{kind}.md"
        assert rule["tags"]["Playbook"] == playbook
        rule_id = next(n for n, r in ours(doc, "aws_cloudwatch_event_rule").items() if r is rule)
        assert playbook in targets[rule_id]["input_transformer"]["input_template"]
    assert ("auto-contain-ec2" in rules) == sec.auto_contain_instances


def test_playbooks_linked_from_resources_exist_in_the_repository(synth_aws: dict) -> None:
    from modules.security.incident_response import PLAYBOOKS

    for name in PLAYBOOKS.values():
        text = (ROOT / "docs" / "playbooks" / f"{name}.md").read_text()
        assert text.startswith("# ") and "## " in text
    doc = synth_aws["prod"]
    links = {v for r in ours(doc, "aws_cloudwatch_event_rule").values() for k, v in r["tags"].items()
             if k == "Playbook"}
    links |= {one(doc, "aws_ssm_document")["tags"]["Playbook"]}
    assert {link.rsplit("/", 1)[1] for link in links} == {f"{n}.md" for n in PLAYBOOKS.values()}


@pytest.mark.parametrize("env", ENVS)
def test_containment_automation_document_and_quarantine_group(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    ssm = one(doc, "aws_ssm_document")
    assert ssm["document_type"] == "Automation" and ssm["document_format"] == "JSON"
    content = json.loads(ssm["content"])
    assert content["schemaVersion"] == "0.3"
    steps = {s["name"]: s for s in content["mainSteps"]}
    assert steps["IsolateInstance"]["inputs"]["Api"] == "ModifyInstanceAttribute"
    assert steps["IsolateInstance"]["inputs"]["Groups"] == ["{{ QuarantineSecurityGroupId }}"]
    # Standby in the Auto Scaling group before the security group swap, or the group terminates the evidence
    names = [s["name"] for s in content["mainSteps"]]
    assert names.index("LeaveAutoScalingGroup") < names.index("IsolateInstance")
    leave = steps["LeaveAutoScalingGroup"]["inputs"]["Script"]
    assert "enter_standby" in leave and "ShouldDecrementDesiredCapacity=False" in leave
    compile(leave, "leave.py", "exec")
    assert "create_snapshot" in steps["SnapshotVolumes"]["inputs"]["Script"]
    compile(steps["SnapshotVolumes"]["inputs"]["Script"], "snapshot.py", "exec")
    assert content["parameters"]["QuarantineSecurityGroupId"]["default"].startswith("${aws_security_group.security_")
    sg = one(doc, "aws_security_group", "quarantine")
    assert sg["ingress"] == [] and sg["egress"] == []
    policy = next(p for p in ours(doc, "aws_iam_role_policy").values() if p["name"] == "contain-ec2-instance")
    actions = {a for st in statements(policy["policy"]) for a in as_list(st["Action"])}
    assert actions == {"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots",
                       "ec2:ModifyInstanceAttribute", "ec2:CreateSnapshot", "ec2:CreateTags",
                       "autoscaling:DescribeAutoScalingInstances", "autoscaling:EnterStandby"}


def test_auto_containment_rule_starts_the_automation() -> None:
    from cdktf import Testing

    from modules.security.incident_response import IncidentResponse, IncidentResponseSettings

    stack, ctx, _ = mini_stack()
    IncidentResponse(stack, "ir", ctx, IncidentResponseSettings(
        vpc_id="vpc-1", critical_topic_arn="arn:c", notify_topic_arn="arn:n", auto_contain=True))
    doc = json.loads(Testing.synth(stack))
    rule = next(r for r in resources(doc, "aws_cloudwatch_event_rule").values() if r["name"].endswith("auto-contain-ec2"))
    assert json.loads(rule["event_pattern"])["detail"]["resource"] == {"resourceType": ["Instance"]}
    target = next(t for t in resources(doc, "aws_cloudwatch_event_target").values() if t["target_id"] == "containment")
    assert target["arn"].endswith(":automation-definition/p-t-contain-ec2-instance:$DEFAULT")
    assert target["input_transformer"]["input_paths"] == {"instance": "$.detail.resource.instanceDetails.instanceId"}
    with pytest.raises(ModuleSettingsError, match="`critical_severity`"):
        IncidentResponseSettings(vpc_id="v", critical_topic_arn="a", notify_topic_arn="b", critical_severity=9.5)


@pytest.mark.parametrize("env", ENVS)
def test_compliance_dashboard(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    prefix = settings[env].name_prefix
    dash = one(doc, "aws_cloudwatch_dashboard")
    assert dash["dashboard_name"] == f"{prefix}-security-compliance"
    body = json.loads(dash["dashboard_body"])
    queries = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert len(queries) == 4 and all(q.startswith(f"SOURCE '/aws/events/{prefix}-compliance'") for q in queries)
    assert any("aws.config" in q for q in queries) and any("aws.securityhub" in q for q in queries)
    metrics = next(w for w in body["widgets"] if w["type"] == "metric")["properties"]["metrics"]
    assert {m[1] for m in metrics} == {"BlockedRequests", "AllowedRequests"}
    rule = one(doc, "aws_cloudwatch_event_rule", "compliance-events")
    assert set(json.loads(rule["event_pattern"])["source"]) == {"aws.config", "aws.securityhub"}
    group = one(doc, "aws_cloudwatch_log_group", "compliance-events")
    assert group["name"] == f"/aws/events/{prefix}-compliance" and group["kms_key_id"]
    target = one(doc, "aws_cloudwatch_event_target", "compliance-events")
    assert target["arn"].endswith(".arn}") and "compliance-events" in target["arn"]


# -- settings -------------------------------------------------------------------------------------------------------

BAD = [
    ("waf_rate_limit = 5", "security.waf_rate_limit", "set security.waf_rate_limit between"),
    ("waf_rate_window_seconds = 30", "security.waf_rate_window_seconds", "one of 60, 120, 300, 600"),
    ('waf_blocked_countries = ["Korea"]', "security.waf_blocked_countries", "upper-case two-letter"),
    ('waf_allowed_cidrs = ["10.0.0.0/33"]', "security.waf_allowed_cidrs", "fix security.waf_allowed_cidrs"),
    ('waf_allowed_cidrs = ["10.0.0.0/8"]\nwaf_blocked_cidrs = ["10.1.0.0/16"]', "security",
     "remove it from one of the two lists"),
    ('ci_github_repository = "not a repo"', "security.ci_github_repository", "\"owner/name\""),
    ('audit_account_id = "12"', "security.audit_account_id", "fix security.audit_account_id"),
    ("password_min_length = 8", "security.password_min_length", "set security.password_min_length between 14"),
    ("audit_log_retention_days = 30", "security.audit_log_retention_days", "90 or more"),
    ("critical_finding_severity = 9.5", "security.critical_finding_severity", "at most 8.9"),
    ('playbook_base_url = "http://wiki"', "security.playbook_base_url", "https://"),
    ('human_groups = ["Ops Team"]', "security.human_groups", "fix security.human_groups"),
]


def with_security_lines(folder: Path, env: str, lines: str, drop: tuple[str, ...] = ()) -> Path:
    path = folder / f"{env}.toml"
    text = path.read_text()
    head, sep, section = text.partition("\n[security]\n")
    assert sep, f"no [security] table in {path}"
    kept = [ln for ln in section.splitlines() if not any(ln.startswith(d + " ") for d in drop)]
    path.write_text(head + sep + "\n".join(kept) + "\n" + lines + "\n")
    return path


@pytest.fixture()
def envs_copy(tmp_path: Path) -> Path:
    for name in ENVS:
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    return tmp_path


@pytest.mark.parametrize("lines,field,words", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_security_settings_are_rejected(envs_copy: Path, lines: str, field: str, words: str) -> None:
    keys = tuple(ln.split(" =")[0] for ln in lines.splitlines())
    path = with_security_lines(envs_copy, "dev", lines, drop=keys)
    with pytest.raises(SettingsError) as caught:
        envs.load_all(["dev"], envs_copy)
    assert any(p.file == str(path) and p.field == field and words in p.message for p in caught.value.problems), \
        [str(p) for p in caught.value.problems]


def test_audit_account_needs_external_id(envs_copy: Path) -> None:
    with_security_lines(envs_copy, "dev", "", drop=("audit_external_id",))
    with pytest.raises(SettingsError, match="audit_account_id and audit_external_id go together"):
        envs.load_all(["dev"], envs_copy)


def test_cli_synth_exits_2_on_bad_security_setting(envs_copy: Path, tmp_path: Path) -> None:
    with_security_lines(envs_copy, "staging", "waf_rate_limit = 1", drop=("waf_rate_limit",))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs_copy), "synth",
                           "--outdir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert ("staging.toml: security.waf_rate_limit: 1 is outside what AWS WAF accepts; set security.waf_rate_limit "
            "between 10 and 2000000000") in proc.stderr
    assert not out.exists()


def test_playbook_url_defaults_to_the_repository() -> None:
    from envs.security import SecuritySettings

    assert SecuritySettings().playbooks_url == "docs/playbooks"
    assert SecuritySettings(ci_github_repository="o/r").playbooks_url == \
        "https://github.com/o/r/blob/main/docs/playbooks"
    assert SecuritySettings(playbook_base_url="https://wiki.example.com/pb/").playbooks_url == \
        "https://wiki.example.com/pb"


# -- helpers --------------------------------------------------------------------------------------------------------

def mini_stack() -> tuple[Any, Any, Any]:
    """A bare stack with the providers a security part needs, for in-process synthesis of one part."""
    from cdktf import Testing, TerraformStack
    from cdktf_cdktf_provider_aws.provider import AwsProvider

    from envs.target import AWS
    from modules.core.base import Context

    stack = TerraformStack(Testing.app(), "t")
    AwsProvider(stack, "aws", region="us-east-1")
    us_east_1 = AwsProvider(stack, "aws-us-east-1", region="us-east-1", alias="us_east_1")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="123456789012", partition="aws", target=AWS)
    return stack, ctx, us_east_1


def test_waf_rules_check_reads_blocks_as_planned_and_json() -> None:
    """PLAT_WAF_001 on the two spellings of the same rules: ``rule`` blocks as a plan lists them (every block of the
    schema, empty lists when unset) and ``rule_json``; a Known Bad Inputs group overridden to count fails in both."""
    from compliance.checks.waf_rules import check
    from compliance.checklib import FAILED, PASSED

    def planned(override: str) -> dict:
        return {"rule": [{"name": "kbi", "priority": 0, "action": [],
                          "override_action": [{"count": [{}] if override == "count" else [],
                                               "none": [{}] if override == "none" else []}],
                          "statement": [{"managed_rule_group_statement": [{
                              "name": "AWSManagedRulesKnownBadInputsRuleSet", "vendor_name": "AWS",
                              "rule_action_override": [], "scope_down_statement": []}],
                              "rate_based_statement": [], "ip_set_reference_statement": []}],
                          "visibility_config": [{"metric_name": "kbi"}]}], "rule_json": None}

    def as_json(override: str) -> dict:
        return {"rule_json": json.dumps([{"Name": "kbi", "Priority": 0, "OverrideAction": {override.title(): {}},
                                          "Statement": {"ManagedRuleGroupStatement": {
                                              "Name": "AWSManagedRulesKnownBadInputsRuleSet", "VendorName": "AWS"}},
                                          "VisibilityConfig": {"MetricName": "kbi"}}])}

    assert check.evaluate(planned("none"), None) == PASSED
    assert check.evaluate(planned("count"), None) == FAILED
    assert check.evaluate(as_json("none"), None) == PASSED
    assert check.evaluate(as_json("count"), None) == FAILED
    both = planned("none")
    both["rule"][0]["action"] = [{"block": [{}], "allow": []}]  # an action and an override action: not valid
    assert check.evaluate(both, None) == FAILED
