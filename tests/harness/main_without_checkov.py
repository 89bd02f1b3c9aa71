"""Test harness, not product: run ``main.py`` with the Checkov subprocess replaced by a stub.

The product has no switch that turns a scanner off (docs/compliance.md, "Threat model").  Tests whose subject is the
orchestration around the gate (the delivery end-to-end module runs a dozen pipelines) start the CLI through this
wrapper instead of ``main.py`` to save one Checkov process per gate run; the project's own checks, the stateful
guard and every other gate rule still run for real.  The stub reports that Checkov did not run (its version string
says so) and claims the input's own resource count, so the gate's scanned-count rule is not what these tests
exercise; the Checkov side of the gate is covered by tests/compliance/ and the spine's dev deploy.

Usage (as the tests do): ``python tests/harness/main_without_checkov.py <main.py arguments>``.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import compliance.gate as _gate  # noqa: E402
from compliance.checkov_runner import CheckovRun  # noqa: E402

STUB_VERSION = "not run (tests/harness stub)"


class _CheckovStub:
    """Stands in for compliance.checkov_runner.CheckovJob: starts nothing, reports nothing."""

    def __init__(self, framework, files, **_kw):
        pass

    def finish(self, *, expect_resources=0, **_kw):
        return CheckovRun(results=[], errors=[], resources_scanned=expect_resources, version=STUB_VERSION)


_gate.CheckovJob = _CheckovStub

if __name__ == "__main__":
    sys.argv = [str(ROOT / "main.py"), *sys.argv[1:]]
    runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
