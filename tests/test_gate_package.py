"""The gate as a library: the wheel installs into a fresh virtualenv without cdktf (``pip install platform-iac`` is
the gate alone; the generator is the ``generator`` extra), and ``platform-gate`` runs there on a foreign Terraform
project (tests/fixtures/foreign: terraform-aws-vpc-like resources, another team's tag names and policy folder).

Offline and quick: the wheel is built from a copy of the checkout (build isolation from the machine's local package
index), installed with ``--no-deps``, and the gate's dependencies (Checkov and what it requires, resolved from the
installed distributions' metadata, nothing else) are linked into the new environment through a ``.pth`` file.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.wheel import install_wheel

pytestmark = pytest.mark.slow  # builds and installs the wheel (pyproject.toml: markers)

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = ROOT / "tests" / "fixtures" / "foreign"
GENERATOR_ONLY = ("cdktf", "cdktf_cdktf_provider_aws", "jsii", "constructs", "python_terraform", "moto", "cfnlint")


def _clean_env() -> dict[str, str]:
    """This process's environment without the checkout on the path (else pip and Python would see it)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=_clean_env(), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def gate_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv, _ = install_wheel(tmp_path_factory.mktemp("gate-package"),
                            packages=("envs", "modules", "compliance", "pipeline"), dependencies=["checkov"],
                            env=_clean_env(), pth_name="gate-deps.pth")
    return venv


def test_the_gate_installs_alone_without_cdktf(gate_venv: Path, tmp_path: Path) -> None:
    probe = _run(gate_venv, "python", "-c", "import importlib.util, json, compliance; print(json.dumps({"
                 "'file': compliance.__file__, 'missing': [m for m in %r if importlib.util.find_spec(m) is None]}))"
                 % (GENERATOR_ONLY,), cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert str(gate_venv) in found["file"]                    # the installed package, not the checkout
    assert found["missing"] == list(GENERATOR_ONLY)           # no cdktf, provider bindings, jsii, moto, ...
    site = Path(found["file"]).parents[1]
    for data in ("compliance/resource_classes.json", "compliance/policy/organisation.toml", "compliance/prices.toml",
                 "compliance/waivers.toml", "pipeline/masking_rules.toml", "envs/dev.toml",
                 "modules/observability/canary/nodejs/node_modules/healthcheck.js"):
        assert (site / data).is_file(), f"package data missing from the wheel: {data}"
    version = _run(gate_venv, "platform-gate", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("platform-gate 0.")


def test_the_installed_gate_runs_on_a_foreign_project_with_its_own_tag_names(gate_venv: Path, tmp_path: Path) -> None:
    inputs = ["--tf-json", str(FOREIGN / "main.tf.json"), "--plan", str(FOREIGN / "plan.json"), "--env", "prod"]
    # under this project's policy, the other team's tag names are all findings
    ours = _run(gate_venv, "platform-gate", "check", *inputs, "--format", "json", cwd=tmp_path)
    assert ours.returncode == 1, ours.stderr
    blocking = {f["check_id"] for r in json.loads(ours.stdout)["results"] for f in r["findings"] if f["blocking"]}
    assert "PLAT_TAG_001" in blocking
    # under their own policy folder (organisation.toml names team and cost-centre), the tags pass
    theirs = _run(gate_venv, "platform-gate", "check", *inputs, "--policy-dir", str(FOREIGN / "policy"), cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert theirs.stdout.startswith("PASSED: static gate, environment prod") and "PLAT_TAG_001" not in theirs.stdout
    assert "CKV2_AWS_11" in theirs.stdout  # Checkov ran in the gate-only install (a warning under their policy)
    review = _run(gate_venv, "platform-gate", "review", str(FOREIGN / "plan.json"), "--output",
                  str(tmp_path / "review.md"), cwd=tmp_path)
    assert review.returncode == 0, review.stderr
    assert "module.vpc.aws_vpc.this[0]" in (tmp_path / "review.md").read_text()
