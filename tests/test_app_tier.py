"""The application tier (load balancer, compute, scaling, alarms, blue-green) on the synthesized JSON, resource by
resource, for every environment (aws target) and for dev on the local target; bad settings; the release logic."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modules.core.base import ModuleSettingsError
from modules.app.compute import ComputeSettings, MANAGED_POLICIES
from modules.app.load_balancer import LoadBalancerSettings
from tests.conftest import resources

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("dev", "staging", "prod")


def one(doc: dict[str, Any], rtype: str, contains: str = "") -> dict[str, Any]:
    # the primary region's tier; prod's copy in the DR region (``pilot-light_app_*``) is tests/test_dr.py's
    found = [v for k, v in resources(doc, rtype).items() if contains in k and not k.startswith("pilot-light_")]
    assert len(found) == 1, f"{rtype} *{contains}*: {len(found)} found"
    return found[0]


def app(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(doc, rtype).items() if k.startswith("app_")}


def ref(value: str, rtype: str, contains: str) -> bool:
    return value.startswith("${" + rtype + ".") and contains in value


@pytest.fixture(scope="module")
def synth_local_dev(synth_local: Path) -> dict[str, Any]:
    """dev synthesized for the local target (the session's local synthesis; it needs no running emulator)."""
    return json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())


# -- load balancer -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_alb_is_public_hardened_and_logged(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    alb = one(doc, "aws_lb", "app_")
    assert alb["internal"] is False and alb["load_balancer_type"] == "application"
    assert alb["drop_invalid_header_fields"] is True
    assert alb["enable_deletion_protection"] is s.protected
    assert alb["idle_timeout"] == s.app.idle_timeout_seconds
    assert len(alb["subnets"]) == s.network.az_count and all("public" in x for x in alb["subnets"])
    assert alb["access_logs"]["enabled"] is True and ref(alb["access_logs"]["bucket"], "aws_s3_bucket", "logs")
    assert len(alb["security_groups"]) == 1 and ref(alb["security_groups"][0], "aws_security_group", "app_lb_sg")
    assert alb["name"] == f"{s.name_prefix}-alb"


@pytest.mark.parametrize("env", ENVS)
def test_listeners_redirect_http_and_terminate_tls13(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    listeners = app(doc, "aws_lb_listener")
    http = next(v for v in listeners.values() if v["port"] == 80)
    https = next(v for v in listeners.values() if v["port"] == 443)
    assert http["protocol"] == "HTTP"
    assert http["default_action"] == [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                                                         "status_code": "HTTP_301"}}]
    assert https["protocol"] == "HTTPS" and https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-")
    assert https["certificate_arn"] == s.app.certificate_arn
    forward = https["default_action"][0]["forward"]
    assert https["default_action"][0]["type"] == "forward"
    groups = forward["target_group"]
    assert [g["arn"].split(".")[1] for g in groups] == [k for k in app(doc, "aws_lb_target_group")]
    # weights: the release record wins, the settings' initial weights are the fallback
    for colour, group in zip(("blue", "green"), groups):
        assert "aws_ssm_parameters_by_path" in group["weight"]
        assert f".weights.{colour}), {s.app.initial_weights[colour]})" in group["weight"]
    assert forward["stickiness"]["enabled"] is False


@pytest.mark.parametrize("env", ENVS)
def test_target_groups_health_checks_from_settings(synth_aws: dict, settings: dict, env: str) -> None:
    doc, a = synth_aws[env], settings[env].app
    groups = app(doc, "aws_lb_target_group")
    assert sorted(v["tags"]["Colour"] for v in groups.values()) == ["blue", "green"]
    for tg in groups.values():
        assert tg["port"] == a.app_port and tg["protocol"] == "HTTP" and tg["target_type"] == "instance"
        assert tg["deregistration_delay"] == str(a.deregistration_delay_seconds)
        hc = tg["health_check"]
        assert (hc["path"], hc["matcher"], hc["interval"], hc["timeout"], hc["healthy_threshold"],
                hc["unhealthy_threshold"]) == (a.health_check_path, a.health_check_matcher,
                                               a.health_check_interval_seconds, a.health_check_timeout_seconds,
                                               a.healthy_threshold, a.unhealthy_threshold)


def test_access_log_bucket_policy_lifecycle_and_encryption(synth_aws: dict, settings: dict) -> None:
    doc = synth_aws["prod"]
    bucket = one(doc, "aws_s3_bucket", "app_lb_logs")
    assert bucket["force_destroy"] is False  # prod keeps its logs
    assert one(synth_aws["dev"], "aws_s3_bucket", "app_lb_logs")["force_destroy"] is True
    pab = one(doc, "aws_s3_bucket_public_access_block", "app_lb")
    assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                        "restrict_public_buckets"))
    sse = one(doc, "aws_s3_bucket_server_side_encryption_configuration", "app_lb")
    # ALB log delivery supports SSE-S3 only (not SSE-KMS): see docs/app-tier.md
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    assert one(doc, "aws_s3_bucket_versioning", "app_lb")["versioning_configuration"]["status"] == "Enabled"
    rule = one(doc, "aws_s3_bucket_lifecycle_configuration", "app_lb")["rule"][0]
    assert rule["status"] == "Enabled" and rule["expiration"][0]["days"] == settings["prod"].app.access_log_retention_days
    policy = json.loads(one(doc, "aws_s3_bucket_policy", "app_lb")["policy"])
    sids = {st["Sid"]: st for st in policy["Statement"]}
    assert sids["ElbLogDelivery"]["Action"] == "s3:PutObject"
    assert "/alb/AWSLogs/" in sids["ElbLogDelivery"]["Resource"]
    assert sids["DenyInsecureTransport"]["Effect"] == "Deny"
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_security_groups_chain_internet_to_alb_to_app_only(synth_aws: dict, settings: dict) -> None:
    doc = synth_aws["staging"]
    port = settings["staging"].app.app_port
    ingress = app(doc, "aws_vpc_security_group_ingress_rule")
    world = sorted(r["from_port"] for r in ingress.values() if r.get("cidr_ipv4") == "0.0.0.0/0")
    assert world == [80, 443]
    assert all(ref(r["security_group_id"], "aws_security_group", "app_lb_sg") for r in ingress.values())
    rules = app(doc, "aws_security_group_rule")
    alb_out = next(r for k, r in rules.items() if r["type"] == "egress" and k.startswith("app_lb_"))
    app_in = next(r for r in rules.values() if r["type"] == "ingress")
    # the instances reach nothing else in the VPC but the database (through its proxy) and the cache, on their ports
    app_out = {(r["from_port"], r["source_security_group_id"].split(".")[1].rsplit("_", 1)[0])
               for k, r in rules.items() if r["type"] == "egress" and k.startswith("app_compute_")}
    assert app_out == {(5432, "data_database_proxy-sg"), (6379, "data_cache_sg")}
    assert sum(r["type"] == "ingress" for r in rules.values()) == 1
    assert ref(alb_out["security_group_id"], "aws_security_group", "app_lb_sg")
    assert ref(alb_out["source_security_group_id"], "aws_security_group", "app_compute_sg")
    assert ref(app_in["security_group_id"], "aws_security_group", "app_compute_sg")
    assert ref(app_in["source_security_group_id"], "aws_security_group", "app_lb_sg")
    assert alb_out["from_port"] == alb_out["to_port"] == app_in["from_port"] == app_in["to_port"] == port
    assert all(r.get("description") for r in [*rules.values(), *ingress.values()])
    # the security groups themselves carry no inline rules (the ALB has no other egress)
    for sg in app(doc, "aws_security_group").values():
        assert "ingress" not in sg and "egress" not in sg


# -- compute -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_launch_templates_secure_defaults(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    templates = app(doc, "aws_launch_template")
    assert len(templates) == 2
    for lt in templates.values():
        meta = lt["metadata_options"]
        assert meta["http_tokens"] == "required" and meta["http_put_response_hop_limit"] == 1
        ebs = lt["block_device_mappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3"
        assert ref(ebs["kms_key_id"], "aws_kms_key", "kms-data")
        nic = lt["network_interfaces"][0]
        assert nic["associate_public_ip_address"] == "false"
        assert ref(nic["security_groups"][0], "aws_security_group", "app_compute_sg")
        assert ref(lt["iam_instance_profile"]["arn"], "aws_iam_instance_profile", "app_compute_profile")
        assert lt["instance_type"] == s.sizes.instance_type
        assert "colours." in lt["image_id"] and "aws_ssm_parameter." in lt["image_id"]
        script = base64.b64decode(lt["user_data"]).decode()
        assert "amazon-cloudwatch-agent" in script and "mem_used_percent" in script
        assert "disk_used_percent" in script and "${aws:AutoScalingGroupName}" in script
        kinds = {t["resource_type"] for t in lt["tag_specifications"]}
        assert kinds == {"instance", "volume", "network-interface"}
        assert all("AppVersion" in t["tags"] and "aws_default_tags" in t["tags"] for t in lt["tag_specifications"])


def test_instance_role_is_least_privilege(synth_aws: dict, settings: dict) -> None:
    doc = synth_aws["prod"]
    role = one(doc, "aws_iam_role", "app_compute_role")
    trust = json.loads(role["assume_role_policy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = sorted(a["policy_arn"].rsplit("/", 1)[1] for a in app(doc, "aws_iam_role_policy_attachment").values())
    assert attached == sorted(MANAGED_POLICIES)
    # one inline policy: the workload's grants (tests/test_workload_platform.py checks each one)
    names = [p["name"] for p in app(doc, "aws_iam_role_policy").values()]
    assert names == [f"{settings['prod'].name_prefix}-app-workload"]


@pytest.mark.parametrize("env", ENVS)
def test_autoscaling_groups_per_colour(synth_aws: dict, settings: dict, env: str) -> None:
    doc, s = synth_aws[env], settings[env]
    groups = app(doc, "aws_autoscaling_group")
    assert sorted(g["name"] for g in groups.values()) == [f"{s.name_prefix}-app-blue", f"{s.name_prefix}-app-green"]
    for g in groups.values():
        assert len(g["vpc_zone_identifier"]) == s.network.az_count
        assert all("private" in x for x in g["vpc_zone_identifier"])
        assert g["health_check_type"] == "ELB"
        assert (g["min_size"], g["max_size"]) == (s.sizes.min_capacity, s.sizes.max_capacity)
        assert g["desired_capacity"] == (s.sizes.desired_capacity or s.sizes.min_capacity)
        assert g["lifecycle"] == {"ignore_changes": ["desired_capacity"]}
        assert g["instance_refresh"]["strategy"] == "Rolling"
        assert g["instance_refresh"]["preferences"]["min_healthy_percentage"] == \
            s.app.instance_refresh_min_healthy_percentage
        assert "wait_for_capacity_timeout" not in g  # only the local target sets it
        assert len(g["target_group_arns"]) == 1
        assert g["depends_on"] == [k for k in ["aws_kms_grant." + n for n in app(doc, "aws_kms_grant")]]
        if s.app.enable_spot:
            mixed = g["mixed_instances_policy"]
            dist = mixed["instances_distribution"]
            assert dist["on_demand_base_capacity"] == s.app.on_demand_base_capacity
            assert dist["on_demand_percentage_above_base_capacity"] == s.app.on_demand_percentage_above_base
            types = [o["instance_type"] for o in mixed["launch_template"]["override"]]
            assert types == [s.sizes.instance_type, *s.app.spot_instance_types]
            assert "launch_template" not in g and g["capacity_rebalance"] is True
        else:
            assert "mixed_instances_policy" not in g and ref(g["launch_template"]["id"], "aws_launch_template", "")


def test_autoscaling_role_gets_a_grant_on_the_ebs_key(synth_aws: dict) -> None:
    grant = one(synth_aws["prod"], "aws_kms_grant", "app_")
    assert ref(grant["key_id"], "aws_kms_key", "kms-data")
    assert grant["grantee_principal"].endswith(
        ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    assert {"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant"} <= set(grant["operations"])


# -- scaling and alarms --------------------------------------------------------------------------------------------

def test_scaling_policies_per_colour(synth_aws: dict, settings: dict) -> None:
    doc, a = synth_aws["prod"], settings["prod"].app
    policies = app(doc, "aws_autoscaling_policy")
    assert len(policies) == 6
    for colour in ("blue", "green"):
        cpu = next(p for k, p in policies.items() if f"{colour}-cpu-target" in k)
        assert cpu["target_tracking_configuration"]["predefined_metric_specification"][
            "predefined_metric_type"] == "ASGAverageCPUUtilization"
        assert cpu["target_tracking_configuration"]["target_value"] == a.cpu_target_percent
        mem = next(p for k, p in policies.items() if f"{colour}-memory-target" in k)
        spec = mem["target_tracking_configuration"]["customized_metric_specification"]
        assert (spec["namespace"], spec["metric_name"]) == ("CWAgent", "mem_used_percent")
        assert spec["metric_dimension"][0]["name"] == "AutoScalingGroupName"
        assert mem["target_tracking_configuration"]["target_value"] == a.memory_target_percent
        burst = next((k, p) for k, p in policies.items() if f"{colour}-cpu-burst" in k)
        assert burst[1]["policy_type"] == "StepScaling"
        assert [s["scaling_adjustment"] for s in burst[1]["step_adjustment"]] == \
            [a.burst_step_instances, 2 * a.burst_step_instances]
        alarm = next(x for x in app(doc, "aws_cloudwatch_metric_alarm").values()
                     if x["alarm_name"].endswith(f"app-{colour}-cpu-burst"))
        assert alarm["threshold"] == a.burst_cpu_percent
        assert any(burst[0] in action for action in alarm["alarm_actions"])


def test_alarms_for_unhealthy_hosts_and_5xx_rate_go_to_alerting(synth_aws: dict, settings: dict) -> None:
    doc = synth_aws["prod"]
    alarms = {a["alarm_name"].split("-app-", 1)[1]: a for a in app(doc, "aws_cloudwatch_metric_alarm").values()}
    assert {"blue-unhealthy-hosts", "green-unhealthy-hosts", "target-5xx-rate", "elb-5xx"} <= set(alarms)
    unhealthy = alarms["blue-unhealthy-hosts"]
    assert unhealthy["metric_name"] == "UnHealthyHostCount" and unhealthy["namespace"] == "AWS/ApplicationELB"
    assert set(unhealthy["dimensions"]) == {"TargetGroup", "LoadBalancer"}
    rate = alarms["target-5xx-rate"]
    assert rate["threshold"] == settings["prod"].app.error_rate_percent
    exprs = [q for q in rate["metric_query"] if q.get("expression")]
    assert len(exprs) == 1 and exprs[0]["return_data"] is True and "errors" in exprs[0]["expression"]
    # wired to the alerting topics (critical for 5xx, warning for unhealthy hosts)
    # critical: the critical topic, and in prod the on-call response plan (modules/security/oncall.py)
    assert any(ref(x, "aws_sns_topic", "critical") for x in rate["alarm_actions"])
    assert all(ref(x, "aws_sns_topic", "critical") or "aws_ssmincidents_response_plan." in x
               for x in rate["alarm_actions"])
    assert all(ref(x, "aws_sns_topic", "warning") for x in unhealthy["alarm_actions"]) and unhealthy["alarm_actions"]


def test_outputs_expose_alb_listener_groups(synth_aws: dict) -> None:
    outputs = synth_aws["dev"]["output"]
    assert {"alb_arn", "alb_dns_name", "https_listener_arn", "app_target_group_arns", "app_asg_names"} <= set(outputs)


def test_release_names_match_the_synthesized_resources(synth_aws: dict, settings: dict) -> None:
    from pipeline.release import names, parameter_name

    doc, prefix = synth_aws["staging"], settings["staging"].name_prefix
    n = names(prefix)
    assert one(doc, "aws_lb", "app_")["name"] == n["alb"]
    assert sorted(v["name"] for v in app(doc, "aws_lb_target_group").values()) == sorted(n["target_groups"].values())
    assert sorted(v["name"] for v in app(doc, "aws_autoscaling_group").values()) == sorted(n["asgs"].values())
    assert n["error_alarm"] in [a["alarm_name"] for a in app(doc, "aws_cloudwatch_metric_alarm").values()]
    (record,) = [v for k, v in doc["data"]["aws_ssm_parameters_by_path"].items() if k.startswith("app_")]
    assert parameter_name(prefix).startswith(record["path"]) and record["path"] == f"/{prefix}/app/"


# -- local target --------------------------------------------------------------------------------------------------

def test_local_target_differences(synth_local_dev: dict, synth_aws: dict) -> None:
    doc = synth_local_dev
    cert = one(doc, "aws_acm_certificate", "app_")
    https = next(v for v in app(doc, "aws_lb_listener").values() if v["port"] == 443)
    assert ref(https["certificate_arn"], "aws_acm_certificate", "local-certificate")
    assert cert["validation_method"] == "DNS" and "private_key" not in cert
    for g in app(doc, "aws_autoscaling_group").values():
        assert "instance_refresh" not in g  # moto: StartInstanceRefresh not implemented
        assert g["wait_for_capacity_timeout"] == "0"  # moto: a mixed instances group launches one too few
    assert not app(synth_aws["dev"], "aws_acm_certificate")
    # everything else is the same resource set
    local_types = {t for t, rs in doc["resource"].items() if any(k.startswith("app_") for k in rs)}
    aws_types = {t for t, rs in synth_aws["dev"]["resource"].items() if any(k.startswith("app_") for k in rs)}
    assert local_types - aws_types == {"aws_acm_certificate"} and not aws_types - local_types


# -- bad settings --------------------------------------------------------------------------------------------------

def test_module_settings_reject_conflicts() -> None:
    base = dict(public_subnet_ids=("a", "b"), vpc_id="v")
    with pytest.raises(ModuleSettingsError, match="`certificate_arn` is required"):
        LoadBalancerSettings(**base)
    with pytest.raises(ModuleSettingsError, match="Only one of `certificate_arn` or `request_local_certificate`"):
        LoadBalancerSettings(**base, certificate_arn="arn:x", request_local_certificate=True)
    with pytest.raises(ModuleSettingsError, match="`health_check_interval_seconds` must be greater"):
        LoadBalancerSettings(**base, certificate_arn="arn:x", health_check_interval_seconds=5,
                             health_check_timeout_seconds=5)
    with pytest.raises(ModuleSettingsError, match="TLS 1.3"):
        LoadBalancerSettings(**base, certificate_arn="arn:x", ssl_policy="ELBSecurityPolicy-2016-08")
    cbase = dict(vpc_id="v", private_subnet_ids=("a",), ebs_kms_key_arn="k")
    with pytest.raises(ModuleSettingsError, match="`spot_instance_types` must list at least one"):
        ComputeSettings(**cbase, enable_spot=True)
    with pytest.raises(ModuleSettingsError, match=r"`min_capacity` \(3\) must be between 0 and `max_capacity` \(2\)"):
        ComputeSettings(**cbase, min_capacity=3, max_capacity=2)


BAD = [
    ("health_check_interval_seconds = 5\nhealth_check_timeout_seconds = 5",
     "dev.toml: app: health_check_interval_seconds (5) must be greater than health_check_timeout_seconds (5); "
     "raise app.health_check_interval_seconds"),
    ("on_demand_percentage_above_base = 150", "set app.on_demand_percentage_above_base between 0 and 100"),
    ("spot_instance_types = []", "list at least one in app.spot_instance_types"),
    ('ssl_policy = "ELBSecurityPolicy-2016-08"', "set app.ssl_policy to one starting with"),
    ("release_steps = [50, 10]", "set app.release_steps to e.g. [10, 50, 100]"),
    ('certificate_arn = "not-an-arn"', "is not an ACM certificate ARN"),
    ("initial_weights = { blue = 60, green = 60 }", "add up to 100"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[b[0].split(" ")[0] for b in BAD])
def test_bad_app_settings_exit_2(tmp_path: Path, extra: str, message: str) -> None:
    for name in ENVS:
        shutil.copy(ROOT / "envs" / f"{name}.toml", tmp_path / f"{name}.toml")
    path = tmp_path / "dev.toml"
    text = path.read_text()
    assert "\n[app]\n" in text
    key = extra.split(" ")[0]
    lines = [line for line in text.split("\n[app]\n", 1)[1].splitlines() if not line.startswith(key)]
    head = text.split("\n[app]\n", 1)[0]
    path.write_text(head + "\n[app]\n" + extra + "\n" + "\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(tmp_path), "synth", "--env",
                           "dev", "--outdir", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "app" in proc.stderr and not (tmp_path / "out").exists()


# -- the release logic (the end-to-end run against the emulator is tests/test_release_e2e.py) ----------------------

class FakeApi:
    def __init__(self, unhealthy_from: int | None = None) -> None:
        self.record = None
        self.listener = {"blue": 100, "green": 0}
        self.history: list[dict[str, int]] = []
        self.unhealthy_from = unhealthy_from

    def read_record(self):
        return self.record

    def write_record(self, record) -> None:
        from pipeline.release import Record

        self.record = Record.from_json(record.to_json())

    def resolve_image(self, parameter: str) -> str:
        return "ami-0123"

    def target_group_arn(self, colour: str) -> str:
        return f"arn:tg/{colour}"

    def set_weights(self, weights) -> None:
        self.listener = dict(weights)
        self.history.append(dict(weights))

    def target_health(self, colour: str) -> list[str]:
        weight = self.listener[colour]
        bad = self.unhealthy_from is not None and weight >= self.unhealthy_from
        return ["unused" if bad else "healthy"] * 2

    def error_alarm_state(self):
        return "OK"


def run_release(api: FakeApi, deploy_code: int = 0) -> int:
    from pipeline.release import Release, ReleasePlan

    plan = ReleasePlan(env="dev", version="v2", steps=(10, 50, 100), bake_seconds=0, health_timeout_seconds=10)
    return Release(api, plan, {"blue": 100, "green": 0}, "/aws/param", lambda: deploy_code, say=lambda m: None).run()


def test_release_shifts_in_steps_and_records_the_new_live_colour() -> None:
    api = FakeApi()
    assert run_release(api) == 0
    assert api.history == [{"green": 10, "blue": 90}, {"green": 50, "blue": 50}, {"green": 100, "blue": 0}]
    assert api.record.live == "green" and api.record.weights == {"green": 100, "blue": 0}
    assert api.record.colours["green"] == {"version": "v2", "image_id": "ami-0123"}
    # the next release goes to blue
    assert run_release(api) == 0 and api.record.live == "blue" and api.listener == {"blue": 100, "green": 0}


def test_release_rolls_back_on_failed_validation() -> None:
    api = FakeApi(unhealthy_from=50)
    assert run_release(api) == 1
    assert api.history[-1] == {"blue": 100, "green": 0} and api.listener == {"blue": 100, "green": 0}
    assert api.record.weights == {"blue": 100, "green": 0} and api.record.live == "blue"
    assert api.record.last["status"] == "rolled-back" and "not all healthy" in api.record.last["reason"]


def test_release_does_not_shift_when_the_deploy_fails() -> None:
    from pipeline.release import ReleaseError

    api = FakeApi()
    with pytest.raises(ReleaseError, match="traffic was not shifted"):
        run_release(api, deploy_code=1)
    assert api.history == [] and api.record.last["status"] == "deploy-failed"
