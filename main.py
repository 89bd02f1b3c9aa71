"""platform-iac: the cdktf app (no arguments) and the command-line tool (with a subcommand).

Thin on purpose: build the parser (``pipeline/cli.py`` collects every command module's declarations), parse, run,
return the exit code. Exit codes: 0 ok, 1 blocked or failed (findings, drift, failed deploy), 2 bad input (settings,
arguments, unreadable plan), 3 a tool failed (Terraform or Checkov crashed).
"""
from __future__ import annotations

import argparse
import os
import sys

# Node 20 runs jsii (the machine image's Node); without this jsii prints an end-of-life banner on every run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def program_name(argv0: str | None = None) -> str:
    """How the user ran us: ``python main.py`` from a checkout, else the console script (``platform-iac``)."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "python main.py" if name == "main.py" else "platform-iac"


def version() -> str:
    """The installed distribution's version (``pyproject.toml`` when run from a checkout that is not installed)."""
    from compliance.cli import program_version

    return program_version()


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from pipeline.cli import build_parser as build

    return build(prog or program_name())


def cli(argv: list[str] | None = None) -> int:
    from pipeline.cli import run

    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(cli())
