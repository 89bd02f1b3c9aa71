"""Every project check, on its hand-written CDKTF JSON and the real plan generated from it: exact pass/fail sets.

Expected sets come from the resource names (pass*/fail*) — never from running the check — and are asserted for
both stages, through the in-process evaluator and through the gate (which runs Checkov alongside)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance import engine
from tests.compliance.conftest import CHECK_DIRS

IDS = [d.name for d in CHECK_DIRS]


def expected(folder: Path, check) -> tuple[set[str], set[str]]:
    doc = json.loads((folder / "cdk.tf.json").read_text())
    passed, failed = set(), set()
    for rtype, named in doc["resource"].items():
        if rtype not in check.RESOURCES and "*" not in check.RESOURCES:
            continue
        for name in named:
            (passed if name.startswith("pass") else failed if name.startswith("fail") else set()).add(f"{rtype}.{name}")
    return passed, failed


def outcome_sets(loaded, cid):
    outs = [o for o in engine.evaluate(loaded) if o.check.ID == cid]
    return ({o.resource.address for o in outs if o.result == "PASSED"},
            {o.resource.address for o in outs if o.result == "FAILED"},
            {o.resource.address for o in outs if o.result == "UNKNOWN"})


def check_by_id(cid):
    return next(c for c in engine.project_checks() if c.ID == cid)


def test_at_least_fifteen_project_checks_with_fixtures():
    ids = {c.ID for c in engine.project_checks()}
    assert len(ids) >= 15
    assert all(i.startswith("PLAT_") for i in ids)
    assert ids == set(IDS), "every check has a fixture folder and vice versa"


@pytest.mark.parametrize("cid", IDS)
@pytest.mark.parametrize("stage", ["static", "plan"])
def test_exact_pass_fail_sets(cid, stage, fixtures_dir):
    folder = fixtures_dir / cid
    chk = check_by_id(cid)
    want_pass, want_fail = expected(folder, chk)
    assert want_pass and want_fail, "each fixture has pass* and fail* resources"
    loaded = (engine.load_tf_json([folder / "cdk.tf.json"]) if stage == "static"
              else engine.load_plans([folder / "tfplan.json"]))
    got_pass, got_fail, got_unknown = outcome_sets(loaded, cid)
    # resources that are neither pass* nor fail* (helpers such as keys) may be evaluated by wildcard checks
    named = want_pass | want_fail
    assert got_pass & named == want_pass
    assert got_fail & named == want_fail
    assert not (got_unknown & named)


@pytest.mark.parametrize("cid", IDS)
def test_gate_reports_exact_failures(cid, static_all, plan_all, fixtures_dir):
    folder = fixtures_dir / cid
    _, want_fail = expected(folder, check_by_id(cid))
    for result, name in ((static_all, "cdk.tf.json"), (plan_all, "tfplan.json")):
        got = {f.resource for f in result.findings if f.check_id == cid and f.result == "FAILED"
               and Path(f.file).resolve() == (folder / name).resolve()}
        assert got == want_fail, (result.stage, cid)
        assert all(f.source == "project" for f in result.findings if f.check_id == cid)


def test_gate_stages_ran_checkov_without_errors(static_all, plan_all):
    for r in (static_all, plan_all):
        assert r.errors == ()
        assert r.checkov_version
        assert any(f.source == "checkov" for f in r.findings)
        assert r.resources_scanned > 50


def test_checks_are_checkov_checks():
    from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
    from checkov.common.models.enums import CheckResult
    for c in engine.project_checks():
        assert isinstance(c, BaseResourceCheck)
    # Checkov's wrapped shape goes through scan_resource_conf
    chk = check_by_id("PLAT_RDS_001")
    chk.entity_type = "aws_db_instance"
    assert chk.scan_resource_conf({"multi_az": [True]}) == CheckResult.PASSED
    assert chk.scan_resource_conf({"multi_az": [False]}) == CheckResult.FAILED
    net = check_by_id("PLAT_NET_001")
    net.entity_type = "aws_security_group"
    conf = {"ingress": [{"from_port": [22], "to_port": [22], "protocol": ["tcp"], "cidr_blocks": [["0.0.0.0/0"]]}]}
    assert net.scan_resource_conf(conf) == CheckResult.FAILED


def test_unknown_value_gives_unknown():
    from checkov.common.models.enums import CheckResult
    from compliance.checklib import UNKNOWN, CheckContext
    chk = check_by_id("PLAT_LB_001")
    ctx = CheckContext("aws_lb_listener.x", "aws_lb_listener", stage="plan")
    assert chk.evaluate({"protocol": "HTTPS", "ssl_policy": UNKNOWN}, ctx) == CheckResult.UNKNOWN
