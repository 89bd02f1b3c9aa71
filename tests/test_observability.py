"""Alerting, monitoring, tracing, SLO and cost resources on the synthesized JSON; bad settings exit 2."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import resources

ROOT = Path(__file__).resolve().parents[1]


def by_name(doc: dict[str, Any], rtype: str, key: str = "name") -> dict[str, dict[str, Any]]:
    return {cfg[key]: cfg for cfg in resources(doc, rtype).values()}


def mine(doc: dict[str, Any], rtype: str, path_part: str) -> dict[str, dict[str, Any]]:
    """The resources of ``rtype`` built under the construct path containing ``path_part``."""
    return {n: c for n, c in resources(doc, rtype).items() if path_part in c["//"]["metadata"]["path"]}


def address(doc: dict[str, Any], rtype: str, path_suffix: str) -> str:
    """The Terraform reference prefix ``rtype.<logical id>`` of the resource whose construct path ends so."""
    for name, cfg in resources(doc, rtype).items():
        if cfg["//"]["metadata"]["path"].endswith(path_suffix):
            return f"{rtype}.{name}"
    raise AssertionError(f"no {rtype} at */{path_suffix}")


# -- alerting -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_topics_per_severity_encrypted_with_alerts_key(synth_aws: dict[str, Any], env: str) -> None:
    doc = synth_aws[env]
    topics = by_name(doc, "aws_sns_topic")
    prefix = f"webplatform-{env}"
    assert {f"{prefix}-alerts-{s}" for s in ("critical", "warning", "info", "escalation")} <= set(topics)
    alerts_key = address(doc, "aws_kms_key", "kms-alerts/key")
    for name in (f"{prefix}-alerts-{s}" for s in ("critical", "warning", "info", "escalation")):
        assert topics[name]["kms_master_key_id"] == "${" + alerts_key + ".arn}"
        assert topics[name]["tags"]["Name"] == name


def test_topic_policies_restrict_services_to_this_account_and_tls(synth_aws: dict[str, Any]) -> None:
    policies = mine(synth_aws["prod"], "aws_sns_topic_policy", "/alerting/")
    assert len(policies) == 4
    for cfg in policies.values():
        doc = json.loads(cfg["policy"])
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        services = by_sid["AwsServicesOfThisAccount"]
        assert services["Action"] == "SNS:Publish"
        assert "aws:SourceAccount" in services["Condition"]["StringEquals"]
        assert by_sid["TlsOnly"]["Effect"] == "Deny"
        assert all(s["Principal"] != "*" for s in doc["Statement"] if s["Effect"] == "Allow")


def test_subscriptions_from_settings(synth_aws: dict[str, Any], settings: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    subs = mine(doc, "aws_sns_topic_subscription", "/alerting/")
    got = {(cfg["//"]["metadata"]["path"].split("/")[-1].split("-")[1], cfg["protocol"], cfg["endpoint"])
           for cfg in subs.values()}
    contacts = settings["prod"].observability.contacts
    want = set()
    for topic in ("critical", "warning", "info", "escalation"):
        for endpoint in getattr(contacts, topic):
            want.add((topic, "https" if endpoint.startswith("https://") else "email", endpoint))
    assert got == want
    assert any(p == "https" for _, p, _ in got), "prod pages an https endpoint"


def test_alerting_rejects_bad_module_settings() -> None:
    from modules.observability.alerting import AlertingSettings, Subscription
    from modules.core.base import ModuleSettingsError

    with pytest.raises(ModuleSettingsError, match=r"`subscriptions` names unknown topics \['pager'\]"):
        AlertingSettings(kms_key_arn="arn:k", subscriptions={"pager": (Subscription("email", "a@b.c"),)})
    with pytest.raises(ModuleSettingsError, match=r"protocol 'sms' is not one of email, https"):
        AlertingSettings(kms_key_arn="arn:k", subscriptions={"info": (Subscription("sms", "+100"),)})
    with pytest.raises(ModuleSettingsError, match="`kms_key_arn` is required"):
        AlertingSettings(kms_key_arn="")


# -- bad settings exit 2 -------------------------------------------------------------------------------------------

@pytest.fixture()
def envs_copy(tmp_path: Path) -> Path:
    for name in ("dev", "staging", "prod"):
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    return tmp_path


BAD_SETTINGS = [
    ("availability_percent = 99.0", "availability_percent = 100.5",
     "dev.toml: observability.slo.availability_percent: availability_percent = 100.5 is outside 0..100 (exclusive); "
     "set observability.slo.availability_percent"),
    ("availability_percent = 99.0", "availability_percent = 0",
     "observability.slo.availability_percent: availability_percent = 0.0 is outside 0..100"),
    ("actual_thresholds_percent = [50, 80, 100]", "actual_thresholds_percent = [80, 50, 100]",
     "dev.toml: observability.budget.actual_thresholds_percent: [80.0, 50.0, 100.0] is not strictly ascending; "
     "list observability.budget.actual_thresholds_percent in ascending order"),
    ("forecast_thresholds_percent = [100]", "forecast_thresholds_percent = [100, 100]",
     "observability.budget.forecast_thresholds_percent: [100.0, 100.0] is not strictly ascending"),
    ('critical = ["oncall-dev@example.com"]', 'critical = ["http://hooks.example.com/x"]',
     "observability.contacts.critical: 'http://hooks.example.com/x' is plain HTTP; use an https://"),
    ("escalation_minutes = 30", "escalation_minutes = 2",
     "observability.escalation_minutes: Input should be greater than or equal to 5"),
]


@pytest.mark.parametrize("old,new,message", BAD_SETTINGS, ids=[c[1].split(" =")[0] + str(i)
                                                              for i, c in enumerate(BAD_SETTINGS)])
def test_bad_observability_settings_exit_2(envs_copy: Path, tmp_path: Path, old: str, new: str,
                                           message: str) -> None:
    path = envs_copy / "dev.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs_copy), "synth",
                           "--env", "dev", "--outdir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert not out.exists()


# -- monitoring: log groups, metric filters, queries, anomaly alarms, dashboard ---------------------------------------

def _alarms(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return by_name(doc, "aws_cloudwatch_metric_alarm", "alarm_name")


def _topic(doc: dict[str, Any], severity: str) -> str:
    return "${" + address(doc, "aws_sns_topic", f"alerting/topic-{severity}") + ".arn}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_application_log_groups_encrypted_with_retention(synth_aws: dict[str, Any], settings: dict[str, Any],
                                                         env: str) -> None:
    doc = synth_aws[env]
    groups = by_name(doc, "aws_cloudwatch_log_group")
    logs_key = "${" + address(doc, "aws_kms_key", "kms-logs/key") + ".arn}"
    for source in ("application", "access"):
        group = groups[f"/app/webplatform-{env}/{source}"]
        assert group["kms_key_id"] == logs_key
        assert group["retention_in_days"] == settings[env].log_retention_days


def test_metric_filters_publish_the_service_metrics(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["dev"]
    filters = {cfg["metric_transformation"]["name"]: cfg for cfg in resources(doc, "aws_cloudwatch_log_metric_filter").values()
               if "/observability/" in cfg["//"]["metadata"]["path"]}
    assert set(filters) == {"Requests", "ServerErrors", "Latency", "ApplicationErrors"}
    for cfg in filters.values():
        assert cfg["metric_transformation"]["namespace"] == "Platform/webplatform-dev"
    assert filters["ServerErrors"]["pattern"] == "{ $.status >= 500 }"
    assert filters["Latency"]["metric_transformation"]["value"] == "$.latency_ms"
    assert filters["ApplicationErrors"]["pattern"] == "?ERROR ?Error ?Exception ?FATAL"
    access = "${" + address(doc, "aws_cloudwatch_log_group", "monitoring/log-access") + ".name}"
    assert filters["Requests"]["log_group_name"] == access


def test_saved_logs_insights_queries(synth_aws: dict[str, Any]) -> None:
    queries = by_name(synth_aws["dev"], "aws_cloudwatch_query_definition")
    assert set(queries) == {f"webplatform-dev/{q}" for q in ("recent-errors", "server-errors-by-path",
                                                             "slowest-requests", "latency-percentiles")}
    assert "pct(latency_ms, 99)" in queries["webplatform-dev/latency-percentiles"]["query_string"]


def test_anomaly_detection_alarms(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["dev"]
    alarms = _alarms(doc)
    for kind, operator in (("requests", "LessThanLowerOrGreaterThanUpperThreshold"),
                           ("latency", "GreaterThanUpperThreshold")):
        alarm = alarms[f"webplatform-dev-anomaly-{kind}"]
        assert alarm["comparison_operator"] == operator
        assert alarm["threshold_metric_id"] == "band"
        band = {q["id"]: q for q in alarm["metric_query"]}["band"]
        assert band["expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
        assert alarm["alarm_actions"] == [_topic(doc, "warning")]


def test_dashboard_covers_what_the_tiers_expose(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    dashboards = by_name(doc, "aws_cloudwatch_dashboard", "dashboard_name")
    body = json.loads(dashboards["webplatform-prod-overview"]["dashboard_body"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles[:2] == ["Service requests and server errors", "Service latency (ms)"]
    if resources(doc, "aws_lb"):
        assert "ALB requests and 5xx" in titles and "ALB target response time (s)" in titles
        latency = next(w for w in body["widgets"] if w["properties"]["title"] == "ALB target response time (s)")
        assert [m[-1]["stat"] for m in latency["properties"]["metrics"]] == ["p50", "p90", "p99"]
    if resources(doc, "aws_db_instance"):
        assert any(t.startswith("RDS primary") for t in titles)
    if resources(doc, "aws_elasticache_replication_group"):
        assert "Redis: CPU, memory, evictions" in titles
    if resources(doc, "aws_cloudfront_distribution"):
        assert "CloudFront error rates (%)" in titles
    assert all(w["width"] == 12 and w["height"] == 6 for w in body["widgets"])


def test_dashboard_widgets_for_every_observed_resource() -> None:
    """Module-level: every resource kind a tier may expose gets its widget; nothing exposed -> service widgets only."""
    from cdktf import App, TerraformStack, Testing

    from envs.target import AWS
    from modules.core.alarms import AlarmTopics
    from modules.core.base import Context
    from modules.observability.monitoring import Monitoring, MonitoringSettings, ObservedResources
    from modules.stack.mapping import observed_resources

    assert observed_resources(None, None, None) == ObservedResources()

    class Security:  # what modules/security/tier.py exposes: scope -> name
        web_acl_names = {"regional": "p-t-regional", "cloudfront": "p-t-cloudfront"}

    seen = observed_resources(None, None, Security())
    assert (seen.web_acl_names, seen.cloudfront_web_acl_names) == (("p-t-regional",), ("p-t-cloudfront",))
    app = App()
    stack = TerraformStack(app, "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="123456789012", partition="aws", target=AWS)
    topics = AlarmTopics(critical="arn:c", warning="arn:w", info="arn:i", escalation="arn:e")
    observed = ObservedResources(alb_arn_suffix="app/lb/1", asg_names={"blue": "asg-b"}, agent_namespace="CWAgent",
                                 memory_metric="mem_used_percent", db_identifiers=("db", "db-r1"),
                                 cache_cluster_ids=("c-001",), cloudfront_distribution_id="E1",
                                 web_acl_names=("acl",), cloudfront_web_acl_names=("cf-acl",))
    Monitoring(stack, "m", ctx, MonitoringSettings(logs_kms_key_arn="arn:k"), topics, observed)
    doc = json.loads(Testing.synth(stack))
    body = json.loads(next(iter(resources(doc, "aws_cloudwatch_dashboard").values()))["dashboard_body"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Service requests and server errors", "Service latency (ms)", "ALB requests and 5xx",
                      "ALB target response time (s)", "ASG blue: capacity", "ASG blue: CPU and memory (%)",
                      "RDS primary: CPU, connections, storage", "RDS replica 1: CPU, connections, storage",
                      "Redis: CPU, memory, evictions", "CloudFront error rates (%)", "WAF acl: blocked requests",
                      "WAF cf-acl: blocked requests"]
    assert body["widgets"][-1]["properties"]["region"] == "us-east-1"
    replica = body["widgets"][7]["properties"]["metrics"]
    assert ["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", "db-r1"] in replica
    # with a load balancer, the anomaly alarms watch its request count
    alarm = next(a for a in resources(doc, "aws_cloudwatch_metric_alarm").values()
                 if a["alarm_name"] == "p-t-anomaly-requests")
    metric = next(q for q in alarm["metric_query"] if q["id"] == "m1")["metric"]
    assert (metric["namespace"], metric["metric_name"], metric["dimensions"]) == (
        "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": "app/lb/1"})


# -- SLO: burn-rate and latency alarms, escalation ----------------------------------------------------------------

def test_burn_rate_alarms_multi_window(synth_aws: dict[str, Any], settings: dict[str, Any]) -> None:
    doc = synth_aws["dev"]
    slo = settings["dev"].observability.slo
    alarms = _alarms(doc)
    budget = 1 - slo.availability_percent / 100  # dev: 99.0 % -> 0.01
    expected = {"fast-burn-1h": (3600, slo.fast_burn_rate), "fast-burn-5m": (300, slo.fast_burn_rate),
                "slow-burn-6h": (21600, slo.slow_burn_rate), "slow-burn-30m": (1800, slo.slow_burn_rate)}
    for suffix, (period, rate) in expected.items():
        alarm = alarms[f"webplatform-dev-slo-{suffix}"]
        assert alarm["threshold"] == pytest.approx(rate * budget)
        queries = {q["id"]: q for q in alarm["metric_query"]}
        assert queries["ratio"]["expression"] == "IF(requests > 0, errors / requests, 0)"
        assert queries["errors"]["metric"]["period"] == queries["requests"]["metric"]["period"] == period
        assert queries["errors"]["metric"]["namespace"] == "Platform/webplatform-dev"
        assert alarm.get("alarm_actions", []) == [], "window alarms feed the composite; they notify nobody"
    composites = by_name(doc, "aws_cloudwatch_composite_alarm", "alarm_name")
    fast = composites["webplatform-dev-slo-fast-burn"]
    assert fast["alarm_rule"] == ('ALARM("${' + address(doc, "aws_cloudwatch_metric_alarm", "slo/fast-long")
                                  + '.alarm_name}") AND ALARM("${'
                                  + address(doc, "aws_cloudwatch_metric_alarm", "slo/fast-short") + '.alarm_name}")')
    assert fast["alarm_actions"] == [_topic(doc, "critical")]
    assert composites["webplatform-dev-slo-slow-burn"]["alarm_actions"] == [_topic(doc, "warning")]


def test_critical_alarms_escalate_after_n_minutes(synth_aws: dict[str, Any], settings: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    minutes = settings["prod"].observability.escalation_minutes  # 15
    alarms = _alarms(doc)
    latency = alarms["webplatform-prod-slo-latency-p99"]
    assert latency["extended_statistic"] == "p99" and latency["threshold"] == 500
    # a critical alarm pages through the critical topic and engages on-call (the response plan, prod)
    assert latency["alarm_actions"][0] == _topic(doc, "critical"), latency["alarm_actions"]
    assert all("aws_ssmincidents_response_plan." in a for a in latency["alarm_actions"][1:])
    assert len(latency["alarm_actions"]) == 2
    twin = alarms["webplatform-prod-slo-latency-p99-escalation"]
    assert twin["evaluation_periods"] == twin["datapoints_to_alarm"] == 3 + minutes * 60 // 300
    assert twin["alarm_actions"] == [_topic(doc, "escalation")]
    assert (twin["metric_name"], twin["extended_statistic"], twin["threshold"]) == ("Latency", "p99", 500)
    fast = alarms["webplatform-prod-slo-fast-burn-5m-escalation"]
    assert fast["evaluation_periods"] == 1 + minutes * 60 // 300
    assert fast["alarm_actions"] == [_topic(doc, "escalation")]
    # warning alarms do not escalate
    assert "webplatform-prod-slo-slow-burn-30m-escalation" not in alarms


def test_escalation_longer_than_a_day_is_rejected() -> None:
    from cdktf import App, TerraformStack

    from envs.target import AWS
    from modules.core.alarms import AlarmTopics, metric_alarm
    from modules.core.base import Context, ModuleSettingsError

    stack = TerraformStack(App(), "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="1", partition="aws", target=AWS)
    topics = AlarmTopics(critical="arn:c", warning="arn:w", info="arn:i", escalation="arn:e", escalation_minutes=720)
    with pytest.raises(ModuleSettingsError, match=r"periods exceed one day; lower `escalation_minutes`"):
        metric_alarm(stack, "x", ctx, topics, severity="critical", alarm_name="x", period=3600, evaluation_periods=24,
                       comparison_operator="GreaterThanThreshold", threshold=1, namespace="N", metric_name="M",
                       statistic="Sum")


# -- tracing --------------------------------------------------------------------------------------------------------

def test_xray_sampling_groups_and_trace_alarms(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["dev"]
    rules = by_name(doc, "aws_xray_sampling_rule", "rule_name")
    default = rules["webplatform-dev-default"]
    assert (default["fixed_rate"], default["reservoir_size"], default["service_name"], default["priority"]) == (
        0.05, 1, "*", 9000)
    groups = by_name(doc, "aws_xray_group", "group_name")
    assert groups["webplatform-dev-faults"]["filter_expression"] == "fault = true"
    assert groups["webplatform-dev-slow"]["filter_expression"] == "responsetime > 1"  # dev latency objective 1000 ms
    assert groups["webplatform-dev-faults"]["insights_configuration"] == {"insights_enabled": True,
                                                                         "notifications_enabled": True}
    alarms = _alarms(doc)
    faults = alarms["webplatform-dev-traces-faults"]
    part = {q["id"]: q for q in faults["metric_query"]}["part"]["metric"]
    assert (part["namespace"], part["metric_name"], part["dimensions"]) == (
        "AWS/X-Ray", "ApproximateTraceCount", {"GroupName": "webplatform-dev-faults"})
    assert faults["threshold"] == 5.0


def test_per_service_sampling_rules() -> None:
    from cdktf import App, TerraformStack, Testing

    from envs.target import AWS
    from modules.core.base import Context
    from modules.observability.tracing import Tracing, TracingSettings

    stack = TerraformStack(App(), "t")
    ctx = Context(name_prefix="p-t", region="us-east-1", account_id="1", partition="aws", target=AWS)
    Tracing(stack, "tr", ctx, TracingSettings(services={"checkout": 0.5, "api": 0.1}), None)
    doc = json.loads(Testing.synth(stack))
    rules = by_name(doc, "aws_xray_sampling_rule", "rule_name")
    assert {n: (r["service_name"], r["fixed_rate"], r["priority"]) for n, r in rules.items()} == {
        "p-t-default": ("*", 0.05, 9000), "p-t-svc-api": ("api", 0.1, 100), "p-t-svc-checkout": ("checkout", 0.5, 101)}
    groups = by_name(doc, "aws_xray_group", "group_name")
    assert groups["p-t-service-api"]["filter_expression"] == 'service("api") { fault = true OR responsetime > 0.5 }'


# -- cost -------------------------------------------------------------------------------------------------------------

def test_budget_with_actual_and_forecast_notifications(synth_aws: dict[str, Any], settings: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    budget = by_name(doc, "aws_budgets_budget")["webplatform-prod-monthly"]
    b = settings["prod"].observability.budget
    assert (budget["budget_type"], budget["time_unit"], budget["limit_amount"], budget["limit_unit"]) == (
        "COST", "MONTHLY", f"{b.monthly_limit_usd:.2f}", "USD")
    assert budget["cost_filter"] == [{"name": "TagKeyValue", "values": ["user:Environment$prod"]}]
    got = [(n["notification_type"], n["threshold"], n["subscriber_sns_topic_arns"]) for n in budget["notification"]]
    want = [("ACTUAL", t, [_topic(doc, "critical" if t >= 100 else "warning")]) for t in b.actual_thresholds_percent]
    want += [("FORECASTED", t, [_topic(doc, "warning")]) for t in b.forecast_thresholds_percent]
    assert got == want


def test_anomaly_detection_and_cost_allocation_tags(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    monitor = next(iter(mine(doc, "aws_ce_anomaly_monitor", "/observability/").values()))
    assert monitor["monitor_type"] == "CUSTOM"
    assert json.loads(monitor["monitor_specification"])["Tags"] == {"Key": "Environment", "Values": ["prod"],
                                                                   "MatchOptions": ["EQUALS"]}
    sub = next(iter(mine(doc, "aws_ce_anomaly_subscription", "/observability/").values()))
    assert sub["frequency"] == "IMMEDIATE" and sub["subscriber"] == [{"type": "SNS", "address": _topic(doc, "warning")}]
    assert sub["threshold_expression"]["dimension"]["values"] == ["200"]
    tags = {cfg["tag_key"]: cfg["status"] for cfg in mine(doc, "aws_ce_cost_allocation_tag", "/observability/").values()}
    assert tags == {"Environment": "Active", "Project": "Active", "Owner": "Active", "CostCenter": "Active"}


def test_module_settings_rejected() -> None:
    from modules.core.base import ModuleSettingsError
    from modules.observability.cost import CostSettings
    from modules.observability.monitoring import MonitoringSettings
    from modules.observability.slo import SloSettings

    with pytest.raises(ModuleSettingsError, match="`availability_percent` must be strictly between 0 and 100"):
        SloSettings(namespace="n", availability_percent=100)
    with pytest.raises(ModuleSettingsError, match="`actual_thresholds_percent` must be non-empty and strictly ascending"):
        CostSettings(environment="dev", actual_thresholds_percent=(80, 50))
    with pytest.raises(ModuleSettingsError, match="`log_retention_days` 31 is not a value CloudWatch Logs accepts"):
        MonitoringSettings(logs_kms_key_arn="arn:k", log_retention_days=31)


# -- the local target leaves out what the emulator cannot create ----------------------------------------------------

def test_local_target_leaves_out_unsupported_types(synth_local: Path) -> None:
    from envs.target import EMULATOR_UNSUPPORTED

    doc = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    for rtype in ("aws_cloudwatch_composite_alarm", "aws_xray_sampling_rule", "aws_xray_group",
                  "aws_cloudwatch_query_definition", "aws_budgets_budget", "aws_ce_anomaly_monitor",
                  "aws_ce_anomaly_subscription", "aws_ce_cost_allocation_tag"):
        assert rtype in EMULATOR_UNSUPPORTED
        assert not resources(doc, rtype), rtype
    alarms = _alarms(doc)
    # the window alarms and the escalation still exist locally; without composites the windows notify directly
    assert alarms["webplatform-dev-slo-fast-burn-5m"]["alarm_actions"] == [_topic(doc, "critical")]
    assert "webplatform-dev-slo-fast-burn-5m-escalation" in alarms
    assert "webplatform-dev-anomaly-requests" in alarms and "webplatform-dev-traces-faults" in alarms


# -- health canary --------------------------------------------------------------------------------------------------

def test_health_canary_module() -> None:
    from cdktf import App, TerraformStack, Testing

    from envs.target import AWS
    from modules.core.alarms import AlarmTopics
    from modules.core.base import Context, ModuleSettingsError
    from modules.observability.slo import CanarySettings, HealthCanary

    stack = TerraformStack(App(), "t")
    ctx = Context(name_prefix="webplatform-prod", region="us-east-1", account_id="1", partition="aws", target=AWS)
    topics = AlarmTopics(critical="arn:c", warning="arn:w", info="arn:i", escalation="arn:e", escalation_minutes=15)
    HealthCanary(stack, "c", ctx, CanarySettings(url="https://lb.example.com/health", artifact_bucket_name="logs-b",
                                                 artifact_kms_key_arn="arn:aws:kms:us-east-1:1:key/logs"), topics)
    doc = json.loads(Testing.synth(stack))
    canary = next(iter(resources(doc, "aws_synthetics_canary").values()))
    assert canary["name"] == "webplatform-pr-health" and len(canary["name"]) <= 21
    assert canary["artifact_s3_location"] == "s3://logs-b/canary/webplatform-pr-health/"
    assert canary["artifact_config"]["s3_encryption"] == {"encryption_mode": "SSE_KMS",
                                                          "kms_key_arn": "arn:aws:kms:us-east-1:1:key/logs"}
    assert canary["run_config"]["environment_variables"] == {"CANARY_URL": "https://lb.example.com/health",
                                                             "CANARY_VERIFY_TLS": "true"}
    assert canary["schedule"] == {"expression": "rate(5 minutes)"} and canary["zip_file"].endswith("archive.zip")
    policy = json.loads(next(iter(resources(doc, "aws_iam_role_policy").values()))["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["Artifacts"]["Resource"] == "arn:aws:s3:::logs-b/canary/webplatform-pr-health/*"
    assert by_sid["Metrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}
    assert all(s["Action"] != "*" for s in policy["Statement"])
    alarms = by_name(doc, "aws_cloudwatch_metric_alarm", "alarm_name")
    alarm = alarms["webplatform-prod-canary-health"]
    assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"], alarm["threshold"]) == (
        "CloudWatchSynthetics", "SuccessPercent", {"CanaryName": "webplatform-pr-health"}, 90)
    assert "webplatform-prod-canary-health-escalation" in alarms
    with pytest.raises(ModuleSettingsError, match="`url` must be an https:// URL"):
        CanarySettings(url="http://x/health", artifact_bucket_name="b", artifact_kms_key_arn="k")


def test_canary_on_the_public_endpoint_when_the_app_tier_exposes_one(synth_aws: dict[str, Any]) -> None:
    doc = synth_aws["prod"]
    canaries = mine(doc, "aws_synthetics_canary", "/observability/")
    lbs = resources(doc, "aws_lb")
    buckets = [c for c in resources(doc, "aws_s3_bucket").values() if c["//"]["metadata"]["path"].endswith("/logs")]
    if not (lbs and buckets):
        assert not canaries, "no public endpoint or artifact bucket: no canary"
        return
    canary = next(iter(canaries.values()))
    lb = next(f"aws_lb.{n}" for n in lbs)
    assert canary["run_config"]["environment_variables"]["CANARY_URL"] == "https://${" + lb + ".dns_name}/health"
    assert canary["run_config"]["environment_variables"]["CANARY_VERIFY_TLS"] == "false"


# -- cleanup policies, stack-wide -------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_log_group_has_retention_and_a_customer_managed_key(synth_aws: dict[str, Any], env: str) -> None:
    """Log retention is the cleanup policy of every log source (S3 lifecycle and snapshot retention are gated by
    PLAT_S3_002 / PLAT_RDS_003)."""
    from envs.schema import LOG_RETENTION_DAYS

    groups = resources(synth_aws[env], "aws_cloudwatch_log_group")
    assert groups
    for name, cfg in groups.items():
        assert cfg.get("retention_in_days") in LOG_RETENTION_DAYS, name
        assert str(cfg.get("kms_key_id", "")).startswith("${aws_kms_key."), name
