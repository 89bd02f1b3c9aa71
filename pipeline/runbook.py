"""``runbook --env E [--output FILE]``: write the DR runbook generated from an environment's settings."""
from __future__ import annotations

import argparse
from pathlib import Path

from compliance.cli import Command

ROOT = Path(__file__).resolve().parents[1]


def runbook_path(env: str) -> Path:
    """Where the committed runbook of ``env`` lives: ``docs/runbooks/<env>.md``."""
    return ROOT / "docs" / "runbooks" / f"{env}.md"


def cmd_runbook(args: argparse.Namespace) -> int:
    from envs import SettingsError

    from . import synth as synth_mod
    from .cli_helpers import bad_settings, refuse_switched_off

    try:
        settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return bad_settings(exc, "no runbook was written")
    if not settings.data.enabled:
        return refuse_switched_off(args.env, args.envs_dir, "data.enabled", "data tier to recover")
    from modules.stack.mapping import runbook_inputs
    from modules.data.disaster_recovery import render_runbook

    out = Path(args.output) if args.output else runbook_path(args.env)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_runbook(runbook_inputs(settings)), encoding="utf-8")
    print(f"wrote the DR runbook of {args.env}: {out}")
    return 0


def _runbook_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, help="environment name (envs/<name>.toml)")
    p.add_argument("--output", metavar="FILE", help="where to write it (default: docs/runbooks/<env>.md)")


COMMANDS = (Command("runbook", "write the DR runbook generated from an environment's settings", _runbook_arguments,
                    cmd_runbook),)
