"""The PLAT_AWS_* pack: AWS's documented rules the emulator does not enforce.

The exact pass/fail sets of every check on its fixtures (static JSON and the real plan) are asserted by
tests/compliance/test_checks.py, which covers every PLAT_* fixture folder. Here: the pack's own guarantees (sources,
severities, documentation), the cross-resource reader on inputs that are not ours (modules, other providers, unknown
values), and the defects the pack found in the generated platform, on the synthesized environments."""
from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import pytest
from checkov.common.models.enums import CheckResult

from compliance import engine
from compliance.awsrules import allows, statements
from compliance.checklib import UNKNOWN

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "compliance" / "fixtures"


def pack():
    return sorted((c for c in engine.project_checks() if c.ID.startswith("PLAT_AWS_")), key=lambda c: c.ID)


def check(cid):
    return next(c for c in engine.project_checks() if c.ID == cid)


def results(loaded, cid):
    return {o.resource.address: o.result for o in engine.evaluate(loaded, [check(cid)])}


# -------------------------------------------------------------------------------------------------- the pack itself
def test_pack_has_at_least_fifteen_checks_each_citing_an_aws_page():
    checks = pack()
    assert len(checks) >= 15
    for c in checks:
        assert re.fullmatch(r"PLAT_AWS_\d{3}", c.ID)
        assert c.GUIDELINE and c.GUIDELINE.startswith("https://docs.aws.amazon.com/"), c.ID
        assert c.__class__.__module__.startswith("compliance.checks.aws_"), "one rule per aws_*.py file"


def test_every_aws_check_has_a_project_severity_high_or_medium():
    sev = tomllib.loads((ROOT / "compliance/policy/severities.toml").read_text())["project"]
    for c in pack():
        assert sev.get(c.ID) in ("HIGH", "MEDIUM"), c.ID


def test_docs_table_lists_every_check_with_its_source():
    doc = (ROOT / "docs/compliance.md").read_text()
    for c in pack():
        row = next((line for line in doc.splitlines() if line.startswith(f"| {c.ID} |")), None)
        assert row is not None, f"{c.ID} missing from docs/compliance.md"
        assert c.GUIDELINE in row, f"{c.ID}: the documented source differs from the check's guideline"


def test_every_aws_check_has_static_and_plan_fixtures():
    for c in pack():
        assert (FIXTURES / c.ID / "cdk.tf.json").is_file() and (FIXTURES / c.ID / "tfplan.json").is_file(), c.ID


# -------------------------------------------------------------------------------------------------- reading any input
def test_bare_checkov_gets_unknown_for_cross_resource_rules():
    """Without the gate's view of the whole input a cross-resource rule cannot pass by accident."""
    c = check("PLAT_AWS_001")
    c.entity_type = "aws_cloudfront_distribution"
    conf = {"origin": [{"origin_id": ["s3"], "domain_name": ["${aws_s3_bucket.b.bucket_regional_domain_name}"],
                        "origin_access_control_id": ["${aws_cloudfront_origin_access_control.o.id}"]}]}
    assert c.scan_resource_conf(conf) == CheckResult.UNKNOWN
    waf = check("PLAT_AWS_009")
    waf.entity_type = "aws_wafv2_web_acl"
    assert waf.scan_resource_conf({"scope": ["CLOUDFRONT"]}) == CheckResult.UNKNOWN


def test_policy_reader_wildcards_notaction_and_conditions():
    st = statements(json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "kms:*",
         "Resource": "*", "Condition": {"StringEquals": {"AWS:SourceArn": "${aws_cloudfront_distribution.d.arn}"}}},
        {"Effect": "Allow", "Principal": {"Service": ["logs.eu-west-1.amazonaws.com"]}, "NotAction": "kms:Decrypt",
         "Resource": "*"}]}))
    assert allows(st, actions=["kms:Decrypt"], service="cloudfront.amazonaws.com", required_condition=["aws:SourceArn"])
    assert not allows(st, actions=["kms:Decrypt"], service="logs.eu-west-1.amazonaws.com")
    assert allows(st, actions=["kms:GenerateDataKey"], service="logs.eu-west-1.amazonaws.com")
    assert not allows(st, actions=["kms:Decrypt"], service="cloudfront.amazonaws.com",
                      required_condition=["aws:SourceAccount"])
    assert statements("${data.aws_iam_policy_document.x.json}") is None  # decided only at plan time
    assert statements(UNKNOWN) is None


def test_provider_region_read_from_plan_configuration():
    """PLAT_AWS_009 on the plan: the region comes from configuration.provider_config, not from the resource."""
    loaded = engine.load_plans([FIXTURES / "PLAT_AWS_009" / "tfplan.json"])
    got = results(loaded, "PLAT_AWS_009")
    assert got["aws_wafv2_web_acl.pass_cloudfront_in_us_east_1"] == "PASSED"
    assert got["aws_wafv2_web_acl.fail_cloudfront_in_eu_west_1"] == "FAILED"


def test_unknown_key_policy_in_a_plan_is_unknown_not_passed(tmp_path):
    """A key policy naming a distribution created in the same plan is known only after apply."""
    doc = json.loads((FIXTURES / "PLAT_AWS_001" / "tfplan.json").read_text())
    for rc in doc["resource_changes"]:
        if rc["address"] == "aws_kms_key.good":
            rc["change"]["after"].pop("policy", None)
            rc["change"]["after_unknown"]["policy"] = True
    for res in doc["configuration"]["root_module"]["resources"]:
        if res["address"] == "aws_kms_key.good":
            res["expressions"]["policy"] = {"references": ["aws_cloudfront_distribution.x.arn"]}
    (tmp_path / "plan.json").write_text(json.dumps(doc))
    got = results(engine.load_plans([tmp_path / "plan.json"]), "PLAT_AWS_001")
    assert got["aws_cloudfront_distribution.pass_cmk_admits_cloudfront"] == "UNKNOWN"
    assert got["aws_cloudfront_distribution.fail_aws_managed_key"] == "FAILED"


def test_resources_inside_modules_of_a_plan(tmp_path):
    """Terraform of others: the same resources one module deep resolve their references and provider."""
    doc = json.loads((FIXTURES / "PLAT_AWS_003" / "tfplan.json").read_text())
    moved = copy.deepcopy(doc)
    for rc in moved["resource_changes"]:
        rc["address"] = "module.logs." + rc["address"]
        rc["module_address"] = "module.logs"
    root = moved["configuration"]["root_module"]
    inner = {"resources": root.pop("resources")}
    for res in inner["resources"]:
        key = res.get("provider_config_key", "aws")
        res["provider_config_key"] = key  # module resources keep the key of the provider passed to them
    root["module_calls"] = {"logs": {"source": "./logs", "module": inner}}
    (tmp_path / "plan.json").write_text(json.dumps(moved))
    got = results(engine.load_plans([tmp_path / "plan.json"]), "PLAT_AWS_003")
    assert got["module.logs.aws_cloudwatch_log_group.pass_same_region"] == "PASSED"
    assert got["module.logs.aws_cloudwatch_log_group.pass_west_key_west_group"] == "PASSED"
    assert got["module.logs.aws_cloudwatch_log_group.fail_key_in_other_region"] == "FAILED"


def test_literal_elb_names_fail_without_references():
    c = check("PLAT_AWS_015")
    c.entity_type = "aws_api_gateway_integration"
    assert c.scan_resource_conf({"type": ["HTTP_PROXY"], "uri": ["https://a-1.us-east-1.elb.amazonaws.com/x"]}) \
        == CheckResult.FAILED
    assert c.scan_resource_conf({"type": ["HTTP_PROXY"], "uri": ["https://origin.example.com/x"]}) \
        == CheckResult.PASSED


# -------------------------------------------------------------------------------------------------- our environments
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_our_environments_pass_the_pack(env, synth_aws_dir):
    loaded = engine.load_tf_json([synth_aws_dir / "stacks" / env / "cdk.tf.json"])
    outs = engine.evaluate(loaded, pack())
    failed = [(o.check.ID, o.resource.address, o.detail) for o in outs if o.result == "FAILED"]
    assert not failed
    ran = {o.check.ID for o in outs}
    # the rules behind the defects really evaluated something in every environment
    assert {"PLAT_AWS_001", "PLAT_AWS_006", "PLAT_AWS_007", "PLAT_AWS_014", "PLAT_AWS_015", "PLAT_AWS_018"} <= ran


def _one(doc, rtype, contains=""):
    found = [(name, body) for name, body in doc["resource"].get(rtype, {}).items() if contains in name]
    assert len(found) == 1, (rtype, contains, [n for n, _ in found])
    return found[0]


def test_dr_replica_key_admits_cloudfront_where_the_static_bucket_fails_over(synth_aws):
    doc = synth_aws["prod"]  # prod replicates the static bucket to the DR region (an origin group member)
    assert any("static-dr" in name or "static_dr" in name for name in doc["resource"]["aws_s3_bucket"])
    dist_name, _ = _one(doc, "aws_cloudfront_distribution")
    _, key = _one(doc, "aws_kms_key", "dr-key")
    st = [s for s in json.loads(key["policy"])["Statement"] if s.get("Sid") == "CloudFrontOriginAccessControl"]
    assert st and st[0]["Condition"] == {"StringEquals": {"AWS:SourceArn":
                                                          f"${{aws_cloudfront_distribution.{dist_name}.arn}}"}}


def test_defects_fixed_in_the_synthesized_platform(synth_aws):
    doc = synth_aws["dev"]
    dist_name, dist = _one(doc, "aws_cloudfront_distribution")
    dist_arn = f"${{aws_cloudfront_distribution.{dist_name}.arn}}"
    # OAC + CMK: the data key admits CloudFront for this distribution only
    for key_name in ("kms-data",):
        _, key = _one(doc, "aws_kms_key", key_name)
        st = [s for s in json.loads(key["policy"])["Statement"] if s.get("Sid") == "CloudFrontOriginAccessControl"]
        assert st and st[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert st[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": dist_arn}}
    # HTTPS origins by a name the certificate covers: origin.<zone>, a Route 53 alias of the ALB
    _, zone = _one(doc, "aws_route53_zone")
    origin_host = f"origin.{zone['name']}"
    app = next(o for o in dist["origin"] if o["origin_id"] == "app-alb")
    assert app["domain_name"] == origin_host
    _, record = _one(doc, "aws_route53_record", "origin-record")
    assert record["name"] == origin_host and record["type"] == "A"
    assert record["alias"]["name"].startswith("${aws_lb.") and record["alias"]["name"].endswith(".dns_name}")
    for _, integ in doc["resource"]["aws_api_gateway_integration"].items():
        assert integ["uri"].startswith(f"https://{origin_host}/")
    # containment leaves the Auto Scaling group before the security group swap
    _, ssm = _one(doc, "aws_ssm_document", "containment")
    steps = [s["name"] for s in json.loads(ssm["content"])["mainSteps"]]
    assert steps.index("LeaveAutoScalingGroup") < steps.index("IsolateInstance")
    _, grant = _one(doc, "aws_kms_grant", "macie")
    assert grant["grantee_principal"].endswith("/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie")
    assert "Decrypt" in grant["operations"]
