"""Every environment's COMPLETE resource set (the aws variant, which `cdktf deploy` applies, including the types the
local variant leaves out because moto cannot create them): ``terraform validate`` with the real AWS provider, a plan,
and the plan gate on it.

How: the aws variant's ``cdk.tf.json`` unchanged, plus one Terraform override file that only points the three AWS
provider configurations at an empty emulator of this module's own (endpoints, skip flags, no account restriction:
the emulator's account is not the environment's) and replaces the S3 backend with a local one (nothing to lock: the
state is empty). ``plan -refresh=false``: every resource is planned from configuration; only the data sources are
read from the emulator. Credentials come from the environment, never the configuration. One init per environment;
validate and plan share it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import own_emulator, require_tools

pytestmark = [pytest.mark.validate, pytest.mark.timeout(1800)]

ENVS = ("dev", "staging", "prod")


def emulator_override(doc: dict[str, Any], endpoint: str, state: Path) -> dict[str, Any]:
    """The override file: each AWS provider configuration of ``doc`` (by alias) pointed at ``endpoint``; a local
    backend at ``state``. Nothing else of the configuration changes."""
    from modules.stack.platform import EMULATOR_SERVICES

    providers = []
    for provider in doc["provider"]["aws"]:
        over: dict[str, Any] = {
            # cdktf-python spells a service that is a Python keyword with a trailing "_" (lambda_)
            "endpoints": [{service.rstrip("_"): endpoint for service in EMULATOR_SERVICES}],
            "skip_credentials_validation": True, "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true", "s3_use_path_style": True, "max_retries": 2,
            "allowed_account_ids": None,
        }
        if "alias" in provider:
            over["alias"] = provider["alias"]
        providers.append(over)
    return {"provider": {"aws": providers}, "terraform": {"backend": {"local": {"path": str(state)}}}}


@pytest.fixture(scope="module")
def aws_plans(synth_aws_dir: Path, workspace: Path) -> Any:
    """env -> (synthesized aws-variant JSON, plan JSON, validate ran), each planned once on an empty emulator."""
    require_tools()
    from pipeline.terraform import TerraformRunner
    from pipeline.tfconfig import terraform_env

    root = workspace / "validate-aws"
    with own_emulator(root / ".build" / "local") as emulator:
        env = terraform_env(root / ".build", {"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "test",
                                              "AWS_SECRET_ACCESS_KEY": "test"})
        result = {}
        for name in ENVS:
            work = root / name
            work.mkdir(parents=True)
            shutil.copy(synth_aws_dir / "stacks" / name / "cdk.tf.json", work / "cdk.tf.json")
            doc = json.loads((work / "cdk.tf.json").read_text())
            (work / "zz_emulator_override.tf.json").write_text(
                json.dumps(emulator_override(doc, emulator.endpoint, work / "terraform.tfstate")))
            runner = TerraformRunner(work, env)
            runner.init()
            runner.validate()
            runner.plan(work / "tfplan", refresh=False)
            plan = runner.show_json(work / "tfplan")
            (work / "plan.json").write_text(json.dumps(plan))
            result[name] = (doc, plan, work / "plan.json")
        yield result


@pytest.mark.parametrize("env", ENVS)
def test_plan_creates_the_complete_resource_set(env: str, aws_plans: dict[str, Any]) -> None:
    from envs.target import EMULATOR_UNSUPPORTED

    doc, plan, _ = aws_plans[env]
    synthesized = {f"{rtype}.{name}" for rtype, items in doc["resource"].items() for name in items}
    planned = {rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"]}
    assert synthesized <= planned, sorted(synthesized - planned)
    # the types the local variant leaves out are in this plan (each environment has some of them)
    left_out_locally = {a for a in synthesized if a.split(".")[0] in EMULATOR_UNSUPPORTED}
    assert left_out_locally and left_out_locally <= planned
    # the plan is of the aws variant's providers: the environment's regions, no local-variant lifecycle
    regions = {p.get("alias", "primary"): p["region"] for p in doc["provider"]["aws"]}
    assert set(regions) == {"primary", "dr", "us_east_1"}


@pytest.mark.parametrize("env", ENVS)
def test_plan_gate_passes_for_the_complete_resource_set(env: str, aws_plans: dict[str, Any]) -> None:
    from compliance.gate import Gate

    doc, _, plan_json = aws_plans[env]
    result = Gate(env).scan_plan([plan_json])
    assert result.errors == ()
    assert result.resources_scanned >= sum(len(items) for items in doc["resource"].values())
    assert [f"{f.check_id} {f.resource}" for f in result.blocking] == []
    assert result.exit_code == 0
