"""The cdktf app (``python main.py`` without arguments, what ``cdktf synth``/``cdktf deploy`` run) runs the static
gate over what it synthesized and fails when the gate does not pass, so ``cdktf deploy`` cannot go around it."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from compliance import cli
from pipeline import commands

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("verdict", [0, 1, 3])
def test_app_mode_gates_every_synthesized_stack_under_its_own_policy(
        verdict: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "dev.toml").write_text((ROOT / "envs" / "dev.toml").read_text())
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))  # what the cdktf CLI sets
    calls = []

    def gate(tf_json, plans, environment, fmt, *rest, file_environments=None, **kw):
        calls.append((tf_json, plans, environment, file_environments))
        return verdict

    monkeypatch.setattr(cli, "check_command", gate)
    code = commands.app_mode(argparse.Namespace(envs_dir=str(envs)))
    stack = tmp_path / "out" / "stacks" / "dev" / "cdk.tf.json"
    assert stack.is_file()
    assert calls == [([str(stack)], None, None, {str(stack): "dev"})]  # the JSON just written, dev's policy
    assert code == verdict
    # a refused synthesis leaves no manifest, so `cdktf deploy --skip-synth` finds nothing to apply
    assert (tmp_path / "out" / "manifest.json").is_file() == (verdict == 0)
    err = capsys.readouterr().err
    assert ("static compliance gate refused" in err) == (verdict != 0)
    if verdict:
        assert "python main.py deploy" in err
