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
    policies = resources(synth_aws["prod"], "aws_sns_topic_policy")
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
    subs = resources(doc, "aws_sns_topic_subscription")
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
    from modules.alerting import AlertingSettings, Subscription
    from modules.base import ModuleSettingsError

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
