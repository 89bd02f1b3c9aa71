"""The subcommands of ``python main.py``: each returns the process exit code."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

from envs import SettingsError
from envs.target import AWS, Target

from . import machine, synth as synth_mod
from .bootstrap import bootstrap_state
from .local import EmulatorError
from .run import (EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, EXIT_TOOL, Pipeline, PipelineError, backend_spec,
                  default_build_dir, drift_report)
from .tfconfig import TerraformSetupError


def local_state_dir() -> Path:
    """Where ``local up`` records the emulator it started (pid, port) and its log."""
    return default_build_dir() / "local"



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


def _bad_settings(exc: SettingsError) -> int:
    fail("error: bad settings (nothing was synthesized or applied):")
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


def app_mode(args: argparse.Namespace) -> int:
    """``python main.py`` with no subcommand: the cdktf app; every environment for the real (aws) target, then the
    static gate over what it synthesized (each environment under its own policy), so that ``cdktf synth`` and
    ``cdktf deploy`` fail where the static gate blocks. The plan gate, guards and approvals need ``deploy``."""
    code = _synth(None, "aws", None, args.envs_dir)
    if code != EXIT_OK:
        return code
    from compliance.cli import check_command

    stacks = {str(path): name for name, path in _synthesized(args.envs_dir).items()}
    code = check_command(list(stacks), None, None, "text", None, None, (), file_environments=stacks)
    if code != EXIT_OK:
        fail(f"error: the static compliance gate refused the synthesized stacks (exit {code}); nothing may be "
             "deployed from them. (`cdktf deploy` runs this app; the plan gate, guards and approvals need "
             "`python main.py deploy`.)")
    return code


def _synthesized(envs_dir: str | None) -> dict[str, Path]:
    """The stacks ``app_mode`` just wrote, by environment."""
    folder = synth_mod.outdir_for(AWS)
    return {name: folder / "stacks" / name / "cdk.tf.json" for name in synth_mod.load_settings(None, envs_dir)}


def cmd_synth(args: argparse.Namespace) -> int:
    return _synth([args.env] if args.env else None, args.target, args.outdir, args.envs_dir)


def _synth(names: list[str] | None, target_kind: str, outdir: str | None, envs_dir: str | None) -> int:
    try:
        settings = synth_mod.load_settings(names, envs_dir)
    except SettingsError as exc:
        return _bad_settings(exc)
    target = _target(target_kind)
    folder = synth_mod.outdir_for(target, outdir)
    blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        fail(f"error: --outdir {folder}: {blocked} is a file, not a folder; choose another output folder "
             "(nothing was synthesized)")
        return EXIT_BAD_INPUT
    try:
        result = synth_mod.synthesize(settings, target, folder)
    except SettingsError as exc:
        return _bad_settings(exc)
    for name, path in result.stacks.items():
        say(f"synthesized {name} ({target.kind}): {path}")
    return EXIT_OK


def _local_target() -> Target:
    from . import local

    return Target(kind="local", endpoint=local.start(local_state_dir()).endpoint)


def _target(kind: str) -> Target:
    return AWS if kind == "aws" else _local_target()


def _prepare(args: argparse.Namespace) -> tuple[Pipeline, Path]:
    """Validate settings, start the emulator on the local target, synthesize the environment's stack."""
    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = _target(args.target)
    result = synth_mod.synthesize({args.env: settings}, target, synth_mod.outdir_for(target))
    stack_json = result.stacks[args.env]
    say(f"synthesized {args.env} ({target.kind}{' at ' + target.endpoint if target.endpoint else ''}): {stack_json}")
    return Pipeline(settings, target, stack_json.parent, default_build_dir(), say=say), stack_json


def _guarded(step: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map the pipeline's failures to the exit-code contract."""

    def run(args: argparse.Namespace) -> int:
        try:
            return step(args)
        except SettingsError as exc:
            return _bad_settings(exc)
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
    return run


def _orchestrate(args: argparse.Namespace, **options: object):
    """Run the deployment orchestrator for ``args.env`` (every gate, recorded in the run log)."""
    from .orchestrator import DeploymentOrchestrator, RunOptions

    opts = RunOptions(env=args.env, target=args.target, envs_dir=args.envs_dir,
                      approvals=tuple(getattr(args, "approve", None) or ()),
                      lock_timeout=getattr(args, "lock_timeout", "0s"), waivers=getattr(args, "waivers", None),
                      **options)  # type: ignore[arg-type]
    orchestrator = machine.facts["orchestrator"] = DeploymentOrchestrator(opts, say=say)  # for --format json
    return orchestrator.run()


@_guarded
def cmd_plan(args: argparse.Namespace) -> int:
    record = _orchestrate(args, kind="plan", apply=False)
    say(f"[{args.env}] plan: gate passed; plan digest: {record.plan_digest}")
    return EXIT_OK


@_guarded
def cmd_deploy(args: argparse.Namespace) -> int:
    _orchestrate(args, kind="deploy", recover=args.recover)
    say(f"[{args.env}] deployed")
    return EXIT_OK


@_guarded
def cmd_drift(args: argparse.Namespace) -> int:
    pipe, stack_json = _prepare(args)
    machine.facts["pipe"] = pipe
    pipe.init()
    drift = machine.facts["drift"] = pipe.drift()
    say(drift_report(drift, "text" if args.format == "json" else args.format))
    if not drift or not getattr(args, "correct", False):
        return EXIT_BLOCKED if drift else EXIT_OK
    addresses = [rc["address"] for rc in drift]
    say(f"[{args.env}] correcting drift of {len(addresses)} resource(s) through the gates")
    _orchestrate(args, kind="drift-correct", stack_json=stack_json, source={"drift": addresses})
    say(f"[{args.env}] drift corrected")
    return EXIT_OK


@_guarded
def cmd_rollback(args: argparse.Namespace) -> int:
    from .aws import client
    from .recovery import rollback_target
    from .runlog import RunLog

    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = _target(args.target)
    log = RunLog(client("s3", settings.region, target.endpoint), settings.state_bucket, settings.name)
    try:
        run = rollback_target(log.runs(), args.to)
    except LookupError as exc:
        fail(f"refused: rollback of {args.env}: {exc}")
        return EXIT_BAD_INPUT if args.to else EXIT_BLOCKED
    say(f"[{args.env}] rolling back to run {run.id} (commit {run.commit}, deployed {run.started_at} by {run.who})")
    _orchestrate(args, kind="rollback", config=log.get_release(run), config_endpoint=run.endpoint,
                 source={"rollback_to": run.id, "commit": run.commit})
    say(f"[{args.env}] rolled back to run {run.id} (commit {run.commit})")
    return EXIT_OK


@_guarded
def cmd_promote(args: argparse.Namespace) -> int:
    from .promotion import PromotionRefused, check_promotion

    loaded = synth_mod.load_settings([args.source, args.to], args.envs_dir)
    target = _target(args.target)
    try:
        promotion = check_promotion(loaded[args.source], loaded[args.to], target, synth_mod.current_commit(),
                                    args.commit)
    except PromotionRefused as exc:
        fail(f"{'error' if exc.bad_input else 'refused'}: {exc}")
        return EXIT_BAD_INPUT if exc.bad_input else EXIT_BLOCKED
    say(f"promoting commit {promotion.commit} from {args.source} (run {promotion.source_run.id}, "
        f"{promotion.source_run.started_at}) to {args.to}")
    args.env = args.to
    _orchestrate(args, kind="promote", source={"promoted_from": args.source, "source_run": promotion.source_run.id})
    say(f"[{args.to}] promoted commit {promotion.commit} from {args.source}")
    return EXIT_OK


@_guarded
def cmd_approve(args: argparse.Namespace) -> int:
    from .approvals import ApprovalError, record_approval
    from .aws import client

    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = _target(args.target)
    try:
        approval, url = record_approval(client("s3", settings.region, target.endpoint), settings.state_bucket,
                                        settings.name, args.plan_digest, args.by, args.valid_hours, args.note or "")
    except ApprovalError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    say(f"[{args.env}] approved plan digest {approval.plan_digest} by {approval.by} until {approval.expires_at}: "
        f"{url}")
    return EXIT_OK


def cmd_env(args: argparse.Namespace) -> int:
    from .envsync import cmd_env_sync

    return cmd_env_sync(args)


def cmd_cleanup(args: argparse.Namespace) -> int:
    from .ephemeral import cmd_cleanup as run

    return run(args)


@_guarded
def cmd_destroy(args: argparse.Namespace) -> int:
    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    if settings.protected and not args.allow_protected:
        fail(f"refused: {args.env} has protection_level \"high\"; destroying it needs --allow-protected as well "
             "as --yes")
        return EXIT_BAD_INPUT
    if not args.yes:
        if not sys.stdin.isatty():
            fail(f"refused: destroying {args.env} needs confirmation; pass --yes in non-interactive runs")
            return EXIT_BAD_INPUT
        answer = input(f"Destroy every resource of {args.env} on {args.target}? Type the environment name: ")
        if answer.strip() != args.env:
            fail("not confirmed; nothing was destroyed")
            return EXIT_BLOCKED
    pipe, _ = _prepare(args)
    pipe.init()
    pipe.destroy(approvals=tuple(getattr(args, "approve", None) or ()))  # the stateful guard, then the saved plan
    say(f"[{args.env}] destroyed")
    return EXIT_OK


@_guarded
def cmd_bootstrap(args: argparse.Namespace) -> int:
    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = _target(args.target)
    for action in bootstrap_state(backend_spec(settings, target), target.endpoint):
        say(f"bootstrap {args.env}: {action}")
    return EXIT_OK


def cmd_local(args: argparse.Namespace) -> int:
    from . import local

    try:
        if args.action == "up":
            emulator = local.start(local_state_dir(), port=args.port)
        elif args.action == "status":
            emulator = local.status(local_state_dir())
            if emulator is None:
                say("local emulator: not running")
                return EXIT_BLOCKED
        else:
            say("local emulator: stopped" if local.stop(local_state_dir()) else "local emulator: was not running")
            return EXIT_OK
    except EmulatorError as exc:
        fail(f"error: {exc}")
        return EXIT_TOOL
    say(f"endpoint: {emulator.endpoint}")
    say(f"pid: {emulator.pid}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Our environments (``--env E``, or all when nothing else is named) are synthesized afresh and each gated under
    its own policy, in one Checkov process; ``--tf-json``/``--plan`` alone scan any input under ``--env``'s policy,
    or the strictest (prod) one."""
    from compliance.cli import check_command, output_problem, scanner_missing
    from compliance.policy import PolicyError, load_policy

    tf_json = [Path(p) for p in args.tf_json]
    file_environments: dict[str, str] = {}
    # Every refusal that needs no synthesis comes first (output path, settings, policies, scanners): nothing is
    # written for a check that cannot run.
    problem = output_problem(args.output)
    if problem:
        fail(f"error: {problem}")
        return EXIT_BAD_INPUT
    try:
        if args.env or not (args.tf_json or args.plan):
            settings = synth_mod.load_settings([args.env] if args.env else None, args.envs_dir)
            for name in settings:  # each environment is gated under its own policy
                load_policy(name)
        else:
            settings = {}
            load_policy(None)  # the strictest policy applies to foreign input
    except SettingsError as exc:
        return _bad_settings(exc)
    except PolicyError as exc:
        fail(f"error: {exc}; nothing was synthesized or scanned")
        return EXIT_BAD_INPUT
    if settings:
        try:
            import compliance.gate  # noqa: F401  (the scanners load before anything is synthesized)
        except ImportError as exc:
            return scanner_missing(exc)
        try:
            result = synth_mod.synthesize(settings, AWS, synth_mod.outdir_for(AWS))
        except SettingsError as exc:
            return _bad_settings(exc)
        file_environments = {str(path): name for name, path in result.stacks.items()}
        tf_json += list(result.stacks.values())
    return check_command(tf_json, [Path(p) for p in args.plan], args.env, args.format, args.output,
                         Path(args.waivers) if args.waivers else None, args.approve,
                         file_environments=file_environments if not args.env else None,
                         verbose=getattr(args, "verbose", False))


def cmd_review(args: argparse.Namespace) -> int:
    from compliance.cli import review_command

    return review_command(Path(args.plan_json), args.format, args.output)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "synth": cmd_synth,
    "check": cmd_check,
    "plan": cmd_plan,
    "review": cmd_review,
    "deploy": cmd_deploy,
    "drift": cmd_drift,
    "destroy": cmd_destroy,
    "bootstrap": cmd_bootstrap,
    "local": cmd_local,
    "rollback": cmd_rollback,
    "promote": cmd_promote,
    "approve": cmd_approve,
    "env": cmd_env,
    "cleanup": cmd_cleanup,
    "runbook": lambda args: __import__("pipeline.runbook", fromlist=["cmd_runbook"]).cmd_runbook(args),
    "sla": lambda args: __import__("pipeline.sla", fromlist=["cmd_sla"]).cmd_sla(args),
    "cost": lambda args: __import__("pipeline.cost_report", fromlist=["cmd_cost"]).cmd_cost(args),
    "release": lambda args: __import__("pipeline.release", fromlist=["cmd_release"]).cmd_release(args),
    "ci": lambda args: __import__("pipeline.ci_commands", fromlist=["cmd_ci"]).cmd_ci(args),
    "pr-plan": lambda args: __import__("pipeline.ci_commands", fromlist=["cmd_pr_plan"]).cmd_pr_plan(args),
    "dr": lambda args: __import__("pipeline.dr", fromlist=["cmd_dr"]).cmd_dr(args),
}


#: A Terraform resource instance address (``module.m["k"].aws_db_instance.main[0]``): what ``--approve`` names.
#: https://developer.hashicorp.com/terraform/cli/state/resource-addressing
_INDEX = r'(\[(\d+|"[^"\\]*")\])?'
_ADDRESS = re.compile(rf'^(module\.[A-Za-z_][A-Za-z0-9_-]*{_INDEX}\.)*(data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*'
                      rf'{_INDEX}$')


def _argument_problem(args: argparse.Namespace) -> str | None:
    """A path argument that cannot work, refused before any work (no synthesis, no scan, nothing written)."""
    output = getattr(args, "output", None)
    if output and Path(output).is_dir():  # every command's report or runbook file
        return f"--output {output} is a folder; give the path of a file to write to"
    bad = [a for a in getattr(args, "approve", None) or () if not _ADDRESS.match(a)]
    if bad:  # an approval matches addresses exactly: a malformed one would silently approve nothing
        return (f"--approve {bad[0]!r} is not a Terraform resource address; name the resource as the plan does, "
                "e.g. --approve aws_db_instance.main or --approve 'module.data.aws_s3_bucket.logs[0]'")
    for option in ("waivers", "rules"):
        given = getattr(args, option, None)
        if given and not Path(given).is_file():
            what = "does not exist" if not Path(given).exists() else "is not a file"
            return f"--{option} {given} {what}; pass an existing file or leave --{option} out for the default"
    return None


def dispatch(args: argparse.Namespace) -> int:
    problem = _argument_problem(args)
    if problem:
        fail(f"error: {problem}")
        return EXIT_BAD_INPUT
    try:
        if machine.wants_json(args):
            return machine.run_as_json(args, COMMANDS[args.command])
        return COMMANDS[args.command](args)
    except ImportError as exc:
        # A broken installation (Checkov or another dependency missing or failing to import): a tool failure, said
        # in one line, never a verdict (exit 3).
        fail(f"error: a required tool cannot be loaded ({type(exc).__name__}: {exc}); nothing was scanned, "
             "synthesized or applied. Install the project's dependencies (`pip install -e '.[generator]'`) and run again")
        return EXIT_TOOL
