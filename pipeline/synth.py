"""Synthesis of every environment's stack in one process, all-or-nothing.

Settings are validated first (a bad file synthesizes nothing); the app is synthesized into a scratch folder next to
the output folder and each stack folder is swapped in whole, so no half-written stack is ever left behind.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import envs
from envs.loader import Problem, SettingsError
from envs.schema import EnvironmentSettings
from envs.target import Target

DEFAULT_OUTDIR = {"aws": "cdktf.out", "local": "cdktf.local.out"}


@dataclass(frozen=True)
class SynthResult:
    outdir: Path
    stacks: dict[str, Path]
    """Environment name -> its ``cdk.tf.json``."""


def current_commit(repo: Path | None = None) -> str:
    """The git commit being synthesized (``PLATFORM_COMMIT`` wins; ``unknown`` outside a checkout)."""
    if os.environ.get("PLATFORM_COMMIT"):
        return os.environ["PLATFORM_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def outdir_for(target: Target, outdir: str | os.PathLike[str] | None = None) -> Path:
    """The output folder: ``outdir``, else ``$CDKTF_OUTDIR`` (set by the cdktf CLI), else per target."""
    if outdir:
        return Path(outdir)
    if target.kind == "aws" and os.environ.get("CDKTF_OUTDIR"):
        return Path(os.environ["CDKTF_OUTDIR"])
    return Path(DEFAULT_OUTDIR[target.kind])


def load_settings(names: Iterable[str] | None, envs_dir: str | os.PathLike[str] | None = None
                  ) -> dict[str, EnvironmentSettings]:
    """Validate the settings of ``names`` (all when None); raises :class:`envs.SettingsError`."""
    return envs.load_all(names, envs.envs_dir(envs_dir))


def synthesize(settings: dict[str, EnvironmentSettings], target: Target, outdir: Path,
               commit: str | None = None) -> SynthResult:
    """Synthesize ``settings``' stacks into ``outdir/stacks/<env>/cdk.tf.json`` (replacing only those stacks)."""
    from modules.core.base import ModuleSettingsError
    from modules.stack.platform import build_app  # imported here: loading cdktf costs seconds, settings errors should not

    from . import sources

    commit = commit or current_commit()
    created = not outdir.exists()
    outdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=outdir.parent))
    try:
        try:
            with sources.recording() as created_at:  # the Python line of each resource, for SARIF
                app = build_app(settings, target, commit, str(scratch))
        except ModuleSettingsError as exc:
            # A combination the schema let through but a construct refuses: still bad input, still nothing written.
            if created:
                shutil.rmtree(outdir, ignore_errors=True)
            raise SettingsError([Problem(f"settings of {', '.join(settings)}", "(module)",
                                         f"{exc}; fix the settings named there")]) from None
        app.synth()
        sources.write(created_at, {name: scratch / "stacks" / name for name in settings})
        (outdir / "stacks").mkdir(exist_ok=True)
        stacks: dict[str, Path] = {}
        for name in settings:
            produced = scratch / "stacks" / name
            final = outdir / "stacks" / name
            old = outdir / "stacks" / f".{name}.old"
            if final.exists():
                # Keep Terraform's working files (.terraform, lock file) across syntheses.
                for keep in (".terraform", ".terraform.lock.hcl"):
                    if (final / keep).exists():
                        shutil.move(str(final / keep), str(produced / keep))
                final.rename(old)
            produced.rename(final)
            shutil.rmtree(old, ignore_errors=True)
            stacks[name] = final / "cdk.tf.json"
        shutil.copy2(scratch / "manifest.json", outdir / "manifest.json")
        return SynthResult(outdir=outdir, stacks=stacks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
