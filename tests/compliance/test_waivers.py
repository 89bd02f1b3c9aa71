"""The waiver rules: named resources (globs only below a prefix), a reason of substance, an owner, an expiry within the
window of the check's severity, no CRITICAL waiver in prod; every broken rule is a blocking PLAT_WAIVER_INVALID that
names the file, the entry and the field. The project's own waiver file obeys them."""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from compliance.gate import Gate
from compliance.policy import PolicyError, load_severities
from compliance.waivers import DEFAULT_WAIVERS, load_waivers

TODAY = dt.date(2026, 12, 2)
FX = Path(__file__).parent / "fixtures"


def entry(**over) -> str:
    fields = {"check": '"PLAT_KMS_001"', "resource": '"aws_kms_key.fail_rotation"',  # HIGH
              "reason": '"legacy key, rotation tracked in SEC-123 until the migration"',
              "owner": '"security-team"', "expires": (TODAY + dt.timedelta(days=60)).isoformat()}
    fields.update({k: v for k, v in over.items() if v is not None})
    for k in [k for k, v in over.items() if v is None]:
        fields.pop(k, None)
    return "[[waiver]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items())


def load(tmp_path: Path, *entries: str):
    p = tmp_path / "waivers.toml"
    p.write_text("\n".join(entries))
    return load_waivers(p, today=TODAY)


def problem(tmp_path: Path, **over) -> str:
    waivers, problems = load(tmp_path, entry(**over))
    assert not waivers and len(problems) == 1, problems
    assert str(tmp_path / "waivers.toml") in problems[0].message and "waiver #1" in problems[0].message
    return problems[0].message


def test_a_valid_waiver_is_accepted(tmp_path) -> None:
    waivers, problems = load(tmp_path, entry(), entry(resource='"module.logs.aws_s3_bucket.*"', check='"PLAT_S3_001"'),
                             entry(resource='"aws_kms_key.legacy_*"', owner='"ops@example.com"'),
                             entry(check='"PLAT_SEC_001"', environments='["dev", "staging"]',
                                   expires=(TODAY + dt.timedelta(days=30)).isoformat()))
    assert problems == [] and len(waivers) == 4


@pytest.mark.parametrize("resource", ["*", "aws_s3_bucket.*", "aws_s3_bucket.a*", "*.logs", "module.*",
                                      "aws_*.x", "aws_s3_bucket.[a-z]*", "aws_s3_bucket.?"])
def test_glob_of_a_whole_type_or_everything_is_refused(tmp_path, resource) -> None:
    msg = problem(tmp_path, resource=f'"{resource}"')
    assert "`resource`" in msg and "too wide" in msg


@pytest.mark.parametrize("reason", ["x", "TODO", "todo: write a reason later on", "n/a n/a n/a n/a n/a n/a",
                                    "aaaaaaaaaaaaaaaaaaaaaaaaa", "temporary exception xx", "because"])
def test_a_reason_must_have_substance(tmp_path, reason) -> None:
    assert "`reason`" in problem(tmp_path, reason=f'"{reason}"')


@pytest.mark.parametrize("owner", ["o", "me", "admin", "tbd", "John", "platform team"])
def test_an_owner_is_an_email_or_a_team(tmp_path, owner) -> None:
    assert "`owner`" in problem(tmp_path, owner=f'"{owner}"')


@pytest.mark.parametrize("check,days,ok", [("PLAT_SEC_001", 30, True), ("PLAT_SEC_001", 31, False),  # CRITICAL
                                           ("PLAT_KMS_001", 90, True), ("PLAT_KMS_001", 91, False),  # HIGH
                                           ("PLAT_S3_001", 180, True), ("PLAT_S3_001", 181, False),  # MEDIUM
                                           ("PLAT_S3_002", 365, True), ("PLAT_S3_002", 366, False),  # LOW
                                           ("CKV_AWS_999", 365, True), ("CKV_AWS_999", 3000, False)])  # unlisted
def test_expiry_within_the_window_of_the_severity(tmp_path, check, days, ok) -> None:
    over = {"check": f'"{check}"', "expires": (TODAY + dt.timedelta(days=days)).isoformat()}
    if check == "PLAT_SEC_001":
        over["environments"] = '["dev"]'
    waivers, problems = load(tmp_path, entry(**over))
    assert (len(waivers), len(problems)) == ((1, 0) if ok else (0, 1))
    if not ok:
        assert "`expires`" in problems[0].message and "at most" in problems[0].message


def test_year_9999_and_past_expiries_are_refused(tmp_path) -> None:
    assert "at most 90 days" in problem(tmp_path, expires="9999-12-31")
    assert "has passed" in problem(tmp_path, expires=TODAY.isoformat())


@pytest.mark.parametrize("envs", [None, '["prod"]', '["staging", "prod"]'])
def test_a_critical_finding_cannot_be_waived_in_prod(tmp_path, envs) -> None:
    msg = problem(tmp_path, check='"PLAT_SEC_001"', environments=envs,
                  expires=(TODAY + dt.timedelta(days=10)).isoformat())
    assert "CRITICAL" in msg and "prod" in msg


def test_every_fault_of_an_entry_is_named(tmp_path) -> None:
    msg = problem(tmp_path, resource='"*"', reason='"x"', owner='"o"', expires="9999-01-01")
    for field in ("`resource`", "`reason`", "`owner`", "`expires`"):
        assert field in msg


def test_window_comes_from_the_policy(tmp_path) -> None:
    sev = tmp_path / "severities.toml"
    sev.write_text('unlisted = "INFO"\n[waiver_max_days]\nHIGH = 7\n[project]\nPLAT_KMS_001 = "HIGH"\n')
    p = tmp_path / "w.toml"
    p.write_text(entry(expires=(TODAY + dt.timedelta(days=8)).isoformat()))
    _, problems = load_waivers(p, today=TODAY, severities=load_severities(sev))
    assert "at most 7 days" in problems[0].message
    sev.write_text('unlisted = "INFO"\n[waiver_max_days]\nHIGH = 0\n')
    with pytest.raises(PolicyError, match="waiver_max_days"):
        load_severities(sev)


def test_the_invalid_waiver_blocks_and_waives_nothing(tmp_path) -> None:
    p = tmp_path / "waivers.toml"
    p.write_text(entry(resource='"aws_kms_key.*"', reason='"x"'))
    r = Gate("dev", waivers_file=p, run_checkov=False).scan_tf_json([FX / "PLAT_KMS_001" / "cdk.tf.json"])
    invalid = [f for f in r.findings if f.check_id == "PLAT_WAIVER_INVALID"]
    assert len(invalid) == 1 and invalid[0].blocking and r.exit_code == 1
    assert "waiver #1" in invalid[0].title and "`resource`" in invalid[0].title and "`reason`" in invalid[0].title
    assert not any(f.status == "waived" for f in r.findings)


def test_the_project_waiver_file_obeys_the_rules_today_and_in_four_weeks() -> None:
    """Fails four weeks before a waiver of compliance/waivers.toml expires: renew it after review (or fix the
    finding) before the environments' gates start to block on it."""
    today = dt.date.today()
    for day in (today, today + dt.timedelta(days=28)):
        waivers, problems = load_waivers(DEFAULT_WAIVERS, today=day)
        expiring = [p.message for p in problems if "has passed" in p.message]
        assert not expiring, f"a waiver expires within four weeks of {today}: {expiring}"
        assert [p.message for p in load_waivers(DEFAULT_WAIVERS, today=today)[1]] == []
        assert len(waivers) == 11  # 8 + the DR load balancer access-log bucket (pilot light) waivers
