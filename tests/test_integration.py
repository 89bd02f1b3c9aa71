"""The integration layer (API Gateway, VPC Lattice + Cloud Map, interface endpoints, integration secrets and alarms)
on the synthesized JSON of every environment (aws target), module settings conflicts, the local target's
differences, and bad ``[integration]`` settings exiting 2."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envs.integration import IntegrationSettings
from modules.core.base import ModuleSettingsError
from tests.conftest import primary_region, resources

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def synth_aws(synth_aws: dict[str, Any]) -> dict[str, Any]:
    """The primary region's resources (prod's pilot light in the DR region is tests/test_dr.py's)."""
    return {env: primary_region(doc) for env, doc in synth_aws.items()}


def only(doc: dict[str, Any], rtype: str, part: str = "") -> dict[str, Any]:
    found = [r for name, r in resources(doc, rtype).items() if part in name]
    assert len(found) == 1, f"{rtype} {part!r}: {len(found)} found"
    return found[0]


def named(doc: dict[str, Any], rtype: str, prefix: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources(doc, rtype).items() if name.startswith(prefix)}


def ref(doc: dict[str, Any], rtype: str, part: str, attr: str) -> str:
    (name,) = [n for n in resources(doc, rtype) if part in n]
    return f"${{{rtype}.{name}.{attr}}}"


# -- API Gateway -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_rest_api_proxies_to_the_alb_over_verified_https(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    api = only(doc, "aws_api_gateway_rest_api", "integration_api")
    assert api["endpoint_configuration"] == {"types": ["REGIONAL"]}
    integrations = named(doc, "aws_api_gateway_integration", "integration_api")
    # not the ALB's *.elb.amazonaws.com name (no certificate covers it) but origin.<zone>, its Route 53 alias
    (zone,) = resources(doc, "aws_route53_zone").values()
    alb_dns = f"origin.{zone['name']}"
    assert {i["uri"] for i in integrations.values()} == {f"https://{alb_dns}/", f"https://{alb_dns}/{{proxy}}",
                                                          f"https://{alb_dns}/orders"}
    for integration in integrations.values():
        assert integration["type"] == "HTTP_PROXY"
        assert integration["tls_config"] == {"insecure_skip_verification": False}
        assert integration["timeout_milliseconds"] == 29000
    deployment = only(doc, "aws_api_gateway_deployment", "integration_api")
    assert deployment["lifecycle"]["create_before_destroy"] is True
    assert deployment["triggers"]["backend"] == alb_dns


@pytest.mark.parametrize("env", ENVS)
def test_every_method_needs_iam_and_an_api_key(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    methods = named(doc, "aws_api_gateway_method", "integration_api")
    assert sorted(m["http_method"] for m in methods.values()) == ["ANY", "ANY", "POST"]
    validator = ref(doc, "aws_api_gateway_request_validator", "integration_api", "id")
    for method in methods.values():
        assert method["authorization"] == "AWS_IAM"
        assert method["api_key_required"] is bool(settings[env].integration.api_partners) is True
        assert method["request_validator_id"] == validator
    assert not resources(doc, "aws_api_gateway_authorizer")


@pytest.mark.parametrize("env", ENVS)
def test_stage_traces_logs_to_kms_groups_and_is_behind_the_waf(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    logs_key = ref(doc, "aws_kms_key", "kms-logs", "arn")
    stage = only(doc, "aws_api_gateway_stage", "integration_api")
    assert stage["stage_name"] == settings[env].integration.api_stage_name == "v1"
    assert stage["xray_tracing_enabled"] is True
    access = resources(doc, "aws_cloudwatch_log_group")
    access_name = next(n for n in access if n.startswith("integration_api_access-logs"))
    assert stage["access_log_settings"]["destination_arn"] == f"${{aws_cloudwatch_log_group.{access_name}.arn}}"
    assert json.loads(stage["access_log_settings"]["format"])["requestId"] == "$context.requestId"
    for name in ("integration_api_access-logs", "integration_api_execution-logs"):
        group = next(g for n, g in access.items() if n.startswith(name))
        assert group["kms_key_id"] == logs_key
        assert group["retention_in_days"] == settings[env].log_retention_days
    execution = next(g for n, g in access.items() if n.startswith("integration_api_execution-logs"))
    assert execution["name"] == f"API-Gateway-Execution-Logs_{ref(doc, 'aws_api_gateway_rest_api', 'integration_api', 'id')}/v1"
    account = only(doc, "aws_api_gateway_account")
    assert account["cloudwatch_role_arn"] == ref(doc, "aws_iam_role", "integration_api_logs-role", "arn")
    association = only(doc, "aws_wafv2_web_acl_association", "integration_api")
    assert association["resource_arn"] == ref(doc, "aws_api_gateway_stage", "integration_api", "arn")
    assert association["web_acl_arn"] == ref(doc, "aws_wafv2_web_acl", "security_waf_regional-acl", "arn")


@pytest.mark.parametrize("env", ENVS)
def test_stage_and_method_throttles_from_settings(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env].integration
    by_path = {m["method_path"]: m["settings"] for m in named(doc, "aws_api_gateway_method_settings",
                                                               "integration_api").values()}
    assert set(by_path) == {"*/*"} | {m.method_path for m in s.api_method_limits}
    assert by_path["*/*"]["throttling_rate_limit"] == s.api_rate_limit
    assert by_path["*/*"]["throttling_burst_limit"] == s.api_burst_limit
    for limit in s.api_method_limits:
        assert by_path[limit.method_path]["throttling_rate_limit"] == limit.rate_limit
        assert by_path[limit.method_path]["throttling_burst_limit"] == limit.burst_limit
    for values in by_path.values():
        assert values["metrics_enabled"] is True and values["logging_level"] == "ERROR"
        assert values["data_trace_enabled"] is False and values["cache_data_encrypted"] is True


@pytest.mark.parametrize("env", ENVS)
def test_partners_get_usage_plans_and_generated_keys(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env].integration
    plans = named(doc, "aws_api_gateway_usage_plan", "integration_api")
    keys = named(doc, "aws_api_gateway_api_key", "integration_api")
    assert len(plans) == len(keys) == len(named(doc, "aws_api_gateway_usage_plan_key", "integration_api")) \
        == len(s.api_partners) >= 1
    for partner in s.api_partners:
        plan = next(p for p in plans.values() if p["name"].endswith(f"-api-{partner.name}"))
        assert plan["throttle_settings"] == {"rate_limit": partner.rate_limit, "burst_limit": partner.burst_limit}
        assert plan["quota_settings"] == {"limit": partner.quota_limit, "period": partner.quota_period}
        assert plan["api_stages"][0]["stage"] == ref(doc, "aws_api_gateway_stage", "integration_api", "stage_name")
    for key in keys.values():
        assert "value" not in key and key["enabled"] is True


@pytest.mark.parametrize("env", ENVS)
def test_api_alarms_on_5xx_4xx_latency_notify_alerting(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env].integration
    alarms = {a["metric_name"]: a for a in named(doc, "aws_cloudwatch_metric_alarm", "integration_api").values()}
    assert set(alarms) == {"5XXError", "4XXError", "Latency"}
    critical = ref(doc, "aws_sns_topic", "alerting_topic-critical", "arn")
    warning = ref(doc, "aws_sns_topic", "alerting_topic-warning", "arn")
    # With on-call (operations.oncall), a critical alarm also starts an incident from the response plan
    # (tests/test_operations.py); its first action is the critical topic either way.
    plan = ([ref(doc, "aws_ssmincidents_response_plan", "operations_oncall", "arn")]
            if settings[env].operations.oncall.enabled else [])
    assert alarms["5XXError"]["alarm_actions"] == [critical, *plan]
    assert alarms["5XXError"]["ok_actions"] == [critical]
    assert alarms["5XXError"]["threshold"] == pytest.approx(s.api_alarm_5xx_rate_percent / 100)
    assert alarms["4XXError"]["alarm_actions"] == [warning]
    assert alarms["Latency"]["extended_statistic"] == "p99"
    assert alarms["Latency"]["threshold"] == s.api_alarm_latency_p99_ms
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/ApiGateway"
        assert alarm["dimensions"] == {"ApiName": f"{settings[env].name_prefix}-api", "Stage": "v1"}


# -- service networking ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_lattice_service_network_iam_auth_vpc_only(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    network = only(doc, "aws_vpclattice_service_network")
    assert network["auth_type"] == "AWS_IAM"
    association = only(doc, "aws_vpclattice_service_network_vpc_association")
    sg = ref(doc, "aws_security_group", "integration_service-network_sg", "id")
    assert association["security_group_ids"] == [sg]
    rules = [r for r in resources(doc, "aws_vpc_security_group_ingress_rule").values()
             if r["security_group_id"] == sg]
    assert [(r["from_port"], r["to_port"], r["cidr_ipv4"]) for r in rules] == \
        [(443, 443, settings[env].network.vpc_cidr)]
    policies = resources(doc, "aws_vpclattice_auth_policy")
    assert len(policies) == 2
    for policy in policies.values():
        (statement,) = json.loads(policy["policy"])["Statement"]
        assert statement["Action"] == "vpc-lattice-svcs:Invoke" and statement["Effect"] == "Allow"
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "${data.aws_caller_identity.caller.account_id}"}}


@pytest.mark.parametrize("env", ENVS)
def test_lattice_service_targets_the_alb_and_logs(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    service = only(doc, "aws_vpclattice_service")
    assert service["auth_type"] == "AWS_IAM"
    group = only(doc, "aws_vpclattice_target_group")
    assert group["type"] == "ALB" and group["config"]["protocol"] == "HTTPS" and group["config"]["port"] == 443
    attachment = only(doc, "aws_vpclattice_target_group_attachment")
    assert attachment["target"] == {"id": ref(doc, "aws_lb", "app_lb_alb", "arn"), "port": 443}
    listener = only(doc, "aws_vpclattice_listener")
    assert listener["protocol"] == "HTTPS"
    tg_id = ref(doc, "aws_vpclattice_target_group", "", "id")
    assert listener["default_action"]["forward"][0]["target_groups"][0]["target_group_identifier"] == tg_id
    only(doc, "aws_vpclattice_service_network_service_association")
    log_group = ref(doc, "aws_cloudwatch_log_group", "integration_service-network_access-logs", "arn")
    subscriptions = resources(doc, "aws_vpclattice_access_log_subscription")
    assert len(subscriptions) == 2 and {s["destination_arn"] for s in subscriptions.values()} == {log_group}
    group_conf = only(doc, "aws_cloudwatch_log_group", "integration_service-network_access-logs")
    assert group_conf["kms_key_id"] == ref(doc, "aws_kms_key", "kms-logs", "arn")


@pytest.mark.parametrize("env", ENVS)
def test_cloud_map_namespace_and_app_alias(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    namespace = only(doc, "aws_service_discovery_private_dns_namespace")
    assert namespace["name"] == f"{env}.webplatform.internal"
    assert namespace["vpc"] == ref(doc, "aws_vpc", "network", "id")
    service = only(doc, "aws_service_discovery_service")
    assert service["name"] == "app" and service["dns_config"]["routing_policy"] == "WEIGHTED"
    instance = only(doc, "aws_service_discovery_instance")
    assert instance["attributes"] == {"AWS_ALIAS_DNS_NAME": ref(doc, "aws_lb", "app_lb_alb", "dns_name")}


# -- outbound integrations -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_interface_endpoints_private_dns_vpc_only(synth_aws: dict, settings: dict, env: str) -> None:
    doc = synth_aws[env]
    endpoints = named(doc, "aws_vpc_endpoint", "integration_outbound")
    region = settings[env].region
    assert sorted(e["service_name"] for e in endpoints.values()) == sorted(
        f"com.amazonaws.{region}.{s}" for s in ("secretsmanager", "ssm", "sts", "logs", "ecr.api", "ecr.dkr"))
    sg = ref(doc, "aws_security_group", "integration_outbound_endpoints-sg", "id")
    private = sorted(ref(doc, "aws_subnet", f"network_private-{i}_", "id")
                     for i in range(settings[env].network.az_count))
    for endpoint in endpoints.values():
        assert endpoint["vpc_endpoint_type"] == "Interface" and endpoint["private_dns_enabled"] is True
        assert endpoint["security_group_ids"] == [sg] and sorted(endpoint["subnet_ids"]) == private
        (statement,) = json.loads(endpoint["policy"])["Statement"]
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": "${data.aws_caller_identity.caller.account_id}"}}
        assert statement["Action"].endswith(":*") and statement["Action"] != "*:*"
    ingress = [r for r in resources(doc, "aws_vpc_security_group_ingress_rule").values()
               if r["security_group_id"] == sg]
    assert [(r["from_port"], r["cidr_ipv4"]) for r in ingress] == [(443, settings[env].network.vpc_cidr)]
    assert not [r for r in resources(doc, "aws_vpc_security_group_egress_rule").values()
                if r["security_group_id"] == sg]


@pytest.mark.parametrize("env", ENVS)
def test_integration_secrets_kms_no_value_and_error_alarms(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env].integration
    secrets = named(doc, "aws_secretsmanager_secret", "integration_outbound")
    assert len(secrets) == len(s.integrations) >= 1
    for secret in secrets.values():
        assert secret["kms_key_id"] == ref(doc, "aws_kms_key", "kms-secrets", "arn")
        assert secret["recovery_window_in_days"] == s.secret_recovery_window_days
    assert not resources(doc, "aws_secretsmanager_secret_version")
    # Integrations with rotation_days (and no function of their own) rotate with the shipped function.
    rotated = {i.name: i.rotation_days for i in s.integrations if i.rotation_days and not i.rotation_lambda_arn}
    rotations = named(doc, "aws_secretsmanager_secret_rotation", "integration_rotation")
    assert {k.split("rotation-")[-1].rsplit("_", 1)[0]: r["rotation_rules"]["automatically_after_days"]
            for k, r in rotations.items()} == rotated
    group = only(doc, "aws_cloudwatch_log_group", "integration_outbound_log-group")
    assert group["kms_key_id"] == ref(doc, "aws_kms_key", "kms-logs", "arn")
    for integration in s.integrations:
        metric_filter = only(doc, "aws_cloudwatch_log_metric_filter", f"integration_outbound_errors-{integration.name}")
        assert metric_filter["pattern"] == f'{{ $.integration = "{integration.name}" && $.level = "ERROR" }}'
        transformation = metric_filter["metric_transformation"]
        alarm = only(doc, "aws_cloudwatch_metric_alarm", f"integration_outbound_alarm-{integration.name}")
        assert (alarm["namespace"], alarm["metric_name"]) == (transformation["namespace"], transformation["name"])
        assert alarm["threshold"] == integration.error_threshold and alarm["statistic"] == "Sum"
        assert alarm["alarm_actions"] == [ref(doc, "aws_sns_topic", "alerting_topic-warning", "arn")]


def test_no_plaintext_secret_or_api_key_value_in_the_json(synth_aws: dict) -> None:
    for doc in synth_aws.values():
        for rtype in ("aws_api_gateway_api_key", "aws_secretsmanager_secret"):
            for resource in resources(doc, rtype).values():
                assert not {"value", "secret_string", "secret_binary"} & set(resource)


# -- small stacks: rotation, Cognito, the local target ----------------------------------------------------------------

def small_stack(target: Any, build: Any) -> dict[str, Any]:
    from cdktf import Testing, TerraformStack

    from modules.core.base import Context

    app = Testing.app()
    stack = TerraformStack(app, "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="111111111111", partition="aws", target=target)
    build(stack, ctx)
    return json.loads(Testing.synth(stack))


def test_rotation_needs_and_uses_the_rotation_function() -> None:
    from envs.target import AWS
    from modules.integration.outbound import ExternalIntegration, Integrations, IntegrationsSettings

    fn = "arn:aws:lambda:us-east-1:111111111111:function:rotate-payments"
    doc = small_stack(AWS, lambda stack, ctx: Integrations(stack, "i", ctx, IntegrationsSettings(
        vpc_id="vpc-1", vpc_cidr="10.0.0.0/16", subnet_ids=("subnet-1",), secrets_kms_key_arn="arn:k:secrets",
        logs_kms_key_arn="arn:k:logs", integrations=(ExternalIntegration("payments", rotation_lambda_arn=fn,
                                                                         rotation_days=30),))))
    rotation = only(doc, "aws_secretsmanager_secret_rotation")
    assert rotation["rotation_lambda_arn"] == fn
    assert rotation["rotation_rules"] == {"automatically_after_days": 30}
    assert rotation["secret_id"] == ref(doc, "aws_secretsmanager_secret", "", "id")


def test_cognito_authorizer_when_chosen() -> None:
    from envs.target import AWS
    from modules.integration.api_gateway import ApiGateway, ApiGatewaySettings

    pool = "arn:aws:cognito-idp:us-east-1:111111111111:userpool/us-east-1_AbCdEf123"
    doc = small_stack(AWS, lambda stack, ctx: ApiGateway(stack, "api", ctx, ApiGatewaySettings(
        backend_host="app.example.com", log_kms_key_arn="arn:k:logs", authorization="COGNITO_USER_POOLS",
        cognito_user_pool_arns=(pool,))))
    authorizer = only(doc, "aws_api_gateway_authorizer")
    assert authorizer["type"] == "COGNITO_USER_POOLS" and authorizer["provider_arns"] == [pool]
    for method in resources(doc, "aws_api_gateway_method").values():
        assert method["authorization"] == "COGNITO_USER_POOLS"
        assert method["authorizer_id"] == ref(doc, "aws_api_gateway_authorizer", "", "id")
        assert method["api_key_required"] is False
    assert not resources(doc, "aws_wafv2_web_acl_association")  # no ACL given


def test_local_target_leaves_out_what_the_emulator_cannot_create() -> None:
    from envs.target import EMULATOR_UNSUPPORTED, Target
    from modules.integration.service_network import LatticeService, ServiceNetwork, ServiceNetworkSettings

    settings = ServiceNetworkSettings(vpc_id="vpc-1", vpc_cidr="10.0.0.0/16", log_kms_key_arn="arn:k:logs",
                                      namespace="t.p.internal",
                                      services=(LatticeService("app", "arn:alb", "alb.example.com"),))
    local = small_stack(Target(kind="local", endpoint="http://127.0.0.1:1"),
                        lambda stack, ctx: ServiceNetwork(stack, "sn", ctx, settings))
    aws = small_stack(Target(), lambda stack, ctx: ServiceNetwork(stack, "sn", ctx, settings))
    lattice_aws = {t for t in aws["resource"] if t.startswith("aws_vpclattice")}
    assert lattice_aws == {"aws_vpclattice_service_network", "aws_vpclattice_service_network_vpc_association",
                           "aws_vpclattice_service_network_service_association", "aws_vpclattice_service",
                           "aws_vpclattice_auth_policy", "aws_vpclattice_access_log_subscription",
                           "aws_vpclattice_target_group", "aws_vpclattice_target_group_attachment",
                           "aws_vpclattice_listener"}
    for rtype in local["resource"]:
        assert rtype not in EMULATOR_UNSUPPORTED
    assert "aws_vpclattice_service_network" not in local["resource"]
    # Cloud Map, the security group and the log group stay on the local target.
    for rtype in ("aws_service_discovery_private_dns_namespace", "aws_service_discovery_service",
                  "aws_service_discovery_instance", "aws_security_group", "aws_cloudwatch_log_group"):
        assert rtype in local["resource"]


# -- bad settings ----------------------------------------------------------------------------------------------------

def test_module_settings_reject_conflicts() -> None:
    from modules.integration.api_gateway import ApiGatewaySettings, MethodThrottle
    from modules.integration.outbound import ExternalIntegration, IntegrationsSettings
    from modules.integration.service_network import ServiceNetworkSettings

    with pytest.raises(ModuleSettingsError, match="`cognito_user_pool_arns` must be set exactly when"):
        ApiGatewaySettings(backend_host="h", log_kms_key_arn="k", authorization="COGNITO_USER_POOLS")
    with pytest.raises(ModuleSettingsError, match="`burst_limit` must be at least `rate_limit`"):
        ApiGatewaySettings(backend_host="h", log_kms_key_arn="k", rate_limit=10, burst_limit=5)
    with pytest.raises(ModuleSettingsError, match="names no route of `routes`"):
        ApiGatewaySettings(backend_host="h", log_kms_key_arn="k", method_throttles=(MethodThrottle("a/GET", 1, 1),))
    with pytest.raises(ModuleSettingsError, match="`backend_host` is a host name"):
        ApiGatewaySettings(backend_host="https://h/", log_kms_key_arn="k")
    with pytest.raises(ModuleSettingsError, match="set both `rotation_lambda_arn` and `rotation_days`"):
        IntegrationsSettings(vpc_id="v", vpc_cidr="10.0.0.0/16", subnet_ids=("s",), secrets_kms_key_arn="k",
                             logs_kms_key_arn="k", integrations=(ExternalIntegration("x", rotation_days=30),))
    with pytest.raises(ModuleSettingsError, match="`endpoint_services` has unknown services"):
        IntegrationsSettings(vpc_id="v", vpc_cidr="10.0.0.0/16", subnet_ids=("s",), secrets_kms_key_arn="k",
                             logs_kms_key_arn="k", endpoint_services=("s3x",))
    with pytest.raises(ModuleSettingsError, match="`namespace` must be a DNS name"):
        ServiceNetworkSettings(vpc_id="v", vpc_cidr="10.0.0.0/16", log_kms_key_arn="k", namespace="local")


@pytest.mark.parametrize("values,message", [
    ({"api_rate_limit": 100, "api_burst_limit": 50}, "set integration.api_burst_limit >= integration.api_rate_limit"),
    ({"api_authorization": "COGNITO_USER_POOLS"}, "list the user pool ARNs"),
    ({"integrations": [{"name": "payments", "rotation_endpoint": "https://p.example.com/keys"}]},
     "without rotation_days; set rotation_days"),
    ({"integrations": [{"name": "payments", "rotation_days": 30, "rotation_lambda_arn": "rotate"}]},
     "is not a Lambda function ARN"),
    ({"api_method_limits": [{"method_path": "orders/GET", "rate_limit": 1, "burst_limit": 1}]},
     "add \"GET orders\" to integration.api_routes"),
    ({"api_routes": ["FETCH orders"]}, "are not '<METHOD> <path segment>' routes"),
    ({"endpoint_services": ["s3"]}, "unknown interface endpoint services"),
])
def test_settings_validators_name_the_field_and_the_fix(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message if message.isascii() else None) as caught:
        IntegrationSettings(**values)
    assert message in str(caught.value)


@pytest.mark.parametrize("table,message", [
    ('[integration]\napi_rate_limit = 100\napi_burst_limit = 50\n',
     "set integration.api_burst_limit >= integration.api_rate_limit"),
    ('[integration]\nintegrations = [{ name = "payments", rotation_days = 30, rotation_endpoint = "http://p.example.com" }]\n',
     "is not an https:// URL"),
])
def test_bad_integration_settings_exit_2(tmp_path: Path, table: str, message: str) -> None:
    for name in ENVS:
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    path = tmp_path / "dev.toml"
    text = path.read_text()
    head, rest = text.split("\n[integration]\n", 1)
    # keep whatever tables follow the integration table; replace the integration table itself
    tail = rest[rest.index("\n["):] if "\n[" in rest else ""
    path.write_text(head + "\n" + table + tail + "\n")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(tmp_path), "synth", "--env",
                           "dev", "--outdir", str(tmp_path / "out")], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert "dev.toml" in proc.stderr and "integration" in proc.stderr and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
