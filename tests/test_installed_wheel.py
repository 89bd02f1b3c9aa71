"""Issue 17 item 5: packaging that works installed. The wheel is built from a copy of the checkout, installed into a
fresh virtualenv (``--no-deps``; the generator's and the gate's dependencies, as installed here, are linked in through a
``.pth`` file, nothing else: the checkout is not on ``sys.path``), and the console script ``platform-iac`` runs from a
folder outside the repository:

- the wheel holds every file of the packages that git tracks (policy, severities, prices, resource classes, waivers,
  masking rules, settings, the ephemeral registry, the canary's scripts, the workload's files);
- ``--version`` and ``--help`` of every subcommand (the list read from the installed parser, nested ones included) say
  ``platform-iac``, never ``python main.py``;
- the cheap subcommands run for real: ``check`` and ``review`` on a foreign project, ``env sync`` (plan) with the
  packaged masking rules, ``cleanup --expired`` with the packaged registry, ``ci role``, ``local status``,
  ``runbook``, and ``synth`` of a small settings folder (cdktf and the provider bindings from the installed wheel).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.harness.wheel import install_wheel

pytestmark = [pytest.mark.validate, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = ROOT / "tests" / "fixtures" / "foreign"
PACKAGES = ("envs", "modules", "compliance", "pipeline", "workload")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _clean_env(venv: Path) -> dict[str, str]:
    """No checkout on the path; the virtualenv's scripts first (the synth's jsii runtime needs node from PATH)."""
    # PLATFORM_BUILD_DIR too: the test session points it at the folder where its own emulator is recorded, and
    # `local status` must see the installed tool's default (.build under the working folder), not that emulator.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PLATFORM_ENVS_DIR",
                                                                 "CDKTF_OUTDIR", "PLATFORM_BUILD_DIR")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the virtualenv, the wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    return install_wheel(work, packages=PACKAGES, env=_clean_env(work / "venv"), pth_name="platform-deps.pth",
                         dependencies=[*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["generator"]],
                         timeout=180)


def _run(venv: Path, *args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "platform-iac"), *args], cwd=cwd, env=_clean_env(venv),
                          capture_output=True, text=True, timeout=timeout)


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def test_the_wheel_holds_every_file_the_packages_track(installed: tuple[Path, Path]) -> None:
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    tracked = [t for t in tracked if "/tests/" not in t]  # workload/tests: the workload's own test suite
    assert len(tracked) > 100
    assert [t for t in tracked if t not in names] == []
    for data in ("compliance/policy/prod.toml", "compliance/policy/severities.toml",
                 "compliance/policy/organisation.toml", "compliance/prices.toml", "compliance/resource_classes.json",
                 "compliance/waivers.toml", "pipeline/masking_rules.toml", "envs/prod.toml",
                 "envs/ephemeral/registry.toml"):
        assert data in names, f"package data missing from the wheel: {data}"


def test_version_and_the_help_of_every_subcommand(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, _ = installed
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", """
import argparse, json, sys, main
def walk(parser, path):
    out = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += walk(sub, path + [name])
    return out
print(json.dumps({"main": main.__file__, "path": sys.path, "commands": walk(main.build_parser(), [])}))
"""], cwd=tmp_path, env=_clean_env(venv), capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["main"].startswith(str(venv)), "main was not imported from the installed wheel"
    assert not any(Path(p).resolve() == ROOT for p in found["path"] if p), "the checkout is on sys.path"
    commands = found["commands"]
    assert ["env"] in commands and ["ci", "role"] in commands and len(commands) > 20
    version = _run(venv, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"platform-iac {PROJECT['version']}", _out(version)
    for path in commands:
        helped = _run(venv, *path, "--help", cwd=tmp_path, timeout=60)
        assert helped.returncode == 0, f"{path}: {_out(helped)}"
        assert helped.stdout.startswith(" ".join(["usage: platform-iac", *path])), f"{path}: {helped.stdout[:200]}"
        assert "python main.py" not in helped.stdout, f"{path}"


def test_the_cheap_subcommands_run_from_the_installed_wheel(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, _ = installed
    site = str(next((venv / "lib").glob("python3*/site-packages")))
    # foreign Terraform JSON alone (no --env: nothing of ours is synthesized), under the strictest policy
    check = _run(venv, "check", "--tf-json", str(FOREIGN / "main.tf.json"), "--format", "json", cwd=tmp_path)
    assert check.returncode == 1, _out(check)  # the foreign project's tag names are not ours
    (result,) = json.loads(check.stdout)["results"]
    assert result["inputs"] == [str(FOREIGN / "main.tf.json")] and result["resources_scanned"] > 0
    assert result["policy_in_force"] == "no environment given: policy prod (the strictest)"
    assert "PLAT_TAG_001" in {f["check_id"] for f in result["findings"] if f["blocking"]}
    review = _run(venv, "review", str(FOREIGN / "plan.json"), "--format", "json", cwd=tmp_path)
    assert review.returncode == 0, _out(review)
    assert "module.vpc.aws_vpc.this[0]" in review.stdout
    sync = _run(venv, "env", "sync", "--from", "prod", "--to", "staging", cwd=tmp_path)
    assert sync.returncode == 0, _out(sync)
    assert f"{site}/pipeline/masking_rules.toml" in sync.stdout  # the packaged rules
    cleanup = _run(venv, "cleanup", "--expired", cwd=tmp_path)
    assert cleanup.returncode == 0 and f"({site}/envs/ephemeral/registry.toml)" in cleanup.stdout, _out(cleanup)
    role = _run(venv, "ci", "role", "--env", "dev", "--role", "deploy", cwd=tmp_path)
    assert role.returncode == 0 and "arn=arn:aws:iam::111111111111:role/" in role.stdout, _out(role)
    status = _run(venv, "local", "status", cwd=tmp_path)
    assert status.returncode == 1 and "local emulator: not running" in status.stdout, _out(status)  # 1: not up
    runbook = _run(venv, "runbook", "--env", "prod", "--output", str(tmp_path / "prod.md"), cwd=tmp_path)
    assert runbook.returncode == 0, _out(runbook)
    assert "prod" in (tmp_path / "prod.md").read_text()
    envs = tmp_path / "envs"
    envs.mkdir()
    shutil.copy2(ROOT / "tests" / "envs" / "delivery" / "staging.toml", envs / "staging.toml")
    synth = _run(venv, "--envs-dir", str(envs), "synth", "--env", "staging", "--outdir", str(tmp_path / "out"),
                 cwd=tmp_path, timeout=240)
    assert synth.returncode == 0, _out(synth)
    stack = json.loads((tmp_path / "out" / "stacks" / "staging" / "cdk.tf.json").read_text())
    assert stack["resource"]["aws_vpc"] and stack["terraform"]["backend"]["s3"]["key"] == "staging/terraform.tfstate"
    sources = json.loads((tmp_path / "out" / "stacks" / "staging" / "cdk.tf.sources.json").read_text())
    assert sources and all(s["file"].startswith("modules/") for s in sources.values())
