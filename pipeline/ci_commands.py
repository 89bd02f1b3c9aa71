"""CI commands the workflows run (and the tests run the same way).

- ``ci role --env E --role deploy|plan``: the ARN and region of the environment's CI role, as ``arn=…`` and
  ``region=…`` lines for ``$GITHUB_OUTPUT``: derived from the settings (account id, name prefix), the same values the
  role is created from (``modules/security/iam.py``), so the workflows hold no hand-typed role ARN.
- ``pr-plan --env E --mode real|emulator``: the pull-request plan of one environment, gated once per stage (static
  gate on the synthesized JSON, plan gate on the plan) and rendered as the PR comment. ``real``: against the
  environment's own state backend (``--target aws`` in CI with the read-only plan role; ``--target local`` is the
  local emulator's state), ``-lock=false`` (a plan role never blocks a deploy) with refresh on, so the review shows
  the PR's own diff and cost delta. ``emulator``: a fresh, empty emulator (forks, or no role): the review shows
  everything as created, and its first line says so and why.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Callable

from compliance.cli import Command
from envs.schema import EnvironmentSettings
from envs.target import Target

from .cli_helpers import bad_settings, env_argument, fail, target, target_argument
from .run import EXIT_BAD_INPUT, EXIT_OK, EXIT_TOOL, Pipeline, PipelineError, default_build_dir

REAL_HEADER = "**Plan against the real state of {env}** (read-only plan role, `-lock=false`, refreshed)"
EMULATOR_HEADER = ("⚠️ **Emulator plan, not the real state of {env}** ({reason}): every resource shows as created; "
                   "the diff, cost delta and verdict against real state come from a run with the plan role")


def role_arn(settings: EnvironmentSettings, role: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{settings.account_id}:role/{settings.name_prefix}-ci-{role}"


def cmd_ci(args: argparse.Namespace) -> int:
    from envs import SettingsError

    from . import synth as synth_mod

    try:
        settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return bad_settings(exc)
    if not settings.security.ci_github_repository:
        print(f"error: envs/{args.env}.toml: security.ci_github_repository is not set, so {args.env} has no CI "
              "roles; set it to the repository's owner/name")
        return EXIT_BAD_INPUT
    print(f"arn={role_arn(settings, args.role)}")
    print(f"region={settings.region}")
    return EXIT_OK


def pr_plan(settings: EnvironmentSettings, target: Target, stack_dir: Path, build_dir: Path, mode: str,
            outdir: Path, reason: str = "", say: Callable[[str], None] = print) -> int:
    """Plan + gate one synthesized stack for a pull request; writes ``review-E.md`` / ``.json``, ``static-E.sarif``,
    ``plan-E.sarif`` to ``outdir``. Returns the exit code (0 passed, 1 blocked, 3 tool failure)."""
    from compliance.gate import Gate
    from compliance.report import render
    from compliance.review import render_review

    env = settings.name
    outdir.mkdir(parents=True, exist_ok=True)
    gate = Gate(env)
    static = gate.scan_tf_json([stack_dir / "cdk.tf.json"])
    (outdir / f"static-{env}.sarif").write_text(render([static], "sarif"))
    say(render([static], "text"))
    pipe = Pipeline(settings, target, stack_dir, build_dir, say=say)
    if mode == "emulator":
        pipe.bootstrap()
    pipe.init()
    outcome = pipe.plan(lock=(mode != "real"))  # refresh stays on: the diff is against what exists
    planned = gate.scan_plan([outcome.plan_json])
    (outdir / f"plan-{env}.sarif").write_text(render([planned], "sarif"))
    say(render([planned], "text"))
    header = REAL_HEADER.format(env=env) if mode == "real" else EMULATOR_HEADER.format(
        env=env, reason=reason or "no plan role")
    body = render_review(outcome.plan, gate=planned, title=f"Plan review: {env}", max_chars=64_000)
    (outdir / f"review-{env}.md").write_text(f"{header}\n\n{body}")
    (outdir / f"review-{env}.json").write_text(json.dumps(
        {"mode": mode, "reason": reason if mode == "emulator" else None,
         "review": json.loads(render_review(outcome.plan, gate=planned, fmt="json"))}, indent=1))
    say(f"[{env}] pr-plan ({mode}): static {static.verdict}, plan {planned.verdict}; review: "
        f"{outdir / f'review-{env}.md'}")
    codes = [static.exit_code, planned.exit_code]
    return EXIT_TOOL if EXIT_TOOL in codes else max(codes)


def cmd_pr_plan(args: argparse.Namespace) -> int:
    from envs import SettingsError

    from . import local
    from . import synth as synth_mod
    from .local import EmulatorError
    from .tfconfig import TerraformSetupError

    try:
        settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return bad_settings(exc)
    build = default_build_dir()
    try:
        if args.mode == "real":
            return _synth_and_plan(settings, target(args.target), build, args, synth_mod)
        # a private, empty emulator: nothing of a local deployment leaks into the fallback plan
        with tempfile.TemporaryDirectory(prefix="pr-plan-emulator-") as state:
            emulator = local.start(Path(state))
            try:
                return _synth_and_plan(settings, Target(kind="local", endpoint=emulator.endpoint), build, args,
                                       synth_mod)
            finally:
                local.stop(Path(state))
    except PipelineError as exc:
        fail(f"error: {exc}")
        return exc.exit_code
    except (TerraformSetupError, EmulatorError) as exc:
        fail(f"error: {exc}")
        return EXIT_TOOL


def _synth_and_plan(settings: EnvironmentSettings, target: Target, build: Path, args: argparse.Namespace,
                    synth_mod) -> int:  # type: ignore[no-untyped-def]
    result = synth_mod.synthesize({settings.name: settings}, target, synth_mod.outdir_for(target))
    return pr_plan(settings, target, result.stacks[settings.name].parent, build, args.mode, Path(args.outdir),
                   reason=args.fallback_reason or "")


def _ci_arguments(p: argparse.ArgumentParser) -> None:
    csub = p.add_subparsers(dest="ci_command", metavar="CI_COMMAND", required=True, parser_class=type(p))
    c = csub.add_parser("role", help="arn=… and region=… of the environment's CI role (for $GITHUB_OUTPUT)")
    env_argument(c)
    c.add_argument("--role", choices=("deploy", "plan"), required=True)


def _pr_plan_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    p.add_argument("--mode", choices=("real", "emulator"), required=True,
                   help="real: the environment's state backend (--target); emulator: a fresh, empty emulator")
    target_argument(p, default="aws")
    p.add_argument("--fallback-reason", help="why the emulator path is taken (first line of the comment)")
    p.add_argument("--outdir", default="reports", help="where the review and SARIF files go (default: reports)")


COMMANDS = (
    Command("ci", "CI helpers the workflows run: `ci role` prints a CI role's ARN and region", _ci_arguments, cmd_ci),
    Command("pr-plan", "the pull-request plan of one environment: real state (plan role, -lock=false) or a fresh "
                       "emulator; gated once; review for the PR comment", _pr_plan_arguments, cmd_pr_plan),
)
