"""The subcommands of ``python main.py``: each returns the process exit code."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from envs import SettingsError
from envs.target import AWS

from . import synth as synth_mod

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_TOOL = 0, 1, 2, 3


def say(message: str) -> None:
    print(message, flush=True)


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _bad_settings(exc: SettingsError) -> int:
    fail("error: bad settings (nothing was synthesized or applied):")
    for problem in exc.problems:
        fail(f"  {problem}")
    return EXIT_BAD_INPUT


def app_mode(args: argparse.Namespace) -> int:
    """``python main.py`` with no subcommand: the cdktf app; every environment for the real (aws) target."""
    return _synth(None, "aws", None, args.envs_dir)


def cmd_synth(args: argparse.Namespace) -> int:
    return _synth([args.env] if args.env else None, args.target, args.outdir, args.envs_dir)


def _synth(names: list[str] | None, target_kind: str, outdir: str | None, envs_dir: str | None) -> int:
    try:
        settings = synth_mod.load_settings(names, envs_dir)
    except SettingsError as exc:
        return _bad_settings(exc)
    target = AWS if target_kind == "aws" else _local_target()
    result = synth_mod.synthesize(settings, target, synth_mod.outdir_for(target, outdir))
    for name, path in result.stacks.items():
        say(f"synthesized {name} ({target.kind}): {path}")
    return EXIT_OK


def _local_target():
    from envs.target import Target

    from . import local

    return Target(kind="local", endpoint=local.start(local.DEFAULT_STATE_DIR).endpoint)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "synth": cmd_synth,
}


def dispatch(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
