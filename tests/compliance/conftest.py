"""Shared fixtures for the compliance tests.  Checkov runs are slow (seconds each): one gate run per stage over
ALL fixtures is shared by the whole session."""
from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECK_DIRS = sorted(p for p in FIXTURES.iterdir() if p.name.startswith("PLAT_") and p.name != "PLAT_GUARD_STATEFUL")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def static_all():
    from compliance.gate import Gate
    return Gate(None).scan_tf_json([d / "cdk.tf.json" for d in CHECK_DIRS])


@pytest.fixture(scope="session")
def plan_all():
    from compliance.gate import Gate
    return Gate(None).scan_plan([d / "tfplan.json" for d in CHECK_DIRS])
