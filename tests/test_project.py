"""Project rules: the README's generated parts are current, CI runs the README's test command. (Who may import whom,
DESIGN.md, is tests/test_import_rules.py.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_settings_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "tools" / "settings_doc.py")
    assert spec is not None and spec.loader is not None
    settings_doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings_doc)
    text = (ROOT / "README.md").read_text()
    assert settings_doc.replace_in(text) == text, "run: python tools/settings_doc.py --write README.md"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test   #" in readme and "make demo   #" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# An integration test of the contract with an external tool, the cdktf CLI (cdktf.json's `app` command, CDKTF_OUTDIR,
# manifest.json), over the full app: synthesis of every environment and the static gate (Checkov) over all of them,
# ~20 s. It sits with tests/test_cdktf_cli.py (the real CLI, `validate`) in `make test`, not in `make test-fast`.
@pytest.mark.validate
def test_cdktf_json_runs_the_app(tmp_path: Path) -> None:
    """What the cdktf CLI does with cdktf.json: run its ``app`` command through a shell in the project folder with
    ``CDKTF_OUTDIR`` set, then read ``manifest.json`` and each stack's ``cdk.tf.json`` from that folder."""
    import json
    import os
    import subprocess
    import sys

    config = json.loads((ROOT / "cdktf.json").read_text())
    assert config["language"] == "python"
    outdir = tmp_path / "cdktf.out"
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PLATFORM_BUILD_DIR": str(tmp_path / ".build")}
    run = subprocess.run(config["app"], shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    manifest = json.loads((outdir / "manifest.json").read_text())
    expected = {p.stem for p in (ROOT / "envs").glob("*.toml")}
    assert set(manifest["stacks"]) == expected
    for name, stack in manifest["stacks"].items():
        doc = json.loads((outdir / stack["synthesizedStackPath"]).read_text())
        assert doc["//"]["platform"]["environment"] == name and doc["resource"]
        assert all("endpoints" not in p for p in doc["provider"]["aws"])  # the app is the real (aws) target


def test_pins_are_exact() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"cdktf==0.21.0"' in text and '"cdktf-cdktf-provider-aws==20.1.0"' in text


def test_overall_time_limit_names_the_running_test(tmp_path: Path) -> None:
    """`.ci/run` stops a run that overruns with `timeout --signal=USR1`: every pytest process then prints the test it
    is running and the stacks of its threads (tests/conftest.py) before it stops. Here a test that waits forever is
    stopped the same way, with the project's conftest loaded as a plugin."""
    import os
    import shutil
    import subprocess
    import sys

    assert "timeout --signal=USR1" in (ROOT / ".ci" / "run").read_text()
    assert shutil.which("timeout"), "coreutils' timeout is missing (.ci/install-system.sh checks it)"
    (tmp_path / "test_hang.py").write_text("import time\n\n\ndef test_waits_forever():\n    time.sleep(120)\n")
    # 30 s: the limit must fire after pytest has started the hanging test; loading the project's conftest took more
    # than 6 s on a loaded 2-core CI machine (the test then saw no "running" line).
    run = subprocess.run(["timeout", "--signal=USR1", "--kill-after=20", "30", sys.executable, "-m", "pytest", "-q",
                          "-p", "tests.conftest", "-p", "no:cacheprovider", "test_hang.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=90,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
                              "PYTHONPATH": str(ROOT)})  # not an xdist worker's variables: a run of its own
    assert run.returncode == 124, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert "overall time limit (signal 10) [controller]: running test_hang.py::test_waits_forever" in run.stderr, \
        run.stderr[-3000:]
    assert 'test_hang.py", line 5 in test_waits_forever' in run.stderr, run.stderr[-3000:]
