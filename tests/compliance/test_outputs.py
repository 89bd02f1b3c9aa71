from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compliance.cli import check_command, review_command
from compliance.gate import Gate
from compliance.report import render
from compliance.review import render_review
from compliance.secrets import MASK

FX = Path(__file__).resolve().parent / "fixtures"
SECRETS = ["Fixture-Pa55word-1", "Fixture-Var-Pa55word", "Fixture-Plaintext-Secret-1", "AKIAIOSFODNN7EXAMPLE",
           "Fixture-Env-Pa55", "foobarbaz"]


@pytest.fixture(scope="module")
def results():
    return [Gate(None, run_checkov=False).scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"]),
            Gate("dev", run_checkov=False).scan_plan([FX / "PLAT_SEC_001" / "tfplan.json",
                                                      FX / "PLAT_GUARD_STATEFUL" / "tfplan.json"])]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit"])
def test_formats_parse_and_hold_no_secret(results, fmt):
    out = render(results, fmt)
    for s in SECRETS:
        assert s not in out
    if fmt == "json":
        doc = json.loads(out)
        assert doc["schema"] == "platform-compliance/v1" and doc["exit_code"] == 1
        f = doc["results"][0]["findings"][0]
        assert set(f) >= {"check_id", "severity", "resource", "file", "status", "blocking", "level", "source"}
    if fmt == "sarif":
        doc = json.loads(out)
        assert doc["version"] == "2.1.0"
        run = doc["runs"][0]
        ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
        for res in run["results"]:
            assert res["ruleId"] in ids and res["level"] in ("error", "warning", "note")
            assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    if fmt == "junit":
        root = ET.fromstring(out)
        assert root.tag == "testsuites" and int(root.get("failures")) >= 1


def test_review_masks_sensitive_values():
    for name in ("PLAT_SEC_001", "PLAT_RDS_004", "ACCEPT_provider_docs"):
        plan = json.loads((FX / name / "tfplan.json").read_text())
        for fmt in ("markdown", "json"):
            out = render_review(plan, fmt=fmt)
            for s in SECRETS:
                assert s not in out, (name, fmt, s)
        assert MASK in render_review(plan, fmt="json")


def big_plan(n: int) -> dict:
    rnd = random.Random(7)
    rcs = []
    for i in range(n):
        action = rnd.choice([["create"], ["update"], ["delete"], ["delete", "create"]])
        mod = f"module.svc_{i % 40}."
        rtype = rnd.choice(["aws_s3_bucket", "aws_db_instance", "aws_iam_role", "aws_security_group_rule"])
        before = None if action == ["create"] else {"name": f"old-{i}", "password": f"S3cret-{i}-pw",
                                                        "description": "x" * 300}
        after = None if action == ["delete"] else {"name": f"new-{i}", "password": f"S3cret-{i}-pw",
                                                       "description": "y" * 300, "tags": {"Owner": "team"}}
        rcs.append({"address": f"{mod}{rtype}.r{i}", "mode": "managed", "type": rtype, "name": f"r{i}",
                    "change": {"actions": action, "before": before, "after": after, "after_unknown": {"id": True},
                               "before_sensitive": {"password": True} if before else False,
                               "after_sensitive": {"password": True} if after else False}})
    return {"format_version": "1.2", "resource_changes": rcs}


def test_review_of_thousands_of_changes_fits():
    plan = big_plan(5000)
    out = render_review(plan, title="prod")
    assert len(out) <= 65_000
    assert "Cut to fit" in out
    assert "S3cret-" not in out
    assert out.index("Replacements and deletions") < out.index("### Details")
    gate = Gate("prod", run_checkov=False).scan_plan([FX / "PLAT_GUARD_STATEFUL" / "tfplan.json"])
    assert len(render_review(plan, gate=gate)) <= 65_000


def test_cli_check_and_review_exit_codes(tmp_path, capsys):
    out = tmp_path / "r.sarif"
    assert check_command(None, [FX / "PLAT_KMS_001" / "tfplan.json"], "dev", "sarif", out, None, ()) in (0, 1)
    assert json.loads(out.read_text())["version"] == "2.1.0"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert check_command(None, [bad], None, "text", None, None, ()) == 2
    assert "bad.json" in capsys.readouterr().err
    assert review_command(bad, "markdown", None) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "terraform show -json" in err
    binplan = FX / "ACCEPT_replaced_db" / "tfplan.bin"
    assert review_command(binplan, "markdown", None) == 2
    assert "binary Terraform plan" in capsys.readouterr().err
    assert review_command(FX / "PLAT_S3_001" / "tfplan.json", "markdown", tmp_path / "rev.md") == 0
    assert (tmp_path / "rev.md").read_text().startswith("## Terraform plan review")
    assert check_command(None, None, None, "text", None, None, ()) == 2
    assert check_command([FX / "PLAT_KMS_001"], None, "qa", "text", None, None, ()) == 2
