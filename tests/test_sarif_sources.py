"""SARIF that lands on the right line: synthesis records, next to each stack's cdk.tf.json (left unchanged), the
Python line that created each resource (pipeline/sources.py), and the SARIF report puts a finding there, with
``security-severity`` from the project's severities and a fingerprint that includes the stage."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compliance.gate import Gate
from compliance.report import render
from envs.target import AWS
from pipeline import sources, synth

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "compliance" / "fixtures"


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = synth.load_settings(["dev"], None)
    return synth.synthesize(settings, AWS, tmp_path_factory.mktemp("synth"), commit="0" * 40).stacks["dev"]


def test_every_resource_has_its_creating_python_line_and_the_json_is_unchanged(
        dev_stack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = json.loads(dev_stack.read_text())
    located = json.loads((dev_stack.parent / sources.SIDE_FILE).read_text())
    addresses = {f"{t}.{n}" for t, rs in config["resource"].items() for n in rs}
    addresses |= {f"data.{t}.{n}" for t, rs in config.get("data", {}).items() for n in rs}
    assert addresses == set(located)
    for where in located.values():
        assert where["file"].startswith(("modules/", "envs/")) and where["line"] >= 1
    # the JSON is what a synthesis without the recording writes, byte for byte
    monkeypatch.setattr(sources, "write", lambda seen, dirs: None)
    plain = synth.synthesize(synth.load_settings(["dev"], None), AWS, tmp_path / "plain", commit="0" * 40)
    assert plain.stacks["dev"].read_bytes() == dev_stack.read_bytes()


def test_sarif_points_at_the_line_that_created_the_resource(dev_stack: Path) -> None:
    result = Gate("dev", run_checkov=False).scan_tf_json([dev_stack])
    assert result.findings, "the dev stack has findings (warnings) to place"
    doc = json.loads(render([result], "sarif"))
    run = doc["runs"][0]
    for res in run["results"]:
        loc = res["locations"][0]["physicalLocation"]
        path, line = loc["artifactLocation"]["uri"], loc["region"]["startLine"]
        assert path.endswith(".py") and line > 1, loc
        created = (ROOT / path).read_text().splitlines()[line - 1]
        assert re.search(r"\b[A-Z]\w+\(", created), (path, line, created)  # a construct is created on that line
    for rule in run["tool"]["driver"]["rules"]:
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0


def test_static_and_plan_findings_have_distinct_fingerprints_and_severity_bands() -> None:
    static = Gate("dev", run_checkov=False).scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"])
    plan = Gate("dev", run_checkov=False).scan_plan([FX / "PLAT_SEC_001" / "tfplan.json"])
    doc = json.loads(render([static, plan], "sarif"))
    prints = [tuple(r["partialFingerprints"].values()) for r in doc["runs"][0]["results"]]
    assert len(prints) == len(set(prints))  # one resource in both stages: two fingerprints
    assert any(p[0].endswith(":static") for p in prints) and any(p[0].endswith(":plan") for p in prints)
    bands = {r["id"]: r["properties"]["security-severity"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert bands["PLAT_SEC_001"] == "9.5"  # CRITICAL -> GitHub's critical band (> 9.0)
    # foreign Terraform without a sources file keeps the scanned file as the location
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith(".json")


def test_sarif_validates_against_the_sarif_2_1_0_schema(dev_stack: Path) -> None:
    import jsonschema

    schema = json.loads((ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
    results = [Gate("dev", run_checkov=False).scan_tf_json([dev_stack]),
               Gate(None, run_checkov=False).scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"]),
               Gate("dev", run_checkov=False).scan_plan([FX / "PLAT_GUARD_STATEFUL" / "tfplan.json"])]
    doc = json.loads(render(results, "sarif"))
    validator = jsonschema.Draft4Validator(schema)
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not problems, [f"{list(e.path)}: {e.message}" for e in problems[:5]]
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level: the schema must say so
    assert not validator.is_valid(broken)
    assert doc["runs"][0]["results"] and any(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".py") for r in doc["runs"][0]["results"])
