"""DR modes (envs/dr.py) and the pilot light (modules/stack/pilot_light.py, modules/data/dr_database.py) on the synthesized JSON:
what the emulator cannot show (the cross-region read replica on the aws target, the warm standby), the objectives'
validation, and the shipped environments' choices. The failover and failback themselves run end to end in
tests/test_dr_e2e.py."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, resources

DR_ENV = ROOT / "tests" / "envs" / "dr"


def _envs(tmp_path: Path, edit: str = "", folder: Path = DR_ENV) -> Path:
    out = tmp_path / "envs"
    out.mkdir(exist_ok=True)
    text = (folder / "dev.toml").read_text()
    head, rest = text.split("[data.dr]\n")
    section, sep, tail = rest.partition("\n[")
    for line in filter(None, edit.split("\n")):  # set a key of [data.dr]
        key = line.split("=")[0].strip()
        section, n = re.subn(rf"(?m)^{re.escape(key)} = .*$", line, section, count=1)
        if not n:
            section = f"{line}\n{section}"
    (out / "dev.toml").write_text(f"{head}[data.dr]\n{section}{sep}{tail}")
    return out


def _problems(folder: Path) -> list[str]:
    import envs
    from envs import SettingsError

    with pytest.raises(SettingsError) as exc:
        envs.load("dev", folder)
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("edit, expected", [
    ('mode = "backup-only"\nrpo_minutes = 60',
     'data.dr.rpo_minutes: is 60 but mode "backup-only" cannot keep data loss under 1440 minutes'),
    ('mode = "backup-only"\nrto_minutes = 60',
     'data.dr.rto_minutes: is 60 but mode "backup-only" cannot recover in under 120 minutes; raise '
     'data.dr.rto_minutes to 120 or more, or set data.dr.mode = "pilot-light" (30) or "warm-standby" (10)'),
    ("rto_minutes = 15", 'data.dr.rto_minutes: is 15 but mode "pilot-light" cannot recover in under 30 minutes'),
    ("rpo_minutes = 1", 'data.dr.rpo_minutes: is 1 but mode "pilot-light" cannot keep data loss under 5 minutes'),
    ('mode = "warm-standby"\nstandby_capacity = 0', "data.dr.standby_capacity: is 0 but a warm standby keeps "
                                                    "instances running; set data.dr.standby_capacity = 1 or more"),
    ("standby_capacity = 1", 'data.dr.standby_capacity: is 1 but mode "pilot-light" runs no instances'),
    ('certificate_arn = "arn:aws:acm:us-east-1:111111111111:certificate/x"',
     "data.dr.certificate_arn: is not in dr_region (us-west-2)"),
    ('secondary_endpoint = "standby.example.com"', "data.dr.secondary_endpoint: is set, but with mode"),
])
def test_objectives_and_mode_are_validated(tmp_path: Path, edit: str, expected: str) -> None:
    problems = _problems(_envs(tmp_path, edit))
    assert any(expected in p for p in problems), problems
    assert all("dev.toml" in p for p in problems)


def test_pilot_light_needs_the_app_tier(tmp_path: Path) -> None:
    folder = _envs(tmp_path)
    path = folder / "dev.toml"
    path.write_text(path.read_text().replace("[app]\n", "[app]\nenabled = false\n"))
    assert any('data.dr.mode: is "pilot-light", which runs the app tier in the DR region, but app.enabled is false'
               in p for p in _problems(folder))


def test_bad_objective_exits_2_naming_file_field_and_fix(tmp_path: Path) -> None:
    folder = _envs(tmp_path, "rto_minutes = 5")
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(folder), "dr", "failover",
                          "--env", "dev"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "dev.toml: data.dr.rto_minutes: is 5" in run.stderr and "Traceback" not in run.stderr


def test_backup_only_environment_refuses_failover(tmp_path: Path) -> None:
    folder = _envs(tmp_path, 'mode = "backup-only"\nrto_minutes = 240\nrpo_minutes = 1440\n'
                             'certificate_arn = "arn:aws:acm:us-west-2:111111111111:certificate/x"')
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(folder), "dr", "failback",
                          "--env", "dev"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2 and 'data.dr.mode = "backup-only"' in run.stderr, run.stdout + run.stderr


def test_defaults_keep_the_documented_behaviour() -> None:
    from envs.data import DrSettings
    from envs.dr import objectives

    assert DrSettings().mode == "backup-only"

    class Env:  # the objectives of an environment that sets nothing under [data.dr]
        protected = False
        data = type("D", (), {"dr": DrSettings(), "database": type("B", (), {
            "enabled": True, "replicate_backups_to_dr": None})()})()

    assert objectives(Env()) == (240, 1440)


def test_shipped_environments(settings: dict) -> None:
    from envs.dr import objectives

    assert {e: settings[e].data.dr.mode for e in ("dev", "staging", "prod")} == {
        "dev": "backup-only", "staging": "backup-only", "prod": "pilot-light"}
    assert objectives(settings["prod"]) == (60, 15)


def _synth(folder: Path, tmp_path: Path, local: bool = False) -> dict[str, Any]:
    import envs
    from envs.target import AWS, Target
    from pipeline.synth import synthesize

    target = Target(kind="local", endpoint="http://127.0.0.1:9") if local else AWS
    out = synthesize({"dev": envs.load("dev", folder)}, target, tmp_path / ("local" if local else "aws"),
                     commit="0123456789ab")
    return json.loads(out.stacks["dev"].read_text())


def _pilot(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in resources(doc, rtype).items() if n.startswith("pilot-light_")}


@pytest.fixture(scope="module")
def dr_aws(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(DR_ENV, tmp_path_factory.mktemp("dr-aws"))


def test_pilot_light_lives_in_the_dr_region(dr_aws: dict[str, Any]) -> None:
    for rtype, items in dr_aws["resource"].items():
        for name, body in items.items():
            if name.startswith("pilot-light_dns_"):  # Route 53 is global; its alarm is the primary's
                assert body.get("provider") is None, (rtype, name)
            elif name.startswith("pilot-light_"):
                assert body.get("provider") == "aws.dr", (rtype, name)
    (asg_blue, asg_green) = sorted(_pilot(dr_aws, "aws_autoscaling_group").values(), key=lambda g: g["name"])
    assert (asg_blue["name"], asg_blue["min_size"], asg_blue["desired_capacity"]) == ("drtest-dev-dr-app-blue", 0, 0)
    assert asg_green["min_size"] == 0
    (listener,) = [l for l in _pilot(dr_aws, "aws_lb_listener").values() if l["port"] == 443]
    assert listener["certificate_arn"].startswith("arn:aws:acm:us-west-2:")
    assert {k["description"].split(":")[0] for k in _pilot(dr_aws, "aws_kms_key").values()} == {
        "drtest-dev-dr-logs", "drtest-dev-dr-data", "drtest-dev-dr-secrets"}


def test_commands_name_what_the_stack_synthesizes(dr_aws: dict[str, Any]) -> None:
    """`dr failover` / `failback` find the resources by the contract's names (envs/contract.py), the same functions the
    constructs name them by: every name the commands use is in the synthesized JSON of the DR test environment."""
    from envs.loader import load
    from pipeline.dr import names_for

    n = names_for(load("dev", DR_ENV))

    def named(rtype: str, key: str = "name") -> set[str]:
        return {r.get(key) for r in resources(dr_aws, rtype).values()}

    assert {n.primary_db, n.dr_db} <= named("aws_db_instance", "identifier")
    assert set(n.asgs(False).values()) | set(n.asgs(True).values()) <= named("aws_autoscaling_group")
    assert set(n.target_groups(False).values()) | set(n.target_groups(True).values()) <= named("aws_lb_target_group")
    assert {n.alb(False), n.alb(True)} <= named("aws_lb")
    assert {n.key_alias("data", dr=False), n.key_alias("secrets", dr=True)} <= named("aws_kms_alias")
    assert n.dr_db.startswith(n.dr) and n.family == "postgres16"
    assert {f"{n.prefix}-{n.family}", f"{n.dr}-{n.family}"} <= named("aws_db_parameter_group")
    health = {r["tags"]["Name"] for r in resources(dr_aws, "aws_route53_health_check").values()}
    assert f"{n.prefix}-primary-health" in health
    assert n.zone_name in named("aws_route53_zone")
    records = {r["name"] for r in resources(dr_aws, "aws_route53_record").values() if "failover_routing_policy" in r}
    assert set(n.record_names) <= records


def test_cross_region_read_replica_on_aws(dr_aws: dict[str, Any]) -> None:
    (replica,) = _pilot(dr_aws, "aws_db_instance").values()
    assert replica["identifier"] == "drtest-dev-dr-postgres"
    assert re.fullmatch(r"\$\{aws_db_instance\.data_database_primary_\w+\.arn\}", replica["replicate_source_db"])
    assert re.fullmatch(r"\$\{aws_kms_key\.pilot-light_kms-data_key_\w+\.arn\}", replica["kms_key_id"])
    assert "pilot-light_network_db-subnets" in replica["db_subnet_group_name"]
    assert replica["storage_encrypted"] and replica["iam_database_authentication_enabled"]
    assert replica["publicly_accessible"] is False and "manage_master_user_password" not in replica
    (lag,) = [a for a in _pilot(dr_aws, "aws_cloudwatch_metric_alarm").values() if a.get("metric_name") == "ReplicaLag"]
    assert lag["threshold"] == 15 * 60


def test_secret_replicated_and_read_from_the_dr_region(dr_aws: dict[str, Any]) -> None:
    secrets = resources(dr_aws, "aws_secretsmanager_secret")
    (primary,) = secrets.values()  # the DR tier creates none: it reads the replica
    (replica,) = primary["replica"]
    assert replica["region"] == "us-west-2" and "pilot-light_kms-secrets" in replica["kms_key_id"]
    (policy,) = [p for n, p in _pilot(dr_aws, "aws_iam_role_policy").items() if "workload" in n]
    text = policy["policy"]
    assert "secretsmanager:us-west-2" in text and "drtest-dev/app/runtime-??????" in text
    assert "secretsmanager.us-west-2.amazonaws.com" in text


def test_failover_records_point_at_the_dr_load_balancer(dr_aws: dict[str, Any]) -> None:
    records = _pilot(dr_aws, "aws_route53_record")
    pairs = {(r["name"], r["failover_routing_policy"]["type"]): r for r in records.values()}
    assert set(pairs) == {(n, t) for n in ("app", "origin") for t in ("PRIMARY", "SECONDARY")}
    checks = _pilot(dr_aws, "aws_route53_health_check")
    for name in ("app", "origin"):
        primary, secondary = pairs[(name, "PRIMARY")], pairs[(name, "SECONDARY")]
        assert primary["type"] == secondary["type"] == "A"
        assert primary["alias"]["name"].startswith("${aws_lb.app_lb_alb_")
        assert secondary["alias"]["name"].startswith("${aws_lb.pilot-light_app_lb_alb_")
        assert "primary-health" in primary["health_check_id"] and "dr-health" in secondary["health_check_id"]
    for check in checks.values():  # the application's health path, HTTPS, through each region's load balancer
        assert (check["type"], check["resource_path"], check["port"]) == ("HTTPS", "/health", 443)
        assert check["fqdn"].startswith("${aws_lb.")
    # CloudFront / API Gateway reach the app by origin.<zone>: no plain record left that would pin it to the primary
    assert not [r for n, r in resources(dr_aws, "aws_route53_record").items() if n.startswith("data_origin-record")]


def test_warm_standby_keeps_instances(tmp_path: Path) -> None:
    doc = _synth(_envs(tmp_path, 'mode = "warm-standby"\nrto_minutes = 15\nstandby_capacity = 1'), tmp_path)
    groups = _pilot(doc, "aws_autoscaling_group").values()
    assert {(g["min_size"], g["desired_capacity"]) for g in groups} == {(1, 1)}


def test_local_target_leaves_the_replica_out(tmp_path: Path) -> None:
    doc = _synth(DR_ENV, tmp_path, local=True)
    assert not _pilot(doc, "aws_db_instance")
    assert [g["name"] for g in _pilot(doc, "aws_security_group").values() if "database" in g["name"]] == [
        "drtest-dev-dr-database"]
    assert [g["name"] for g in _pilot(doc, "aws_db_parameter_group").values()] == ["drtest-dev-dr-postgres16"]


def test_dev_has_no_pilot_light_and_prod_has_one(synth_aws: dict) -> None:
    assert not [n for items in synth_aws["dev"]["resource"].values() for n in items if n.startswith("pilot-light_")]
    assert not [n for items in synth_aws["staging"]["resource"].values() for n in items
                if n.startswith("pilot-light_")]
    prod = synth_aws["prod"]
    assert _pilot(prod, "aws_db_instance") and _pilot(prod, "aws_wafv2_web_acl_association")
    assert len(_pilot(prod, "aws_nat_gateway")) == 1  # a pilot light: one NAT gateway, not one per AZ


def test_dr_keys_name_the_dr_regions_services(dr_aws: dict[str, Any]) -> None:
    """The DR keys grant what the primary's grant, through the DR region's service endpoints only."""
    keys = _pilot(dr_aws, "aws_kms_key")
    for key in keys.values():
        text = key["policy"]
        assert re.findall(r"[a-z0-9-]+\.us-east-1\.amazonaws\.com", text) == [], key["description"]
        assert key["enable_key_rotation"] is True
    data = next(k for k in keys.values() if k["description"].startswith("drtest-dev-dr-data"))
    assert "rds.us-west-2.amazonaws.com" in data["policy"] and "ec2.us-west-2.amazonaws.com" in data["policy"]
