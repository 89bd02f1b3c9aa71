#!/usr/bin/env python3
"""The sha256 of every environment's synthesized stack, for both targets: the byte-for-byte refactoring guard.

``tests/fixtures/synth_digests.json`` holds, per target and environment, the sha256 of ``cdk.tf.json`` synthesized
with a fixed commit (``0123456789ab``) and the local target's fixed endpoint (``http://127.0.0.1:9``).
``tests/test_synth_digests.py`` synthesizes again and compares, so a change meant to be a pure refactoring
(moving files, typed inputs, the emulator aspect) proves it changes no byte of the output.

A commit that changes the output on purpose regenerates the file with this tool and says so in its message::

    python -m tools.synth_digests            # print the digests of the current code, compare, exit 1 on a difference
    python -m tools.synth_digests --write    # regenerate tests/fixtures/synth_digests.json

Only ``cdk.tf.json`` is digested: ``cdk.tf.sources.json`` names the Python lines of each resource (it changes
whenever code moves) and the asset archives are covered by their hashed paths inside ``cdk.tf.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = ROOT / "tests" / "fixtures" / "synth_digests.json"
COMMIT = "0123456789ab"
LOCAL_ENDPOINT = "http://127.0.0.1:9"


def targets() -> dict[str, Any]:
    from envs.target import AWS, Target

    return {"aws": AWS, "local": Target(kind="local", endpoint=LOCAL_ENDPOINT)}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def synthesize_all(outdir: Path, settings: dict[str, Any] | None = None,
                   kinds: tuple[str, ...] = ("aws", "local")) -> dict[str, dict[str, Path]]:
    """Synthesize every environment for each target kind under ``outdir/<kind>``: kind -> env -> cdk.tf.json."""
    import envs
    from pipeline.synth import synthesize

    settings = settings if settings is not None else envs.load_all()
    all_targets = targets()
    return {kind: synthesize(settings, all_targets[kind], outdir / kind, commit=COMMIT).stacks for kind in kinds}


def digests_of(stacks: dict[str, dict[str, Path]]) -> dict[str, dict[str, str]]:
    return {kind: {env: digest(path) for env, path in sorted(envs_.items())} for kind, envs_ in stacks.items()}


def load() -> dict[str, dict[str, str]]:
    return json.loads(DIGESTS.read_text())["digests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synth_digests", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"regenerate {DIGESTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synth-digests-") as tmp:
        current = digests_of(synthesize_all(Path(tmp)))
    if args.write:
        DIGESTS.write_text(json.dumps({
            "about": "sha256 of cdk.tf.json per target and environment (commit 0123456789ab, local endpoint "
                     "http://127.0.0.1:9); regenerate with `python -m tools.synth_digests --write` when a change "
                     "alters the output on purpose",
            "digests": current}, indent=2, sort_keys=True) + "\n")
        print(f"wrote {DIGESTS.relative_to(ROOT)}")
        return 0
    committed = load()
    differ = [f"{kind}/{env}" for kind in current for env in current[kind]
              if committed.get(kind, {}).get(env) != current[kind][env]]
    for kind in current:
        for env, value in current[kind].items():
            print(f"{kind:5} {env:8} {value}{'  DIFFERS' if f'{kind}/{env}' in differ else ''}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
