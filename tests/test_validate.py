"""Every environment: ``terraform validate`` with the real AWS provider (aws variant), then a real plan against the
emulator (local variant) and the plan gate on it. Covers every resource, including those the emulator cannot
create."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import own_emulator, require_tools

pytestmark = [pytest.mark.validate, pytest.mark.timeout(1800)]

ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def tf_env(workspace: Path) -> dict[str, str]:
    require_tools()
    from pipeline.tfconfig import terraform_env

    return terraform_env(workspace / ".build", {"AWS_EC2_METADATA_DISABLED": "true"})


@pytest.mark.parametrize("env", ENVS)
def test_validate_with_real_provider(env: str, synth_aws_dir: Path, tf_env: dict[str, str], tmp_path: Path) -> None:
    from pipeline.terraform import TerraformRunner

    work = tmp_path / env
    work.mkdir()
    shutil.copy(synth_aws_dir / "stacks" / env / "cdk.tf.json", work / "cdk.tf.json")
    runner = TerraformRunner(work, tf_env)
    runner.init(backend=False)
    runner.validate()


@pytest.fixture(scope="module")
def plans(settings: dict[str, Any], workspace: Path) -> Any:
    """A plan of every environment on an emulator of its own (empty: the shared dev deployment lives in the session's
    emulator), from a local synthesis pointed at it."""
    from envs.target import Target
    from pipeline.run import Pipeline
    from pipeline.synth import synthesize

    root = workspace / "validate-plans"
    with own_emulator(root / ".build" / "local") as emulator:
        target = Target(kind="local", endpoint=emulator.endpoint)
        stacks = synthesize(settings, target, root / "cdktf.local.out", commit="0123456789ab").stacks
        result = {}
        for env in ENVS:
            pipe = Pipeline(settings[env], target, stacks[env].parent, root / ".build", say=lambda _: None)
            pipe.bootstrap()
            pipe.init()
            result[env] = pipe.plan()
        yield result


@pytest.mark.parametrize("env", ENVS)
def test_plan_creates_every_synthesized_resource(env: str, plans: dict[str, Any]) -> None:
    import json

    outcome = plans[env]
    doc = json.loads((outcome.planfile.parent / "cdk.tf.json").read_text())
    synthesized = {f"{rtype}.{name}" for rtype, items in doc["resource"].items() for name in items}
    planned = {rc["address"] for rc in outcome.plan["resource_changes"] if rc["change"]["actions"] == ["create"]}
    assert outcome.has_changes
    assert synthesized <= planned, sorted(synthesized - planned)


@pytest.mark.parametrize("env", ENVS)
def test_plan_gate_passes_for_our_plans(env: str, plans: dict[str, Any]) -> None:
    from compliance.gate import Gate

    result = Gate(env).scan_plan([plans[env].plan_json])
    assert result.errors == ()
    assert result.resources_scanned > 0
    assert [f"{f.check_id} {f.resource}" for f in result.blocking] == []
    assert result.exit_code == 0
