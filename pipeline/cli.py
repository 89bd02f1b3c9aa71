"""The command line of ``python main.py`` / ``platform-iac``: the one parser, collected from the command modules, and
the one dispatch.

Every command module declares ``COMMANDS``: :class:`compliance.cli.Command` entries, each with its arguments and its
handler. Adding a subcommand is adding an entry there (and, for a new module, naming it in :data:`COMMAND_MODULES`);
nothing else lists commands. ``check`` and ``review`` take the gate's own argument declarations
(``compliance/cli.py``), so ``platform-gate`` (the gate alone, no cdktf) accepts what ``platform-iac`` accepts.

Nothing imports this module but ``main.py``; the helpers the command modules share are in
``pipeline/cli_helpers.py`` (tests/test_import_rules.py).

Exit codes: 0 ok, 1 blocked or failed (findings, drift, failed deploy), 2 bad input (settings, arguments, unreadable
plan), 3 a tool failed (Terraform or Checkov crashed).
"""
from __future__ import annotations

import argparse

from compliance.cli import Command, Handler, build_parser as _build_parser, dispatch, program_version

from . import ci_commands, commands, cost_report, dr_commands, envsync, ephemeral, machine, release, runbook, sla
from .cli_helpers import fail
from .run import EXIT_TOOL

#: The command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = (commands, ci_commands, envsync, ephemeral, release, runbook, dr_commands, sla, cost_report)

DESCRIPTION = "platform-iac: the cdktf app (no arguments) and the command-line tool (with a subcommand)."


def all_commands() -> tuple[Command, ...]:
    return tuple(c for module in COMMAND_MODULES for c in module.COMMANDS)


def _global_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--envs-dir", help="folder of the environment settings files (default: envs/)")


def build_parser(prog: str) -> argparse.ArgumentParser:
    return _build_parser(prog, DESCRIPTION, f"platform-iac {program_version()}", all_commands(),
                         global_arguments=_global_arguments, command_required=False)


def _run(args: argparse.Namespace, handler: Handler) -> int:
    """Every command: its result document with ``--format json`` where it declares one, and a broken installation
    as exit 3 said in one line, never a traceback."""
    try:
        if machine.wants_json(args):
            return machine.run_as_json(args, handler)
        return handler(args)
    except ImportError as exc:
        # A broken installation (Checkov or another dependency missing or failing to import): a tool failure, said
        # in one line, never a verdict (exit 3).
        fail(f"error: a required tool cannot be loaded ({type(exc).__name__}: {exc}); nothing was scanned, "
             "synthesized or applied. Install the project's dependencies (`pip install -e '.[generator]'`) and run "
             "again")
        return EXIT_TOOL


def run(args: argparse.Namespace) -> int:
    """Run the parsed command line: the cdktf app without a subcommand, else the chosen command."""
    if args.command is None:
        return commands.app_mode(args)
    return dispatch(args, _run)
