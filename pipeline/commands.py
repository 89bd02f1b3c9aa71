"""The core subcommands of ``python main.py`` (synth, check, plan, review, deploy, drift, destroy, rollback,
promote, approve, bootstrap, local): each declared in :data:`COMMANDS` with its arguments and its handler, which
returns the process exit code. The dispatcher is ``pipeline/cli.py``; the helpers every command module shares are
in ``pipeline/cli_helpers.py`` (this module imports neither back)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from compliance import cli as gate_cli
from compliance.cli import Command
from envs import SettingsError
from envs.target import AWS

from . import machine, synth as synth_mod
from .bootstrap import bootstrap_state
from .cli_helpers import (approve_argument, bad_settings, env_argument, fail, guarded, local_state_dir,
                          lock_timeout_argument, orchestrate, prepare, result_format_argument, say,
                          target as deploy_target, target_argument, waivers_argument)
from .local import EmulatorError
from .run import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, EXIT_TOOL, backend_spec, drift_report


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
        # Without its manifest the cdktf CLI finds no stack to deploy, so `cdktf deploy --skip-synth` cannot apply
        # the refused JSON either (the stacks stay for inspection).
        (synth_mod.outdir_for(AWS) / "manifest.json").unlink(missing_ok=True)
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
        return bad_settings(exc)
    target = deploy_target(target_kind)
    folder = synth_mod.outdir_for(target, outdir)
    blocked = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        fail(f"error: --outdir {folder}: {blocked} is a file, not a folder; choose another output folder "
             "(nothing was synthesized)")
        return EXIT_BAD_INPUT
    try:
        result = synth_mod.synthesize(settings, target, folder)
    except SettingsError as exc:
        return bad_settings(exc)
    for name, path in result.stacks.items():
        say(f"synthesized {name} ({target.kind}): {path}")
    return EXIT_OK


@guarded
def cmd_plan(args: argparse.Namespace) -> int:
    record = orchestrate(args, kind="plan", apply=False)
    say(f"[{args.env}] plan: gate passed; plan digest: {record.plan_digest}")
    return EXIT_OK


@guarded
def cmd_deploy(args: argparse.Namespace) -> int:
    orchestrate(args, kind="deploy", recover=args.recover)
    say(f"[{args.env}] deployed")
    return EXIT_OK


@guarded
def cmd_drift(args: argparse.Namespace) -> int:
    pipe, stack_json = prepare(args)
    machine.facts["pipe"] = pipe
    pipe.init()
    drift = machine.facts["drift"] = pipe.drift()
    say(drift_report(drift, "text" if args.format == "json" else args.format))
    if not drift or not getattr(args, "correct", False):
        return EXIT_BLOCKED if drift else EXIT_OK
    addresses = [rc["address"] for rc in drift]
    say(f"[{args.env}] correcting drift of {len(addresses)} resource(s) through the gates")
    orchestrate(args, kind="drift-correct", stack_json=stack_json, source={"drift": addresses})
    say(f"[{args.env}] drift corrected")
    return EXIT_OK


@guarded
def cmd_rollback(args: argparse.Namespace) -> int:
    from .aws import client
    from .recovery import rollback_target
    from .runlog import RunLog

    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = deploy_target(args.target)
    log = RunLog(client("s3", settings.region, target.endpoint), settings.state_bucket, settings.name)
    try:
        run = rollback_target(log.runs(), args.to)
    except LookupError as exc:
        fail(f"refused: rollback of {args.env}: {exc}")
        return EXIT_BAD_INPUT if args.to else EXIT_BLOCKED
    say(f"[{args.env}] rolling back to run {run.id} (commit {run.commit}, deployed {run.started_at} by {run.who})")
    orchestrate(args, kind="rollback", config=log.get_release(run), config_endpoint=run.endpoint,
                 source={"rollback_to": run.id, "commit": run.commit})
    say(f"[{args.env}] rolled back to run {run.id} (commit {run.commit})")
    return EXIT_OK


@guarded
def cmd_promote(args: argparse.Namespace) -> int:
    from .promotion import PromotionRefused, check_promotion

    loaded = synth_mod.load_settings([args.source, args.to], args.envs_dir)
    target = deploy_target(args.target)
    try:
        promotion = check_promotion(loaded[args.source], loaded[args.to], target, synth_mod.current_commit(),
                                    args.commit)
    except PromotionRefused as exc:
        fail(f"{'error' if exc.bad_input else 'refused'}: {exc}")
        return EXIT_BAD_INPUT if exc.bad_input else EXIT_BLOCKED
    say(f"promoting commit {promotion.commit} from {args.source} (run {promotion.source_run.id}, "
        f"{promotion.source_run.started_at}) to {args.to}")
    args.env = args.to
    orchestrate(args, kind="promote", source={"promoted_from": args.source, "source_run": promotion.source_run.id})
    say(f"[{args.to}] promoted commit {promotion.commit} from {args.source}")
    return EXIT_OK


@guarded
def cmd_approve(args: argparse.Namespace) -> int:
    from .approvals import ApprovalError, record_approval
    from .aws import client

    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = deploy_target(args.target)
    try:
        approval, url = record_approval(client("s3", settings.region, target.endpoint), settings.state_bucket,
                                        settings.name, args.plan_digest, args.by, args.valid_hours, args.note or "")
    except ApprovalError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    say(f"[{args.env}] approved plan digest {approval.plan_digest} by {approval.by} until {approval.expires_at}: "
        f"{url}")
    return EXIT_OK


@guarded
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
    pipe, _ = prepare(args)
    pipe.init()
    pipe.destroy(approvals=tuple(getattr(args, "approve", None) or ()))  # the stateful guard, then the saved plan
    say(f"[{args.env}] destroyed")
    return EXIT_OK


@guarded
def cmd_bootstrap(args: argparse.Namespace) -> int:
    settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    target = deploy_target(args.target)
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
    its own policy, in one Checkov process; ``--tf-json``/``--plan``/files alone scan any input under ``--env``'s
    policy, or the strictest (prod) one. The arguments are the gate's (``compliance.cli.check_arguments``)."""
    from compliance.cli import check_command, output_problem, scanner_missing, split_inputs
    from compliance.policy import PolicyError, load_policy

    tf_json, plans = split_inputs(args)
    policy_dir = Path(args.policy_dir) if args.policy_dir else None
    file_environments: dict[str, str] = {}
    # Every refusal that needs no synthesis comes first (output path, settings, policies, scanners): nothing is
    # written for a check that cannot run.
    problem = output_problem(args.output)
    if policy_dir is not None and not policy_dir.is_dir():
        problem = f"--policy-dir {policy_dir} is not a folder; give the folder holding <env>.toml policy files"
    if problem:
        fail(f"error: {problem}")
        return EXIT_BAD_INPUT
    try:
        if args.env or not (tf_json or plans):
            settings = synth_mod.load_settings([args.env] if args.env else None, args.envs_dir)
            for name in settings:  # each environment is gated under its own policy
                load_policy(name, policy_dir)
        else:
            settings = {}
            load_policy(None, policy_dir)  # the strictest policy applies to foreign input
    except SettingsError as exc:
        return bad_settings(exc)
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
            return bad_settings(exc)
        file_environments = {str(path): name for name, path in result.stacks.items()}
        tf_json += list(result.stacks.values())
    return check_command(tf_json, plans, args.env, args.format, args.output,
                         Path(args.waivers) if args.waivers else None, args.approve,
                         file_environments=file_environments if not args.env else None,
                         verbose=args.verbose, policy_dir=policy_dir)


# --------------------------------------------------------------------------------------------- declarations
def _port(text: str) -> int:
    """A TCP port number (1 to 65535); anything else is refused by the parser (exit 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 1..65535")
    return port


def _synth_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p, required=False)
    target_argument(p, default="aws")
    p.add_argument("--outdir", help="output folder (default: cdktf.out, or cdktf.local.out for --target local)")


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)
    result_format_argument(p)
    approve_argument(p)
    waivers_argument(p)


def _deploy_arguments(p: argparse.ArgumentParser) -> None:
    _plan_arguments(p)
    lock_timeout_argument(p)
    p.add_argument("--recover", action="store_true",
                   help="proceed over a partial apply reported by the run log: re-plan from the partial state and "
                        "apply the rest through every gate")


def _drift_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="json: the result as one JSON document on stdout (progress on stderr)")
    p.add_argument("--correct", action="store_true",
                   help="re-apply the configuration through every gate of the orchestrator when drift is found")
    approve_argument(p)
    waivers_argument(p)


def _destroy_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--allow-protected", action="store_true",
                   help="explicit override needed to destroy an environment whose protection_level is high")
    approve_argument(p)


def _rollback_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)
    p.add_argument("--to", metavar="RUN", help="run id from the run log (default: the last good release before the "
                                               "configuration applied now)")
    approve_argument(p)
    waivers_argument(p)
    lock_timeout_argument(p)


def _promote_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", required=True, help="source environment (e.g. staging)")
    p.add_argument("--to", required=True, help="target environment (e.g. prod)")
    p.add_argument("--commit", help="the commit to promote (default: the checkout; must equal it)")
    target_argument(p)
    approve_argument(p)
    waivers_argument(p)
    lock_timeout_argument(p)


def _approve_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)
    p.add_argument("--plan-digest", required=True, help="the sha256 printed by plan / the blocked deploy")
    p.add_argument("--by", required=True, help="who approves (must differ from who deploys)")
    p.add_argument("--valid-hours", type=float, default=72, help="how long the approval stays valid (default: 72)")
    p.add_argument("--note", help="free text kept in the record (e.g. the change ticket)")


def _bootstrap_arguments(p: argparse.ArgumentParser) -> None:
    env_argument(p)
    target_argument(p)


def _local_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("--port", type=_port, help="port for 'up' (default: a free port)")


COMMANDS = (
    Command("synth", "synthesize one or all environments", _synth_arguments, cmd_synth),
    dataclasses.replace(gate_cli.CHECK, help="compliance gate on synthesized JSON, a plan, or any Terraform JSON",
                        handler=cmd_check),
    Command("plan", "init + plan + show -json, the plan gate and the review", _plan_arguments, cmd_plan,
            json_result=True),
    gate_cli.REVIEW,
    Command("deploy", "synth, gate, plan, gate, apply the saved plan, verify an empty re-plan", _deploy_arguments,
            cmd_deploy, json_result=True),
    Command("drift", "refresh-only plan; report what changed outside Terraform", _drift_arguments, cmd_drift,
            json_result=True),
    Command("destroy", "guarded destroy of an environment", _destroy_arguments, cmd_destroy),
    Command("rollback", "re-apply the last good release (or --to RUN) through every gate", _rollback_arguments,
            cmd_rollback),
    Command("promote", "deploy to --to the commit that passed in --from (refused otherwise)", _promote_arguments,
            cmd_promote),
    Command("approve", "record an approval of one plan digest for a protected environment", _approve_arguments,
            cmd_approve),
    Command("bootstrap", "create the state bucket and lock table, idempotently", _bootstrap_arguments,
            cmd_bootstrap),
    Command("local", "the local AWS emulator (moto server on 127.0.0.1)", _local_arguments, cmd_local),
)
