"""Issue 17 item 7: the real cdktf CLI (npm ``cdktf-cli@0.21.0``, installed under ``.build/ci-tools`` by
scripts/setup.sh and .ci/install-system.sh) runs this project through ``cdktf.json``.

- ``cdktf synth`` synthesizes every environment of a settings folder (``PLATFORM_ENVS_DIR``, the same variable every
  use of the app honours) for the aws target and the app's static gate passes over them (the full environments'
  synthesis is every other test's: the ``synth_aws`` fixture, tests/test_synth_digests.py);
- ``cdktf deploy`` is stopped by the static gate when the settings make it block: the synthesis fails, Terraform never
  runs (no ``.terraform`` folder, no state), and the refused stacks have no manifest, so ``cdktf deploy --skip-synth``
  finds nothing to apply either. The plan gate, guards and approvals need ``python main.py deploy`` (README).

Small settings (tests/envs/delivery: a network, its flow log group and buckets), so each CLI run costs ~15 s.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.validate, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
CDKTF = ROOT / ".build" / "ci-tools" / "node_modules" / "cdktf-cli" / "bundle" / "bin" / "cdktf"
DELIVERY = ROOT / "tests" / "envs" / "delivery"


def _cli_version() -> str:
    package = CDKTF.parents[2] / "package.json"
    return json.loads(package.read_text())["version"] if package.is_file() else ""


def _cdktf(*args: str, envs: Path, home: Path) -> subprocess.CompletedProcess[str]:
    if _cli_version() != "0.21.0":
        pytest.fail(f"cdktf-cli 0.21.0 is not installed at {CDKTF.parents[2]} (found {_cli_version() or 'nothing'}): "
                    "run `bash scripts/setup.sh` or `bash .ci/install-system.sh` (npm install --prefix "
                    ".build/ci-tools cdktf-cli@0.21.0)")
    env = {**os.environ,
           # `python main.py` (cdktf.json's app) must be this interpreter, whatever PATH the suite was started with
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PLATFORM_ENVS_DIR": str(envs), "CDKTF_HOME": str(home), "CHECKPOINT_DISABLE": "1", "CI": "1",
           "DISABLE_VERSION_CHECK": "true", "FORCE_COLOR": "0"}
    env.pop("CDKTF_OUTDIR", None)
    return subprocess.run(["node", str(CDKTF), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def test_cdktf_synth_runs_the_app_through_cdktf_json_and_its_static_gate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _cdktf("synth", "--output", str(out), envs=DELIVERY, home=tmp_path / "home")
    assert proc.returncode == 0, _out(proc)
    assert json.loads((ROOT / "cdktf.json").read_text())["app"] == "python main.py"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == "0.21.0" and sorted(manifest["stacks"]) == ["prod", "staging"]
    for name in ("prod", "staging"):
        stack = json.loads((out / "stacks" / name / "cdk.tf.json").read_text())
        assert stack["terraform"]["backend"]["s3"]["key"].startswith(f"{name}/")
        assert stack["resource"]["aws_vpc"], f"{name}: no VPC synthesized"
        assert stack["//"]["platform"]["environment"] == name
        assert all("endpoints" not in p for p in stack["provider"]["aws"])  # cdktf.json's app is the aws target
        assert (out / "stacks" / name / "cdk.tf.sources.json").is_file()
    text = proc.stdout + proc.stderr
    assert "PASSED: static gate, environments prod, staging (each under its own policy)" in text, _out(proc)
    assert "Generated Terraform code for the stacks: prod, staging" in text, _out(proc)


def test_cdktf_deploy_is_stopped_by_the_static_gate(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    envs.mkdir()
    # prod's access-log bucket with nothing logging into it: the prod policy blocks it (CKV_AWS_18 at LOW, protected)
    settings = (DELIVERY / "prod.toml").read_text()
    assert 'data_buckets = ["app"]' in settings
    (envs / "prod.toml").write_text(settings.replace('data_buckets = ["app"]', "data_buckets = []"))
    out = tmp_path / "out"
    proc = _cdktf("deploy", "prod", "--auto-approve", "--output", str(out), envs=envs, home=tmp_path / "home")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, _out(proc)
    assert "BLOCKED: static gate, environment prod (policy prod)" in text, _out(proc)
    assert "CKV_AWS_18" in text and "1 blocking [prod]" in text, _out(proc)
    assert "the static compliance gate refused the synthesized stacks" in text, _out(proc)
    assert "python main.py deploy" in text, _out(proc)
    stack = out / "stacks" / "prod"
    assert (stack / "cdk.tf.json").is_file()  # synthesized, kept for inspection ...
    assert not (out / "manifest.json").exists()  # ... but not deployable
    assert not (stack / ".terraform").exists() and not list(stack.glob("*.tfstate*")), "Terraform ran"
    assert "terraform apply" not in text.lower() and "Deploying Stack" not in text
    # the refused JSON cannot be deployed by skipping the synthesis either
    again = _cdktf("deploy", "prod", "--auto-approve", "--skip-synth", "--output", str(out), envs=envs,
                   home=tmp_path / "home")
    assert again.returncode != 0, _out(again)
    assert not (stack / ".terraform").exists(), "Terraform ran on the refused stack"
    shutil.rmtree(out, ignore_errors=True)
