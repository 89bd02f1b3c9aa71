"""What the command modules share: output (``say``, ``fail``, ``emit_report``), the exit-2 messages for bad
settings and switched-off tiers, the deploy target, the preparation of one environment, the mapping of pipeline
failures to exit codes, the orchestrator call, and the argument declarations several commands use.

Command modules import this module, never the dispatcher (``pipeline/cli.py``) and never each other's dispatch, so
the imports run one way: ``main.py`` -> ``pipeline.cli`` -> command modules -> ``pipeline.cli_helpers`` -> the
pipeline (tests/test_import_rules.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from compliance.cli import approve_argument, waivers_argument
from envs import SettingsError
from envs.target import AWS, Target

from . import machine
from .local import EmulatorError, default_state_dir
from .run import EXIT_BAD_INPUT, EXIT_TOOL, PipelineError
from .tfconfig import TerraformSetupError

TARGETS = ("local", "aws")

__all__ = ["TARGETS", "approve_argument", "bad_settings", "emit_report", "env_argument", "fail", "guarded",
           "local_state_dir", "lock_timeout_argument", "orchestrate", "prepare", "refuse_switched_off",
           "result_format_argument", "say", "target", "target_argument", "waivers_argument"]


def local_state_dir() -> Path:
    """Where ``local up`` records the emulator it started (pid, port) and its log."""
    return default_state_dir()


def say(message: str) -> None:
    print(message, flush=True)


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit_report(text: str, output: str | None, label: str) -> None:
    """A report to ``output`` (saying where it went) or to stdout."""
    if output:
        Path(output).write_text(text)
        say(f"{label}: {output}")
    else:
        print(text, end="", flush=True)


def bad_settings(exc: SettingsError, nothing: str = "nothing was synthesized or applied") -> int:
    """Exit 2 for settings that do not validate: every problem on its own line (file, field, fix)."""
    fail(f"error: bad settings ({nothing}):")
    for problem in exc.problems:
        fail(f"  {problem}")
    return EXIT_BAD_INPUT


def refuse_switched_off(env: str, envs_dir: str | None, field: str, missing: str) -> int:
    """Exit 2 for a command that needs a tier the environment's settings switch off (``field`` is false)."""
    from envs.loader import envs_dir as settings_dir

    path = settings_dir(envs_dir) / f"{env}.toml"
    fail(f"error: {path}: {field} = false, so {env} has no {missing}; set {field} = true (or remove the line) "
         "and deploy before running this command")
    return EXIT_BAD_INPUT


def target(kind: str) -> Target:
    """The deploy target ``--target`` names; ``local`` starts the shared emulator when it is not running."""
    if kind == "aws":
        return AWS
    from . import local

    return local.shared_target()


def prepare(args: argparse.Namespace):  # -> tuple[Pipeline, Path]
    """Validate settings, start the emulator on the local target, synthesize the environment's stack."""
    from . import synth as synth_mod
    from .run import Pipeline, default_build_dir

    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    chosen = target(args.target)
    result = synth_mod.synthesize({args.env: settings}, chosen, synth_mod.outdir_for(chosen))
    stack_json = result.stacks[args.env]
    say(f"synthesized {args.env} ({chosen.kind}{' at ' + chosen.endpoint if chosen.endpoint else ''}): {stack_json}")
    return Pipeline(settings, chosen, stack_json.parent, default_build_dir(), say=say), stack_json


def guarded(step: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map the pipeline's failures to the exit-code contract."""

    def run(args: argparse.Namespace) -> int:
        try:
            return step(args)
        except SettingsError as exc:
            return bad_settings(exc)
        except PipelineError as exc:
            fail(f"error: {exc}")
            return exc.exit_code
        except (TerraformSetupError, EmulatorError) as exc:
            fail(f"error: {exc}")
            return EXIT_TOOL
        except ImportError as exc:  # a broken installation (e.g. Checkov missing): a tool failure, not a verdict
            fail(f"error: a required tool cannot be loaded ({type(exc).__name__}: {exc}); nothing was applied. "
                 "Install the project's dependencies (`pip install -e '.[generator]'`) and run again")
            return EXIT_TOOL

    run.__doc__ = step.__doc__
    run.__name__ = step.__name__
    return run


def orchestrate(args: argparse.Namespace, **options: object):
    """Run the deployment orchestrator for ``args.env`` (every gate, recorded in the run log)."""
    from .orchestrator import DeploymentOrchestrator, RunOptions

    opts = RunOptions(env=args.env, target=args.target, envs_dir=args.envs_dir,
                      approvals=tuple(getattr(args, "approve", None) or ()),
                      lock_timeout=getattr(args, "lock_timeout", "0s"), waivers=getattr(args, "waivers", None),
                      **options)  # type: ignore[arg-type]
    orchestrator = machine.facts["orchestrator"] = DeploymentOrchestrator(opts, say=say)  # for --format json
    return orchestrator.run()


# --------------------------------------------------------------------------------------------- shared arguments
def env_argument(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--env", required=required, help="environment name (envs/<name>.toml)")


def target_argument(p: argparse.ArgumentParser, default: str = "local") -> None:
    p.add_argument("--target", choices=TARGETS, default=default,
                   help=f"deploy target (default: {default}; only 'aws' reaches a real account)")


def result_format_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: the result (verdict, exit code, gate counts, paths) as one JSON document on "
                        "stdout; progress goes to stderr")


def lock_timeout_argument(p: argparse.ArgumentParser, what: str = "how long to wait for the state lock") -> None:
    p.add_argument("--lock-timeout", default="0s", help=f"{what} (default: 0s)")
