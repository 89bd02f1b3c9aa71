"""Security baseline on the shared local deployment of dev (moto), verified with boto3.

Security Hub, Macie and the GuardDuty detector features are not deployed locally (envs/target.py); unit tests,
validate, plan and the gate cover them."""
from __future__ import annotations

import json
from typing import Any

import pytest

import envs

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy

DEV = envs.load("dev")
PREFIX = DEV.name_prefix
SEC = DEV.security


@pytest.fixture(scope="module")
def aws(deployed_dev: Any) -> Any:
    return deployed_dev.client


def acl_by_name(wafv2: Any, scope: str, name: str) -> dict[str, Any]:
    summaries = wafv2.list_web_acls(Scope=scope)["WebACLs"]
    (summary,) = [a for a in summaries if a["Name"] == name]
    return wafv2.get_web_acl(Name=name, Scope=scope, Id=summary["Id"])["WebACL"]


def test_waf_acls_logging_and_alb_association(deployed_dev: Any, aws: Any) -> None:
    wafv2 = aws("wafv2")
    for scope, kind in (("REGIONAL", "regional"), ("CLOUDFRONT", "cloudfront")):
        acl = acl_by_name(wafv2, scope, f"{PREFIX}-{kind}")
        rules = {r["Name"]: r for r in acl["Rules"]}
        assert {"ip-allow", "ip-deny", "rate-per-ip", "AWSManagedRulesCommonRuleSet",
                "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet", "AWSManagedRulesLinuxRuleSet",
                "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList"} <= set(rules)
        assert rules["rate-per-ip"]["Statement"]["RateBasedStatement"]["Limit"] == SEC.waf_rate_limit
        assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in acl["Rules"])
        logging = wafv2.get_logging_configuration(ResourceArn=acl["ARN"])["LoggingConfiguration"]
        assert logging["LogDestinationConfigs"][0].split(":log-group:")[1].startswith(f"aws-waf-logs-{PREFIX}-{kind}")
        assert sorted(f["SingleHeader"]["Name"] for f in logging["RedactedFields"]) == ["authorization", "cookie"]
    regional = acl_by_name(wafv2, "REGIONAL", f"{PREFIX}-regional")
    (alb,) = [lb for lb in aws("elbv2").describe_load_balancers()["LoadBalancers"]
              if lb["LoadBalancerName"].startswith(PREFIX)]
    assert wafv2.get_web_acl_for_resource(ResourceArn=alb["LoadBalancerArn"])["WebACL"]["ARN"] == regional["ARN"]
    logs = aws("logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="aws-waf-logs-")["logGroups"]}
    assert groups[f"aws-waf-logs-{PREFIX}-regional"]["kmsKeyId"].startswith("arn:aws:kms:")


def test_permissions_boundary_ci_and_audit_roles(aws: Any) -> None:
    iam = aws("iam")
    boundary = f"{PREFIX}-permissions-boundary"
    roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    exempt = {f"{PREFIX}-ci-deploy", f"{PREFIX}-ci-plan", f"{PREFIX}-security-audit"}
    assert exempt <= {r["RoleName"] for r in roles}
    for summary in roles:
        role = iam.get_role(RoleName=summary["RoleName"])["Role"]
        if role["RoleName"] in exempt:
            assert "PermissionsBoundary" not in role, role["RoleName"]
        else:
            assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(f":policy/{boundary}"), role["RoleName"]
    deploy = iam.get_role(RoleName=f"{PREFIX}-ci-deploy")["Role"]["AssumeRolePolicyDocument"]
    deploy = json.loads(deploy) if isinstance(deploy, str) else deploy
    (st,) = deploy["Statement"]
    assert st["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    # exact subjects (StringEquals): the deploy job declares the GitHub environment (tools/ci_identity.py)
    assert st["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [f"repo:{SEC.ci_github_repository}:environment:dev"]}}
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert any(a.endswith("/token.actions.githubusercontent.com") for a in providers)
    audit = iam.get_role(RoleName=f"{PREFIX}-security-audit")["Role"]["AssumeRolePolicyDocument"]
    audit = json.loads(audit) if isinstance(audit, str) else audit
    assert audit["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": SEC.audit_external_id}}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"{PREFIX}-security-audit")[
        "AttachedPolicies"]}
    assert attached == {"SecurityAudit", "ReadOnlyAccess"}
    pw = iam.get_account_password_policy()["PasswordPolicy"]
    assert pw["MinimumPasswordLength"] == SEC.password_min_length and pw["RequireSymbols"] is True
    assert pw["PasswordReusePrevention"] == SEC.password_reuse_prevention
    for group in SEC.human_groups:
        policies = iam.list_attached_group_policies(GroupName=f"{PREFIX}-{group}")["AttachedPolicies"]
        assert [p["PolicyName"] for p in policies] == [f"{PREFIX}-force-mfa"]


def test_kms_key_policies_name_their_services(aws: Any) -> None:
    kms = aws("kms")
    by_description = {}
    for key in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        by_description[meta.get("Description", "")] = key["KeyId"]
    for data_class in ("logs", "data", "backups", "secrets", "alerts"):
        key_id = by_description[f"{PREFIX}-{data_class}: customer-managed key for {data_class}"]
        assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        named = [st for st in policy["Statement"] if "Service" in st["Principal"]
                 or "kms:ViaService" in st.get("Condition", {}).get("StringEquals", {})]
        assert named, data_class


def test_trail_bucket_and_config(aws: Any) -> None:
    ct = aws("cloudtrail")
    (trail,) = ct.describe_trails(trailNameList=[f"{PREFIX}-trail"])["trailList"]
    assert trail["IsMultiRegionTrail"] and trail["LogFileValidationEnabled"] and trail["KmsKeyId"]
    assert trail["CloudWatchLogsLogGroupArn"].split(":log-group:")[1].startswith(f"/aws/cloudtrail/{PREFIX}")
    assert ct.get_trail_status(Name=trail["TrailARN"])["IsLogging"] is True
    selectors = ct.get_event_selectors(TrailName=trail["TrailARN"])["AdvancedEventSelectors"]
    data = next(s for s in selectors if s["Name"].startswith("S3 data events"))
    arns = next(f for f in data["FieldSelectors"] if f["Field"] == "resources.ARN")["StartsWith"]
    assert len(arns) == 2 and all(a.startswith("arn:aws:s3:::") for a in arns)
    s3 = aws("s3")
    bucket = trail["S3BucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"].startswith(f"{PREFIX}-audit-access-")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert {st["Sid"] for st in policy["Statement"]} >= {"TlsOnly", "CloudTrailWrite", "ConfigWrite"}
    config = aws("config")
    (recorder,) = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["recordingGroup"]["allSupported"] and recorder["recordingGroup"]["includeGlobalResourceTypes"]
    (status,) = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    (channel,) = config.describe_delivery_channels()["DeliveryChannels"]
    assert channel["s3BucketName"] == bucket and channel["s3KmsKeyArn"]
    rules = {r["Source"]["SourceIdentifier"] for r in config.describe_config_rules()["ConfigRules"]}
    assert {"ENCRYPTED_VOLUMES", "RDS_STORAGE_ENCRYPTED", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
            "ROOT_ACCOUNT_MFA_ENABLED", "CLOUD_TRAIL_ENABLED", "INCOMING_SSH_DISABLED", "IAM_PASSWORD_POLICY"} <= rules


def test_guardduty_and_inspector(aws: Any) -> None:
    gd = aws("guardduty")
    (detector_id,) = gd.list_detectors()["DetectorIds"]
    detector = gd.get_detector(DetectorId=detector_id)
    assert detector["Status"] == "ENABLED"
    assert detector["FindingPublishingFrequency"] == SEC.guardduty_finding_frequency
    account = aws("sts").get_caller_identity()["Account"]
    status = aws("inspector2").batch_get_account_status(accountIds=[account])["accounts"][0]
    enabled = {k for k, v in status["resourceState"].items() if v["status"] == "ENABLED"}
    assert enabled == {t.lower() for t in SEC.inspector_resource_types}


def test_incident_response_routing_containment_and_dashboard(aws: Any) -> None:
    events = aws("events")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix=PREFIX)["Rules"]}
    sns_names = {t["TopicArn"].rsplit(":", 1)[1]: t["TopicArn"] for t in aws("sns").list_topics()["Topics"]}
    for name, topic in (("guardduty-critical", "critical"), ("guardduty-notify", "warning"),
                        ("securityhub-critical", "critical"), ("securityhub-notify", "warning")):
        rule = rules[f"{PREFIX}-{name}"]
        assert "playbook" in rule["Description"]
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == sns_names[f"{PREFIX}-alerts-{topic}"]
        assert "Playbook: " in target["InputTransformer"]["InputTemplate"]
    pattern = json.loads(rules[f"{PREFIX}-guardduty-critical"]["EventPattern"])
    assert pattern["detail"]["severity"] == [{"numeric": [">=", SEC.critical_finding_severity]}]
    ssm = aws("ssm")
    doc = ssm.describe_document(Name=f"{PREFIX}-contain-ec2-instance")["Document"]
    assert doc["DocumentType"] == "Automation"
    content = json.loads(ssm.get_document(Name=f"{PREFIX}-contain-ec2-instance")["Content"])
    assert [s["name"] for s in content["mainSteps"]] == ["TagInstance", "LeaveAutoScalingGroup", "IsolateInstance",
                                                            "SnapshotVolumes"]
    ec2 = aws("ec2")
    (sg,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-quarantine"]}])[
        "SecurityGroups"]
    assert sg["IpPermissions"] == [] and sg["IpPermissionsEgress"] == []
    assert content["parameters"]["QuarantineSecurityGroupId"]["default"] == sg["GroupId"]
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName=f"{PREFIX}-security-compliance")["DashboardBody"])
    assert sum(w["type"] == "log" for w in body["widgets"]) == 4
    (target,) = events.list_targets_by_rule(Rule=f"{PREFIX}-compliance-events")["Targets"]
    assert target["Arn"].endswith(f":log-group:/aws/events/{PREFIX}-compliance")


def test_unsupported_services_are_left_out_locally(deployed_dev: Any) -> None:
    """What the local apply leaves out is listed; the plan the deploy of dev applied holds none of it, and the
    emulator holds none of it (the stack's security services that the plan does hold are deployed)."""
    from envs.target import EMULATOR_UNSUPPORTED

    left_out = ("aws_securityhub_account", "aws_macie2_account", "aws_guardduty_detector_feature")
    for rtype in left_out:
        assert rtype in EMULATOR_UNSUPPORTED
    plan = json.loads((deployed_dev.artifacts / "tfplan.json").read_text())  # `terraform show -json` of the plan
    planned = {rc["type"] for rc in plan["resource_changes"] if rc["change"]["actions"] != ["no-op"]}
    assert "aws_guardduty_detector" in planned and "aws_config_configuration_recorder" in planned, sorted(planned)
    assert planned.isdisjoint(left_out), sorted(planned & set(left_out))
    assert planned.isdisjoint(EMULATOR_UNSUPPORTED), sorted(planned & set(EMULATOR_UNSUPPORTED))
