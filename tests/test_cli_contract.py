"""The command line's exit-code contract on every failure path: bad input is exit 2 with a message naming the file
or the argument and the fix, a broken tool is exit 3, never a traceback, and nothing is written before a refusal.

Each test runs ``python main.py ...`` as a process (the exit code is the contract) on inputs that are refused before
any synthesis or scan, so each costs about a second.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = (ROOT / "envs" / "dev.toml").read_text()


def main(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def refused(proc: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)


@pytest.fixture
def envs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "envs"
    folder.mkdir()
    (folder / "dev.toml").write_text(DEV)
    return folder


@pytest.fixture
def plan_file(tmp_path: Path):
    def write(doc: object, name: str = "plan.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        return path
    return write


def test_undecodable_settings_bytes_exit_2_naming_the_file(envs_dir: Path, tmp_path: Path) -> None:
    (envs_dir / "dev.toml").write_bytes(DEV.replace('owner = "platform-team@example.com"',
                                                    'owner = "team"').encode() + b'\n# \xff\xfe\n')
    proc = main("--envs-dir", str(envs_dir), "synth", "--env", "dev", "--outdir", str(tmp_path / "out"), cwd=tmp_path)
    refused(proc, 2, str(envs_dir / "dev.toml"), "is not UTF-8 text", "save the file as UTF-8")
    assert not (tmp_path / "out").exists()


def test_invalid_toml_exit_2_naming_the_file(envs_dir: Path, tmp_path: Path) -> None:
    (envs_dir / "dev.toml").write_text(DEV + "\n[tags\n")
    refused(main("--envs-dir", str(envs_dir), "synth", "--env", "dev", cwd=tmp_path), 2,
            str(envs_dir / "dev.toml"), "is not valid TOML")


def test_settings_file_that_is_a_folder_exit_2(envs_dir: Path, tmp_path: Path) -> None:
    (envs_dir / "dev.toml").unlink()
    (envs_dir / "dev.toml").mkdir()  # unreadable as a file (root reads any file, so permissions cannot show it)
    refused(main("--envs-dir", str(envs_dir), "synth", "--env", "dev", cwd=tmp_path), 2,
            str(envs_dir / "dev.toml"), "is a folder")


def test_unknown_environment_exit_2(envs_dir: Path, tmp_path: Path) -> None:
    refused(main("--envs-dir", str(envs_dir), "synth", "--env", "nope", cwd=tmp_path), 2,
            "no environment 'nope'", "choose one of: dev")


def test_missing_settings_folder_exit_2(tmp_path: Path) -> None:
    refused(main("--envs-dir", str(tmp_path / "missing"), "synth", cwd=tmp_path), 2,
            str(tmp_path / "missing"), "--envs-dir", "is not a folder")


def test_empty_settings_folder_synthesizes_nothing_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    refused(main("--envs-dir", str(tmp_path / "empty"), "synth", cwd=tmp_path), 2, "holds no settings file")


def test_outdir_that_is_a_file_exit_2(envs_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    refused(main("--envs-dir", str(envs_dir), "synth", "--env", "dev", "--outdir", str(tmp_path / "taken"),
                 cwd=tmp_path), 2, "--outdir", "is a file, not a folder")


def test_checkov_not_importable_exit_3_with_the_reason(tmp_path: Path) -> None:
    # The harness (not the product) shadows Checkov with a package that fails to import.
    shim = tmp_path / "shim" / "checkov"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("checkov broken by the test harness")\n')
    tf = tmp_path / "one.tf.json"
    tf.write_text(json.dumps({"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}))
    pythonpath = os.pathsep.join([str(shim.parent), str(ROOT)])
    proc = main("check", "--tf-json", str(tf), cwd=tmp_path, env={"PYTHONPATH": pythonpath})
    refused(proc, 3, "checkov broken by the test harness", "nothing was scanned", "pip install -e .")
    refused(main("review", str(tf), cwd=tmp_path, env={"PYTHONPATH": pythonpath}), 3, "checkov broken by the test harness")
    # The stand-alone entry for CI systems without main.py keeps the same contract.
    alone = subprocess.run([sys.executable, "-m", "compliance.cli", "check", "--tf-json", str(tf)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": pythonpath})
    assert alone.returncode == 3 and "Traceback" not in alone.stderr, alone.stderr
    assert "checkov broken by the test harness" in alone.stderr


def test_output_that_is_a_folder_exit_2_before_scanning(tmp_path: Path, plan_file) -> None:
    tf = tmp_path / "one.tf.json"
    tf.write_text(json.dumps({"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}))
    refused(main("check", "--tf-json", str(tf), "--output", str(tmp_path), cwd=tmp_path), 2, "is a folder")
    plan = plan_file({"format_version": "1.2", "resource_changes": []})
    refused(main("review", str(plan), "--output", str(tmp_path), cwd=tmp_path), 2, "is a folder")
    refused(main("runbook", "--env", "dev", "--output", str(tmp_path), cwd=tmp_path), 2, "is a folder")


def test_malformed_plan_exit_2_in_check_and_review(tmp_path: Path, plan_file) -> None:
    # The gate's plan-shape rules are tested with the gate (tests/compliance/); here: the CLI maps them to exit 2
    # in check, and review refuses the same plans instead of crashing on them.
    plan = plan_file({"format_version": "1.2", "resource_changes": [{"address": "aws_s3_bucket.b",
                                                                      "change": {"actions": ["create"]}}]})
    refused(main("check", "--plan", str(plan), cwd=tmp_path), 2, str(plan), "resource_changes[0]")
    refused(main("review", str(plan), cwd=tmp_path), 2, str(plan), "resource_changes[0]")


def test_plan_that_is_not_utf8_json_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(b'{"format_version": "1.2", "resource_changes": []\xff}')
    refused(main("check", "--plan", str(plan), cwd=tmp_path), 2, str(plan), "not valid JSON")
    refused(main("review", str(plan), cwd=tmp_path), 2, str(plan), "not valid JSON")


def test_missing_input_files_exit_2(tmp_path: Path) -> None:
    refused(main("check", "--plan", str(tmp_path / "nope.json"), cwd=tmp_path), 2, str(tmp_path / "nope.json"))
    refused(main("check", "--tf-json", str(tmp_path / "nope.tf.json"), cwd=tmp_path), 2,
            str(tmp_path / "nope.tf.json"))
    refused(main("review", str(tmp_path / "nope.json"), cwd=tmp_path), 2, str(tmp_path / "nope.json"))


def test_missing_waivers_file_exit_2_before_scanning(tmp_path: Path) -> None:
    tf = tmp_path / "one.tf.json"
    tf.write_text(json.dumps({"resource": {}}))
    refused(main("check", "--tf-json", str(tf), "--waivers", str(tmp_path / "w.toml"), cwd=tmp_path), 2,
            "--waivers", "does not exist")


def test_check_env_without_policy_refuses_before_synthesizing(envs_dir: Path, tmp_path: Path) -> None:
    (envs_dir / "qa.toml").write_text(DEV.replace('name = "dev"', 'name = "qa"')
                                      .replace("10.10.0.0/16", "10.99.0.0/16"))
    work = tmp_path / "work"
    work.mkdir()
    proc = main("--envs-dir", str(envs_dir), "check", "--env", "qa", cwd=work)
    refused(proc, 2, "no compliance policy for environment 'qa'", "nothing was synthesized")
    assert list(work.iterdir()) == [], "a refused check wrote files"


@pytest.mark.parametrize("args, phrase", [
    (("check", "--format", "xml"), "invalid choice: 'xml'"),
    (("review", "plan.json", "--format", "sarif"), "invalid choice: 'sarif'"),
    (("check", "--approve"), "expected one argument"),
    (("check", "--tf-json", "x.tf.json", "--approve", "the database"), "is not a Terraform resource address"),
    (("plan", "--env", "dev", "--approve", "aws_db_instance"), "is not a Terraform resource address"),
    (("env", "sync", "--from", "prod", "--to", "dev", "--rules", "missing.toml"), "--rules missing.toml does not exist"),
    (("plan",), "--env"),
    (("local", "up", "--port", "99999"), "outside 1..65535"),
    (("local", "up", "--port", "http"), "not a port number"),
    (("sla", "report", "--env", "dev", "--target", "aws", "--end", "someday"), "is not a date"),
    (("cost", "report", "--env", "dev", "--target", "aws", "--months", "0"), "--months must be at least 1"),
    (("frobnicate",), "invalid choice"),
], ids=["check-format", "review-format", "approve-without-address", "approve-not-an-address",
        "approve-type-only", "missing-rules", "plan-without-env", "port-range",
        "port-text", "sla-end", "cost-months", "unknown-command"])
def test_bad_arguments_exit_2(tmp_path: Path, args: tuple[str, ...], phrase: str) -> None:
    refused(main(*args, cwd=tmp_path), 2, phrase)


def test_a_construct_refusal_is_bad_settings_and_writes_nothing(tmp_path: Path) -> None:
    """Settings the schema lets through but a construct refuses (here forced past the loader with model_copy) are
    exit-2 settings problems, and the output folder is not left behind."""
    import envs
    from envs.target import AWS
    from pipeline.cli_helpers import bad_settings
    from pipeline.synth import synthesize

    dev = envs.load("dev")
    forced = dev.model_copy(update={"integration": dev.integration.model_copy(
        update={"api_backend_hostname": "https://api.example.com/v1"})})
    with pytest.raises(envs.SettingsError) as refusal:
        synthesize({"dev": forced}, AWS, tmp_path / "out", commit="contract0000")
    assert "backend_host" in str(refusal.value) and not (tmp_path / "out").exists()
    assert bad_settings(refusal.value) == 2
