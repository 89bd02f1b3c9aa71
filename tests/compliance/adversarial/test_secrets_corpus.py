"""The ``secret-*`` cases of the adversarial corpus: the plan gate blocks each plaintext secret (PLAT_SEC_001) with
the case's exit code, and no output shows a secret of any case: ``check`` in every format (text, json, markdown,
sarif, junit, html), ``review`` (markdown, json) and the orchestrator's ``review.md`` writer, neither the value nor
its base64, URL-encoded or JSON-escaped form.

All cases go through ONE Checkov process (the Gate scans several plans at once, each with its own environment's
policy); the project's checks run in-process.  Cases are written by ``build_secret_cases.py``."""
from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from compliance.gate import Gate, GateResult
from compliance.report import FORMATS, render
from compliance.review import render_review
from compliance.secrets import encodings
from pipeline.orchestrator import write_review

CASES_DIR = Path(__file__).resolve().parent / "cases"
CASES = sorted(p for p in CASES_DIR.glob("secret-*") if p.is_dir())


def expect(case: Path) -> dict:
    return tomllib.loads((case / "expect.toml").read_text())


def env_of(case: Path) -> str | None:
    env = expect(case)["env"]
    return None if env == "none" else env


@pytest.fixture(scope="module")
def scanned() -> GateResult:
    """One plan-gate scan (one Checkov process) of every secret case, each under its own environment's policy."""
    plans = [c / "plan.json" for c in CASES]
    return Gate("prod", file_environments={p: env_of(p.parent) or "prod" for p in plans}).scan_plan(plans)


def result_of(scanned: GateResult, case: Path) -> GateResult:
    """The combined result narrowed to one case's file and environment."""
    file = str((case / "plan.json").resolve())
    findings = tuple(f for f in scanned.findings if str(Path(f.file).resolve()) == file)
    return dataclasses.replace(scanned, findings=findings, environment=env_of(case),
                               inputs=(str(case / "plan.json"),))


def test_the_corpus_has_enough_secret_cases() -> None:
    assert len(CASES) >= 15
    for case in CASES:
        exp = expect(case)
        assert exp["kind"] == "plan" and exp["never_print"], case.name
        text = (case / "plan.json").read_text()
        for secret in exp["never_print"]:  # the case really carries the secret it says must not be printed
            assert any(form in text for form in encodings(secret)), (case.name, secret)


def test_the_gate_ran_completely(scanned: GateResult) -> None:
    assert scanned.errors == () and scanned.checkov_version


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict(scanned: GateResult, case: Path) -> None:
    exp = expect(case)
    r = result_of(scanned, case)
    blocking = {f.check_id for f in r.blocking}
    assert set(exp["blocking"]) <= blocking, (case.name, sorted(blocking))
    assert r.exit_code == exp["exit"], (case.name, r.exit_code, [(f.check_id, f.resource) for f in r.blocking])
    for f in r.findings:  # the finding names where the secret is, never what it is
        if f.check_id == "PLAT_SEC_001":
            assert f.detail


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [form for s in secrets for form in encodings(s) if form in text]


def test_no_check_format_prints_a_secret(scanned: GateResult) -> None:
    secrets = [s for c in CASES for s in expect(c)["never_print"]]
    for fmt in FORMATS:
        out = render([scanned], fmt)
        assert "PLAT_SEC_001" in out
        assert not leaks(out, secrets), fmt


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_review_prints_a_secret(scanned: GateResult, case: Path, tmp_path: Path) -> None:
    exp = expect(case)
    plan = json.loads((case / "plan.json").read_text())
    r = result_of(scanned, case)
    outputs = {
        "review markdown": render_review(plan, gate=r, title=case.name),
        "review json": render_review(plan, gate=r, fmt="json"),
        "review without gate": render_review(plan),
        "orchestrator review.md": write_review(tmp_path, plan, r, f"{case.name} (aws)").read_text(),
    }
    for fmt in FORMATS:
        outputs[f"check {fmt}"] = render([r], fmt)
    for name, text in outputs.items():
        assert not leaks(text, exp["never_print"]), (case.name, name)
        assert len(text) <= 65_535
    # the review still shows the changed resources (masked, not dropped)
    for rc in plan["resource_changes"]:
        assert rc["address"] in outputs["review markdown"]
