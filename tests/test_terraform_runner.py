"""TerraformRunner with real Terraform, the mirrored AWS provider and a moto server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import local
from pipeline.aws import client
from pipeline.terraform import TerraformError, TerraformRunner
from pipeline.tfconfig import (
    MIRROR_ENV,
    TerraformSetupError,
    find_terraform,
    terraform_env,
    write_cli_config,
)

REGION = "eu-west-1"
DEFAULT_MIRROR = "/opt/tf-plugins"


@pytest.fixture(scope="module")
def environ() -> dict[str, str]:
    """This process's environment with the provider mirror set; fails (never skips) when a tool is missing."""
    try:
        find_terraform()
    except TerraformSetupError as exc:
        pytest.fail(str(exc))
    mirror = os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    if not (Path(mirror) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.fail(
            f"no hashicorp/aws provider in the mirror {mirror}: set {MIRROR_ENV} to a folder made by "
            "`terraform providers mirror`"
        )
    return {**os.environ, MIRROR_ENV: mirror}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Emulator]:
    """One moto server for this module, stopped by its recorded pid afterwards."""
    state_dir = tmp_path_factory.mktemp("emulator")
    try:
        yield local.start(state_dir)
    finally:
        local.stop(state_dir)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build folder (CLI config + plugin cache) shared by the module's runs."""
    return tmp_path_factory.mktemp("build")


def _config(endpoint: str, resources: dict[str, Any]) -> dict[str, Any]:
    """A Terraform JSON configuration whose AWS provider targets the emulator."""
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {
            "aws": {
                "region": REGION,
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "s3_use_path_style": True,
                "max_retries": 2,
                "endpoints": [{"s3": endpoint, "sqs": endpoint, "sts": endpoint}],
            }
        },
        "resource": resources,
    }


def _runner(workdir: Path, config: dict[str, Any], build_dir: Path, environ: dict[str, str]) -> TerraformRunner:
    """Write ``config`` into ``workdir`` and return a runner for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf.json").write_text(json.dumps(config, indent=2))
    env = terraform_env(
        build_dir, extra={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}, environ=environ
    )
    return TerraformRunner(workdir, env)


def test_cli_config_uses_the_mirror(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_cli_config(tmp_path, environ).read_text()
    assert f'path    = "{Path(environ[MIRROR_ENV]).resolve()}"' in config
    assert 'include = ["registry.terraform.io/hashicorp/*"]' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/*"]' in config
    assert f'plugin_cache_dir = "{tmp_path.resolve() / "plugin-cache"}"' in config
    assert (tmp_path / "plugin-cache").is_dir()


def test_cli_config_without_mirror_only_sets_the_cache(tmp_path: Path) -> None:
    config = write_cli_config(tmp_path, {}).read_text()
    assert "provider_installation" not in config
    assert "plugin_cache_dir" in config


def test_missing_mirror_names_variable_folder_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-mirror"
    with pytest.raises(TerraformSetupError, match=rf"{MIRROR_ENV}={missing}.*registry\.terraform\.io.*mirror"):
        write_cli_config(tmp_path, {MIRROR_ENV: str(missing)})


def test_environment(tmp_path: Path, environ: dict[str, str]) -> None:
    env = terraform_env(tmp_path, extra={"X": "1"}, environ=environ)
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path.resolve() / "terraform.rc")
    assert (env["TF_IN_AUTOMATION"], env["CHECKPOINT_DISABLE"], env["TF_INPUT"], env["X"]) == ("1", "1", "0", "1")
    assert terraform_env(tmp_path, environ={k: v for k, v in environ.items() if k != "GOGC"})["GOGC"] == "400"
    assert terraform_env(tmp_path, environ={**environ, "GOGC": "150"})["GOGC"] == "150"  # the caller's setting wins


def test_missing_terraform_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TerraformSetupError, match="terraform not found on PATH: install Terraform 1.11+"):
        find_terraform(str(tmp_path))


@pytest.mark.e2e
def test_lifecycle_against_the_emulator(
    tmp_path: Path, build_dir: Path, environ: dict[str, str], emulator: local.Emulator
) -> None:
    resources = {
        "aws_s3_bucket": {"data": {"bucket": "runner-test-data", "force_destroy": True, "tags": {"Name": "data"}}},
        "aws_sqs_queue": {
            "jobs": {"name": "runner-test-jobs", "sqs_managed_sse_enabled": True, "tags": {"Name": "jobs"}}
        },
    }
    config = _config(emulator.endpoint, resources)
    config["output"] = {"queue_url": {"value": "${aws_sqs_queue.jobs.url}"}}
    runner = _runner(tmp_path / "stack", config, build_dir, environ)
    plan = tmp_path / "tfplan"

    # (validate: test_validate_reports_each_diagnostic and tests/test_validate.py; the destroy plan: every guarded destroy)
    runner.init()
    assert runner.state_list() == []
    assert runner.plan(plan) is True

    shown = runner.show_json(plan)
    creates = {c["address"]: c["change"]["actions"] for c in shown["resource_changes"]}
    assert creates == {"aws_s3_bucket.data": ["create"], "aws_sqs_queue.jobs": ["create"]}

    runner.apply(plan)
    assert sorted(runner.state_list()) == ["aws_s3_bucket.data", "aws_sqs_queue.jobs"]
    assert client("s3", REGION, emulator.endpoint).head_bucket(Bucket="runner-test-data")
    queue_url = runner.output_json()["queue_url"]["value"]
    assert queue_url.endswith("/runner-test-jobs")
    assert client("sqs", REGION, emulator.endpoint).get_queue_url(QueueName="runner-test-jobs")["QueueUrl"]

    assert runner.plan(tmp_path / "replan") is False
    sqs = client("sqs", REGION, emulator.endpoint)
    sqs.tag_queue(QueueUrl=queue_url, Tags={"Name": "changed-outside-terraform"})
    assert runner.plan(tmp_path / "drift", refresh_only=True) is True
    [drift] = runner.show_json(tmp_path / "drift")["resource_drift"]
    assert drift["address"] == "aws_sqs_queue.jobs"

    runner.destroy()
    assert runner.state_list() == []
    assert client("sqs", REGION, emulator.endpoint).list_queues().get("QueueUrls", []) == []
    buckets = client("s3", REGION, emulator.endpoint).list_buckets()["Buckets"]
    assert "runner-test-data" not in [b["Name"] for b in buckets]


@pytest.mark.e2e
def test_validate_reports_each_diagnostic(
    tmp_path: Path, build_dir: Path, environ: dict[str, str], emulator: local.Emulator
) -> None:
    resources = {
        "aws_s3_bucket": {"broken": {"bucket": "broken", "no_such_argument": True}},
        "aws_sqs_queue": {"dangling": {"name": "${aws_s3_bucket.missing.id}"}},
    }
    runner = _runner(tmp_path / "broken", _config(emulator.endpoint, resources), build_dir, environ)
    runner.init()

    with pytest.raises(TerraformError) as info:
        runner.validate()

    error = info.value
    assert error.returncode == 1
    assert "validate" in error.command
    assert "error: Extraneous JSON object property" in error.diagnostics
    assert 'No argument or block type is named "no_such_argument"' in error.diagnostics
    assert "error: Reference to undeclared resource" in error.diagnostics
    assert "main.tf.json:" in error.diagnostics
    assert "terraform validate" in str(error) and "no_such_argument" in str(error)

    # The deployment orchestrator runs no separate validate: the plan's own validation reports the same errors
    # (pipeline/orchestrator.py, DeploymentOrchestrator._init), and the run stops at the plan gate with them.
    with pytest.raises(TerraformError) as planned:
        runner.plan(tmp_path / "tfplan")
    assert planned.value.returncode == 1 and "plan" in planned.value.command
    assert 'No argument or block type is named "no_such_argument"' in planned.value.diagnostics
    assert "Reference to undeclared resource" in planned.value.diagnostics


@pytest.mark.e2e
def test_plan_error_raises_with_stderr(
    tmp_path: Path, build_dir: Path, environ: dict[str, str], emulator: local.Emulator
) -> None:
    resources = {"aws_sqs_queue": {"q": {"name": "${aws_s3_bucket.missing.id}"}}}
    runner = _runner(tmp_path / "plan-error", _config(emulator.endpoint, resources), build_dir, environ)
    runner.init()

    with pytest.raises(TerraformError, match=r"terraform plan .*exit code 1:\nError: Reference to undeclared resource"):
        runner.plan(tmp_path / "never")
