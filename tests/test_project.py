"""Project rules: the README's generated parts are current, CI runs the README's test command. (Who may import whom,
DESIGN.md, is tests/test_import_rules.py.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

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


def test_pins_are_exact() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"cdktf==0.21.0"' in text and '"cdktf-cdktf-provider-aws==20.1.0"' in text


def test_overall_time_limit_names_the_running_test(tmp_path: Path) -> None:
    """`.ci/run` stops a run that overruns with `timeout --signal=USR1`: every pytest process then prints the test it
    is running and the stacks of its threads (tests/conftest.py) before it stops. Here a test that waits forever is
    stopped the same way, with the project's conftest loaded as a plugin."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    assert "timeout --signal=USR1" in (ROOT / ".ci" / "run").read_text()
    assert shutil.which("timeout"), "coreutils' timeout is missing (.ci/install-system.sh checks it)"
    started = tmp_path / "started"
    (tmp_path / "test_hang.py").write_text(
        f"import pathlib, time\n\n\ndef test_waits_forever():\n    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(120)\n")
    # `timeout` with the `.ci/run` options; instead of waiting for its limit (which must fire only once pytest has
    # started the hanging test: loading the project's conftest took more than 6 s on a loaded 2-core machine), the
    # test sends `timeout` the same signal as soon as the hanging test has started. `timeout` handles its own
    # `--signal` as it handles the end of its limit: it passes the signal to the process group of its command.
    proc = subprocess.Popen(["timeout", "--signal=USR1", "--kill-after=20", "300", sys.executable, "-m", "pytest",
                             "-q", "-p", "tests.conftest", "-p", "no:cacheprovider", "test_hang.py"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
                                 "PYTHONPATH": str(ROOT)})  # not an xdist worker's variables: a run of its own
    deadline = time.monotonic() + 120
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), "the hanging test never started"
    proc.send_signal(signal.SIGUSR1)
    stdout, stderr = proc.communicate(timeout=60)
    run = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert run.returncode == 124, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert "overall time limit (signal 10) [controller]: running test_hang.py::test_waits_forever" in run.stderr, \
        run.stderr[-3000:]
    assert 'test_hang.py", line 6 in test_waits_forever' in run.stderr, run.stderr[-3000:]
