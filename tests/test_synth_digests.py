"""The synthesized JSON of every environment and both targets is byte-identical to the committed digests.

The guard of refactorings (issue 15): moving a construct, typing its inputs or moving the emulator's differences
into one aspect must not change one byte of ``cdk.tf.json``. A change that alters the output on purpose regenerates
``tests/fixtures/synth_digests.json`` with ``python -m tools.synth_digests --write`` in the same commit.
Synthesis only: no Terraform, no emulator.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools import synth_digests


def _explain(kind: str, env: str, path: Path) -> str:
    return (f"{kind}/{env}: {path} differs from tests/fixtures/synth_digests.json; if the change is intended, "
            f"regenerate with `python -m tools.synth_digests --write` and say so in the commit message")


def test_aws_stacks_match_the_committed_digests(synth_aws_dir: Path, synth_aws: dict[str, Any]) -> None:
    committed = synth_digests.load()["aws"]
    assert set(synth_aws) == set(committed), "environments changed: regenerate the digests"
    for env in sorted(synth_aws):
        path = synth_aws_dir / "stacks" / env / "cdk.tf.json"
        assert synth_digests.digest(path) == committed[env], _explain("aws", env, path)


@pytest.mark.timeout(300)
def test_local_stacks_match_the_committed_digests(synth_local: Path, settings: dict[str, Any]) -> None:
    committed = synth_digests.load()["local"]
    stacks = {env: synth_local / "stacks" / env / "cdk.tf.json" for env in settings}
    assert set(stacks) == set(committed), "environments changed: regenerate the digests"
    for env in sorted(stacks):
        assert synth_digests.digest(stacks[env]) == committed[env], _explain("local", env, stacks[env])


def test_the_digest_file_is_what_the_tool_writes() -> None:
    doc = json.loads(synth_digests.DIGESTS.read_text())
    assert set(doc["digests"]) == {"aws", "local"}
    assert all(len(value) == 64 for kind in doc["digests"].values() for value in kind.values())
