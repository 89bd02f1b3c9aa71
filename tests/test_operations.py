"""Operations (issue 16 items 5-7): on-call and incident response with Incident Manager, conformance packs and
remediation, geo-blocking, and the shipped rotation function of integration secrets, on the synthesized JSON of the
small environment tests/envs/ops (aws and local targets) and of the shipped environments; the settings' validation.
The rotation function's steps run against the emulator in tests/test_secret_rotation.py; validate, plan and the plan
gate of staging and prod (which enable all of it) in tests/test_validate.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import envs
from envs.loader import SettingsError
from envs.target import EMULATOR_UNSUPPORTED, Target
from tests.conftest import resources

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "tests" / "envs" / "ops"
ONCALL_TYPES = ("aws_ssmincidents_replication_set", "aws_ssmincidents_response_plan", "aws_ssmcontacts_contact",
                "aws_ssmcontacts_contact_channel", "aws_ssmcontacts_plan", "aws_ssmcontacts_rotation")


def synth(target: Target, out: Path) -> dict[str, Any]:
    from pipeline.synth import synthesize

    settings = envs.load_all(["prod"], OPS)
    synthesize(settings, target, out, commit="0123456789ab")
    return json.loads((out / "stacks" / "prod" / "cdk.tf.json").read_text())


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(Target(), tmp_path_factory.mktemp("ops-aws") / "cdktf.out")


@pytest.fixture(scope="module")
def ops_local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(Target(kind="local", endpoint="http://127.0.0.1:9"), tmp_path_factory.mktemp("ops-local") / "cdktf.out")


def one(doc: dict[str, Any], rtype: str, part: str = "") -> dict[str, Any]:
    found = [v for k, v in resources(doc, rtype).items() if part in k]
    assert len(found) == 1, (rtype, part, list(resources(doc, rtype)))
    return found[0]


def ref(doc: dict[str, Any], rtype: str, part: str, attr: str = "arn") -> str:
    names = [k for k in resources(doc, rtype) if part in k]
    assert len(names) == 1, (rtype, part, names)
    return f"${{{rtype}.{names[0]}.{attr}}}"


# -- on-call and incident response --------------------------------------------------------------------------------

def test_contacts_channels_and_engagement_plans(ops: dict[str, Any]) -> None:
    contacts = {c["alias"]: c for c in resources(ops, "aws_ssmcontacts_contact").values()}
    assert {a: c["type"] for a, c in contacts.items()} == {
        "opstest-prod-alice": "PERSONAL", "opstest-prod-bob": "PERSONAL", "opstest-prod-lead": "PERSONAL",
        "opstest-prod-escalation": "ESCALATION"}
    channels = {(c["contact_id"], c["type"]): c["delivery_address"]["simple_address"]
                for c in resources(ops, "aws_ssmcontacts_contact_channel").values()}
    alice, bob, lead = (ref(ops, "aws_ssmcontacts_contact", f"contact-{a}_") for a in ("alice", "bob", "lead"))
    assert channels == {(alice, "EMAIL"): "alice@example.com", (alice, "SMS"): "+14255550101",
                        (bob, "EMAIL"): "bob@example.com", (lead, "SMS"): "+14255550199"}
    plan = one(ops, "aws_ssmcontacts_plan", "contact-alice-plan")
    assert plan["contact_id"] == alice
    targets = plan["stage"][0]["target"]
    assert {t["channel_target_info"]["contact_channel_id"] for t in targets} == {
        ref(ops, "aws_ssmcontacts_contact_channel", "alice-email"), ref(ops, "aws_ssmcontacts_contact_channel", "alice-sms")}
    assert all(t["channel_target_info"]["retry_interval_in_minutes"] == 5 for t in targets)
    # Every contact waits for the account's replication set.
    replication = one(ops, "aws_ssmincidents_replication_set")
    assert [r["name"] for r in replication["region"]] == ["us-east-1", "us-west-2"]
    assert all(c["depends_on"] == ["aws_ssmincidents_replication_set." + next(iter(resources(
        ops, "aws_ssmincidents_replication_set")))] for c in contacts.values())


def test_rotation_and_escalation(ops: dict[str, Any]) -> None:
    rotation = one(ops, "aws_ssmcontacts_rotation")
    assert rotation["name"] == "opstest-prod-primary" and rotation["time_zone_id"] == "Europe/Berlin"
    assert rotation["start_time"] == "2026-01-05T08:00:00Z"  # 09:00+01:00
    assert rotation["contact_ids"] == [ref(ops, "aws_ssmcontacts_contact", "contact-alice_"),
                                       ref(ops, "aws_ssmcontacts_contact", "contact-bob_")]
    assert rotation["recurrence"] == [{"number_of_on_calls": 1, "recurrence_multiplier": 1, "weekly_settings": [
        {"day_of_week": "MON", "hand_off_time": [{"hour_of_day": 9, "minute_of_hour": 0}]}]}]
    escalation = one(ops, "aws_ssmcontacts_plan", "escalation-plan")
    first, second = escalation["stage"]
    assert first["duration_in_minutes"] == 10
    assert [t["contact_target_info"]["contact_id"] for t in first["target"]] == rotation["contact_ids"]
    assert [t["contact_target_info"]["contact_id"] for t in second["target"]] == [
        ref(ops, "aws_ssmcontacts_contact", "contact-lead_")]


def test_response_plan_links_the_runbook_and_engages_the_escalation(ops: dict[str, Any]) -> None:
    plan = one(ops, "aws_ssmincidents_response_plan")
    runbook = "https://github.com/example-org/webplatform/blob/main/docs/runbooks/prod.md"
    template = plan["incident_template"]
    assert plan["name"] == "opstest-prod-critical" and template["impact"] == 2
    assert runbook in template["summary"] and "docs/playbooks/" in template["summary"]
    assert template["incident_tags"]["Runbook"] == runbook
    assert template["notification_target"] == [{"sns_topic_arn": ref(ops, "aws_sns_topic", "topic-critical")}]
    assert plan["engagements"] == [ref(ops, "aws_ssmcontacts_contact", "escalation_")]
    assert (ROOT / "docs" / "runbooks" / "prod.md").is_file()


def test_critical_findings_start_incidents_with_a_role_limited_to_the_plan(ops: dict[str, Any]) -> None:
    plan = ref(ops, "aws_ssmincidents_response_plan", "response-plan")
    pages = [t for t in resources(ops, "aws_cloudwatch_event_target").values() if t["arn"] == plan]
    rules = {t["rule"] for t in pages}
    assert rules == {ref(ops, "aws_cloudwatch_event_rule", "rule-guardduty-critical", "name"),
                     ref(ops, "aws_cloudwatch_event_rule", "rule-securityhub-critical", "name")}
    role = ref(ops, "aws_iam_role", "oncall_events-role")
    assert all(t["role_arn"] == role for t in pages)
    trust = json.loads(one(ops, "aws_iam_role", "oncall_events-role")["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    policy = json.loads(one(ops, "aws_iam_role_policy", "oncall_events-policy")["policy"])
    assert policy["Statement"] == [{"Sid": "StartIncidentFromTheCriticalPlan", "Effect": "Allow",
                                    "Action": "ssm-incidents:StartIncident", "Resource": plan}]
    # The notify rules (not critical) do not page.
    assert ref(ops, "aws_cloudwatch_event_rule", "rule-guardduty-notify", "name") not in rules


def test_alarm_aspect_pages_critical_alarms_only(tmp_path: Path) -> None:
    from cdktf import App, Aspects, TerraformStack
    from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
    from cdktf_cdktf_provider_aws.provider import AwsProvider
    from cdktf_cdktf_provider_aws.sns_topic import SnsTopic

    from modules.core.base import Context
    from modules.security.oncall import OnCall, OnCallSettings, Responder

    app = App(outdir=str(tmp_path))
    stack = TerraformStack(app, "aspect")
    AwsProvider(stack, "aws", region="us-east-1")
    ctx = Context(name_prefix="t-prod", region="us-east-1", account_id="111111111111", partition="aws",
                  target=Target())
    critical = SnsTopic(stack, "critical", name="critical").arn
    warning = SnsTopic(stack, "warning", name="warning").arn
    common = dict(comparison_operator="GreaterThanThreshold", evaluation_periods=1, threshold=1, period=60,
                  namespace="N", metric_name="M", statistic="Sum")
    CloudwatchMetricAlarm(stack, "crit", alarm_name="crit", alarm_description="5xx above 5 %",
                          alarm_actions=[critical], ok_actions=[critical], **common)
    CloudwatchMetricAlarm(stack, "warn", alarm_name="warn", alarm_actions=[warning], ok_actions=[warning], **common)
    oncall = OnCall(stack, "oncall", ctx, OnCallSettings(
        contacts=(Responder("a", "A", email="a@example.com"),), rotation_start="2026-01-05T09:00:00Z",
        runbook_url="docs/runbooks/prod.md", playbooks_url="docs/playbooks"))
    aspect = oncall.alarm_aspect(critical)
    Aspects.of(stack).add(aspect)
    app.synth()
    out = json.loads((tmp_path / "stacks" / "aspect" / "cdk.tf.json").read_text())
    alarms = out["resource"]["aws_cloudwatch_metric_alarm"]
    plan = next(f"${{aws_ssmincidents_response_plan.{k}.arn}}" for k in out["resource"]["aws_ssmincidents_response_plan"])
    assert alarms["crit"]["alarm_actions"] == ["${aws_sns_topic.critical.arn}", plan]
    assert alarms["crit"]["ok_actions"] == ["${aws_sns_topic.critical.arn}"]  # OK does not start an incident
    assert alarms["crit"]["alarm_description"] == "5xx above 5 % Runbook: docs/runbooks/prod.md"
    assert alarms["warn"]["alarm_actions"] == ["${aws_sns_topic.warning.arn}"]
    assert "alarm_description" not in alarms["warn"]
    assert aspect.paged == ["aspect/crit"]


def test_prod_pages_every_critical_alarm_and_dev_has_no_oncall(synth_aws: dict[str, Any]) -> None:
    prod = synth_aws["prod"]
    plan = ref(prod, "aws_ssmincidents_response_plan", "response-plan")
    critical = ref(prod, "aws_sns_topic", "topic-critical")
    alarms = {**resources(prod, "aws_cloudwatch_metric_alarm"), **resources(prod, "aws_cloudwatch_composite_alarm")}
    paged = {k: a for k, a in alarms.items() if critical in a.get("alarm_actions", [])}
    assert len(paged) >= 5, sorted(alarms)
    for name, alarm in paged.items():
        assert plan in alarm["alarm_actions"], name
        assert "Runbook: https://github.com/example-org/webplatform/blob/main/docs/runbooks/prod.md" in \
            alarm["alarm_description"], name
    assert not any(plan in a.get("alarm_actions", []) for k, a in alarms.items() if k not in paged)
    for t in ONCALL_TYPES:
        assert not resources(synth_aws["dev"], t), t


def test_local_target_leaves_out_what_moto_cannot_create(ops_local: dict[str, Any]) -> None:
    for t in ONCALL_TYPES + ("aws_config_conformance_pack", "aws_config_remediation_configuration",
                             "aws_secretsmanager_secret_rotation"):
        assert t in EMULATOR_UNSUPPORTED and not resources(ops_local, t), t
    # ... and nothing names the response plan that does not exist there.
    assert "ssmincidents" not in json.dumps(ops_local["resource"])
    # What moto can create stays: the rotation function and its permissions, the remediation role and EBS rule.
    assert len(resources(ops_local, "aws_lambda_permission")) == 2
    assert one(ops_local, "aws_lambda_function")["function_name"] == "opstest-prod-rotate-api-key"
    assert one(ops_local, "aws_iam_role", "remediation_automation-role")
    assert one(ops_local, "aws_config_config_rule", "ebs-default-encryption")


# -- conformance pack and remediation -----------------------------------------------------------------------------

def test_cis_conformance_pack_from_the_sample_template_data(ops: dict[str, Any]) -> None:
    from modules.security.remediation import CIS_V14_LEVEL1

    pack = one(ops, "aws_config_conformance_pack")
    assert pack["name"] == "opstest-prod-cis-aws-foundations-benchmark"
    assert pack["depends_on"] == ["aws_config_configuration_recorder_status." + next(iter(resources(
        ops, "aws_config_configuration_recorder_status")))]
    template = yaml.safe_load(pack["template_body"])
    rules = {r["Properties"]["ConfigRuleName"]: r["Properties"] for r in template["Resources"].values()}
    assert all(r["Type"] == "AWS::Config::ConfigRule" for r in template["Resources"].values())
    assert {n: p["Source"]["SourceIdentifier"] for n, p in rules.items()} == {
        n: v[0] for n, v in CIS_V14_LEVEL1.items()}
    assert rules["iam-password-policy"]["InputParameters"]["MinimumPasswordLength"] == "14"
    assert rules["restricted-common-ports"]["InputParameters"] == {"blockedPort3": "3389"}
    assert rules["encrypted-volumes"]["Scope"] == {"ComplianceResourceTypes": ["AWS::EC2::Volume"]}
    assert rules["iam-policy-in-use"]["InputParameters"]["policyARN"].endswith(":iam::aws:policy/AWSSupportAccess")


def test_remediations_target_the_aws_runbooks_with_a_least_privilege_role(ops: dict[str, Any]) -> None:
    configs = {c["target_id"]: c for c in resources(ops, "aws_config_remediation_configuration").values()}
    assert set(configs) == {"AWS-DisableS3BucketPublicReadWrite", "AWSConfigRemediation-EnableEbsEncryptionByDefault",
                            "AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules"}
    role = ref(ops, "aws_iam_role", "remediation_automation-role")
    s3 = configs["AWS-DisableS3BucketPublicReadWrite"]
    assert s3["config_rule_name"] == ref(ops, "aws_config_config_rule", "config-rule-s3-bucket-public-access", "name")
    assert s3["resource_type"] == "AWS::S3::Bucket" and s3["target_type"] == "SSM_DOCUMENT"
    assert s3["parameter"] == [{"name": "AutomationAssumeRole", "static_value": role},
                               {"name": "S3BucketName", "resource_value": "RESOURCE_ID"}]
    ssh = configs["AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules"]
    assert ssh["config_rule_name"] == ref(ops, "aws_config_config_rule", "config-rule-restricted-ssh", "name")
    assert ssh["parameter"][1] == {"name": "SecurityGroupId", "resource_value": "RESOURCE_ID"}
    ebs = configs["AWSConfigRemediation-EnableEbsEncryptionByDefault"]
    assert ebs["config_rule_name"] == ref(ops, "aws_config_config_rule", "rule-ebs-default-encryption", "name")
    assert ebs["parameter"] == [{"name": "AutomationAssumeRole", "static_value": role}]
    assert one(ops, "aws_config_config_rule", "rule-ebs-default-encryption")["source"]["source_identifier"] == \
        "EC2_EBS_ENCRYPTION_BY_DEFAULT"
    assert all(c["automatic"] is True and c["maximum_automatic_attempts"] == 5 for c in configs.values())
    trust = json.loads(one(ops, "aws_iam_role", "remediation_automation-role")["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ssm.amazonaws.com"}
    policy = json.loads(one(ops, "aws_iam_role_policy", "remediation_automation-policy")["policy"])
    actions = {a for st in policy["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                          else st["Action"])}
    assert actions == {"ssm:StartAutomationExecution", "ssm:GetAutomationExecution", "s3:PutBucketPublicAccessBlock",
                       "s3:GetBucketPublicAccessBlock", "ec2:EnableEbsEncryptionByDefault",
                       "ec2:GetEbsEncryptionByDefault", "ec2:DescribeSecurityGroups",
                       "ec2:RevokeSecurityGroupIngress"}
    star = [st["Sid"] for st in policy["Statement"] if st["Resource"] == "*"]
    assert star == ["EbsEncryptionByDefault", "DescribeSecurityGroups"]  # no resource-level permission exists


def test_dry_run_keeps_remediations_manual(tmp_path: Path) -> None:
    folder = tmp_path / "envs"
    shutil.copytree(OPS, folder)
    path = folder / "prod.toml"
    path.write_text(path.read_text().replace("remediation_dry_run = false", "remediation_dry_run = true"))
    from pipeline.synth import synthesize

    synthesize(envs.load_all(["prod"], folder), Target(), tmp_path / "out", commit="0123456789ab")
    doc = json.loads((tmp_path / "out" / "stacks" / "prod" / "cdk.tf.json").read_text())
    configs = resources(doc, "aws_config_remediation_configuration").values()
    assert len(configs) == 3 and all(c["automatic"] is False for c in configs)


# -- rotation of integration secrets ------------------------------------------------------------------------------

def test_shipped_rotation_function_rotates_the_integrations_that_ask(ops: dict[str, Any]) -> None:
    fn = one(ops, "aws_lambda_function")
    assert fn["handler"] == "api_key_rotation.handler" and fn["runtime"] == "python3.12"
    assert fn["filename"].endswith(".zip") and fn["source_code_hash"]
    assert fn["vpc_config"]["security_group_ids"] == [ref(ops, "aws_security_group", "clients-sg", "id")]
    endpoints = json.loads(fn["environment"]["variables"]["ROTATION_ENDPOINTS"])
    assert endpoints == {"opstest-prod/integrations/payments": {
        "set": "https://api.payments.example.com/v1/keys", "test": "https://api.payments.example.com/v1/ping",
        "method": "POST"}}
    rotations = {r["secret_id"]: r for r in resources(ops, "aws_secretsmanager_secret_rotation").values()}
    payments = ref(ops, "aws_secretsmanager_secret", "secret-payments", "id")
    crm = ref(ops, "aws_secretsmanager_secret", "secret-crm", "id")
    assert set(rotations) == {payments, crm}  # legacy asks for no rotation
    assert rotations[payments]["rotation_rules"] == {"automatically_after_days": 30}
    assert rotations[crm]["rotation_rules"] == {"automatically_after_days": 7}
    function = ref(ops, "aws_lambda_function", "rotation_function")
    assert all(r["rotation_lambda_arn"] == function for r in rotations.values())
    permissions = {p["source_arn"]: p for p in resources(ops, "aws_lambda_permission").values()}
    assert set(permissions) == {ref(ops, "aws_secretsmanager_secret", f"secret-{n}") for n in ("payments", "crm")}
    for p in permissions.values():
        assert p["principal"] == "secretsmanager.amazonaws.com" and p["action"] == "lambda:InvokeFunction"
    assert rotations[payments]["depends_on"] == ["aws_lambda_permission." + next(
        k for k in resources(ops, "aws_lambda_permission") if "payments" in k)]


def test_rotation_role_is_limited_to_the_integration_secrets(ops: dict[str, Any]) -> None:
    trust = json.loads(one(ops, "aws_iam_role", "rotation_role")["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    policy = {st["Sid"]: st for st in json.loads(one(ops, "aws_iam_role_policy", "rotation_policy")["policy"])[
        "Statement"]}
    secrets = policy["RotateTheIntegrationSecrets"]
    assert secrets["Resource"].endswith(":secret:opstest-prod/integrations/*")
    assert set(secrets["Action"]) == {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                      "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
    assert policy["SecretsKeyThroughSecretsManager"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}
    assert not any("*" == st["Action"] or st["Action"] == "secretsmanager:*" for st in policy.values())


def test_the_package_holds_the_repository_function(ops: dict[str, Any]) -> None:
    import zipfile

    from modules.integration.secret_rotation import ROTATION_CODE_DIR

    fn = one(ops, "aws_lambda_function")
    module, handler = fn["handler"].split(".")
    assert handler == "handler"
    assert (ROTATION_CODE_DIR / f"{module}.py").is_file()


# -- shipped environments: geo-blocking, rotation, on-call ---------------------------------------------------------

def test_prod_blocks_the_configured_countries_in_every_acl(synth_aws: dict[str, Any], settings: dict) -> None:
    from modules.security.waf import rules_from_api

    countries = list(settings["prod"].security.waf_blocked_countries)
    assert countries == ["KP", "IR", "SY", "CU"]
    acls = resources(synth_aws["prod"], "aws_wafv2_web_acl")
    # the CloudFront ACL, the primary's regional ACL and the pilot light's regional ACL in the DR region
    assert len(acls) == 3
    for acl in acls.values():
        rules = {r["name"]: r for r in rules_from_api(json.loads(acl["rule_json"]))}
        assert rules["geo-block"]["statement"] == {"geo_match_statement": {"country_codes": countries}}
        assert "block" in rules["geo-block"]["action"]
        assert rules["geo-block"]["priority"] < rules["rate-per-ip"]["priority"]


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_staging_and_prod_rotate_payments_and_run_operations(synth_aws: dict[str, Any], env: str) -> None:
    doc = synth_aws[env]
    rotation = one(doc, "aws_secretsmanager_secret_rotation")
    assert rotation["rotation_rules"] == {"automatically_after_days": 30}
    assert rotation["rotation_lambda_arn"] == ref(doc, "aws_lambda_function", "rotation_function")
    assert one(doc, "aws_ssmincidents_response_plan")
    assert one(doc, "aws_config_conformance_pack")
    assert len(resources(doc, "aws_config_remediation_configuration")) == 3


# -- settings -----------------------------------------------------------------------------------------------------

BAD = [
    ('contacts = [{ alias = "a", name = "A", email = "not-an-email" }]', "operations.oncall.contacts.0.email",
     "is not an email address"),
    ('contacts = [{ alias = "a", name = "A", sms = "0171 555" }]', "operations.oncall.contacts.0.sms", "E.164"),
    ('contacts = [{ alias = "a", name = "A" }]', "operations.oncall.contacts.0", "has no channel"),
    ('contacts = [{ alias = "Alice!", name = "A", email = "a@example.com" }]', "operations.oncall.contacts.0.alias",
     "pattern"),
    ('rotation_start = "2026-01-05T09:00:00"', "operations.oncall.rotation_start", "with an offset"),
    ('rotation_time_zone = "Mars/Olympus"', "operations.oncall.rotation_time_zone", "IANA time zone"),
    ('rotation_handoff_time = "9am"', "operations.oncall.rotation_handoff_time", "HH:MM"),
    ('rotation_members = ["zoe"]', "operations.oncall", "not in contacts"),
    ('escalation_contacts = ["alice", "alice"]', "operations.oncall", "lists a contact twice"),
    ("engagement_minutes = 45", "operations.oncall.engagement_minutes", "less than or equal to 30"),
    ("rotation_on_calls = 3", "operations.oncall", "exceeds the 2 rotation members"),
]


def ops_copy(tmp_path: Path, replace: dict[str, str] | None = None, append: str = "") -> Path:
    folder = tmp_path / "envs"
    shutil.copytree(OPS, folder)
    path = folder / "prod.toml"
    text = path.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text + append)
    return folder


@pytest.mark.parametrize("line,field,words", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_oncall_settings_are_rejected(tmp_path: Path, line: str, field: str, words: str) -> None:
    key = line.split(" =")[0]
    folder = tmp_path / "envs"
    shutil.copytree(OPS, folder)
    path = folder / "prod.toml"
    head, sep, rest = path.read_text().partition("[operations.oncall]\n")
    section, sep2, tail = rest.partition("\n[operations.compliance]")
    lines = []
    skipping = False
    for ln in section.splitlines():  # drop the key (a multi-line array too) before adding the bad value
        if ln.startswith(key + " "):
            skipping = ln.rstrip().endswith("[")
            continue
        if skipping:
            skipping = ln.strip() != "]"
            continue
        lines.append(ln)
    path.write_text(head + sep + "\n".join(lines) + "\n" + line + "\n" + sep2 + tail)
    with pytest.raises(SettingsError) as caught:
        envs.load_all(["prod"], folder)
    assert any(p.file == str(path) and p.field == field and words in p.message for p in caught.value.problems), \
        [str(p) for p in caught.value.problems]


def test_countries_are_checked_against_iso_3166(tmp_path: Path) -> None:
    folder = ops_copy(tmp_path, {'ci_github_repository = "example-org/webplatform"':
                                 'ci_github_repository = "example-org/webplatform"\nwaf_blocked_countries = ["KP", "UK", "XX"]'})
    with pytest.raises(SettingsError) as caught:
        envs.load_all(["prod"], folder)
    problem = next(p for p in caught.value.problems if p.field == "security.waf_blocked_countries")
    assert "['UK', 'XX']" in problem.message and "ISO 3166-1 alpha-2" in problem.message
    ok = ops_copy(tmp_path / "ok", {'ci_github_repository = "example-org/webplatform"':
                                    'ci_github_repository = "example-org/webplatform"\nwaf_blocked_countries = ["GB", "KP"]'})
    assert envs.load_all(["prod"], ok)["prod"].security.waf_blocked_countries == ("GB", "KP")


def test_operations_need_the_security_baseline_and_config(tmp_path: Path) -> None:
    folder = ops_copy(tmp_path, {"[security]\n": "[security]\nenabled = false\n"})
    with pytest.raises(SettingsError) as caught:
        envs.load_all(["prod"], folder)
    fields = {p.field for p in caught.value.problems}
    assert {"operations.oncall.enabled", "operations.compliance"} <= fields
    folder = ops_copy(tmp_path / "rules", {"[security]\n": "[security]\nconfig_rules = false\n"})
    with pytest.raises(SettingsError, match="remediate_public_s3 and remediate_open_ssh correct the findings"):
        envs.load_all(["prod"], folder)


@pytest.mark.parametrize("integration,words", [
    ('{ name = "xy", rotation_days = 30, rotation_endpoint = "http://partner.example.com/keys" }', "https://"),
    ('{ name = "xy", rotation_endpoint = "https://partner.example.com/keys" }', "without rotation_days"),
    ('{ name = "xy", rotation_days = 30, rotation_lambda_arn = "arn:aws:lambda:us-east-1:666666666666:function:f", '
     'rotation_endpoint = "https://partner.example.com/keys" }', "remove one of them"),
    ('{ name = "xy", rotation_days = 30, rotation_test_endpoint = "https://partner.example.com/ping" }',
     "needs rotation_endpoint"),
])
def test_bad_rotation_settings_are_rejected(tmp_path: Path, integration: str, words: str) -> None:
    folder = ops_copy(tmp_path, {'  { name = "legacy" },': f"  {integration},"})
    with pytest.raises(SettingsError) as caught:
        envs.load_all(["prod"], folder)
    assert any(p.field.startswith("integration.integrations") and words in p.message
               for p in caught.value.problems), [str(p) for p in caught.value.problems]


def test_rotation_days_alone_uses_the_shipped_function() -> None:
    settings = envs.load_all(["prod"], OPS)["prod"]
    crm = next(i for i in settings.integration.integrations if i.name == "crm")
    assert crm.rotation_days == 7 and crm.rotation_lambda_arn is None and crm.rotation_endpoint is None
