"""The command line: the one parser definition of every subcommand, the one dispatch, and the gate's commands.

Every subcommand is a :class:`Command`: its name, its help, a function declaring its arguments and its handler. A
command module declares its commands next to their handlers; a parser collects a list of them (:func:`build_parser`)
and :func:`dispatch` runs the chosen one. Two programs are built this way:

- ``platform-gate`` (:func:`main`, ``python -m compliance.cli``), the gate alone (the base install, no cdktf):
  :data:`GATE_COMMANDS`, ``check`` and ``review``;
- ``platform-iac`` / ``python main.py`` (``pipeline/cli.py``): every command, ``check`` and ``review`` among them with
  these same argument declarations (its ``check`` synthesizes this project's environments first).

This module imports nothing outside the standard library at import time (the gate, and with it Checkov, is imported
where it is used), so that a missing or broken Checkov is exit 3 with the reason instead of a traceback.

Exit codes: 0 pass, 1 blocking findings, 2 bad input (unreadable/invalid file, unknown environment, bad format or
argument), 3 tool failure (Checkov crashed, timed out, or scanned nothing of a non-empty input).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

# The gate (and with it Checkov, whose check classes the project checks extend) is imported where it is used, so
# that a missing or broken Checkov is exit 3 with the reason instead of a traceback at import.

#: The report formats of ``check`` (equal to ``compliance.report.FORMATS``, which imports the gate; a test compares).
CHECK_FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")
REVIEW_FORMATS = ("markdown", "json")


def output_problem(output: Path | str | None) -> str | None:
    """Why ``--output`` cannot receive a report (checked before any scan), or None."""
    if not output:
        return None
    p = Path(output)
    if p.is_dir():
        return f"--output {p} is a folder; give the path of a file to write the report to"
    parent = next((a for a in p.parents if a.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"--output {p}: {parent} is a file, not a folder; choose another path"
    return None


def _emit(text: str, output: Path | str | None) -> None:
    if output:
        p = Path(output)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    else:
        sys.stdout.write(text)


def scanner_missing(exc: ImportError) -> int:
    """A scanner the gate needs cannot be imported: a tool failure (exit 3), said in one line."""
    print(f"error: the compliance gate cannot load its scanners ({type(exc).__name__}: {exc}); nothing was scanned. "
          "Install the project's dependencies (`pip install -e .`, Checkov among them) and run again",
          file=sys.stderr)
    return 3


def check_command(paths_tf_json: Sequence[Path | str] | None, plan_files: Sequence[Path | str] | None,
                  environment: str | None, fmt: str = "text", output: Path | str | None = None,
                  waivers_file: Path | str | None = None, approvals: Iterable[str] = (),
                  *, checkov_timeout: float = 600, file_environments: Mapping[str, str] | None = None,
                  verbose: bool = False, policy_dir: Path | str | None = None) -> int:
    try:
        return _check(paths_tf_json, plan_files, environment, fmt, output, waivers_file, approvals,
                      checkov_timeout=checkov_timeout, file_environments=file_environments, verbose=verbose,
                      policy_dir=policy_dir)
    except ImportError as exc:  # Checkov (the project checks are Checkov checks) or one of its parts
        return scanner_missing(exc)


def _check(paths_tf_json: Sequence[Path | str] | None, plan_files: Sequence[Path | str] | None,
           environment: str | None, fmt: str, output: Path | str | None, waivers_file: Path | str | None,
           approvals: Iterable[str], *, checkov_timeout: float, file_environments: Mapping[str, str] | None,
           verbose: bool = False, policy_dir: Path | str | None = None) -> int:
    from compliance.engine import InputError
    from compliance.gate import Gate
    from compliance.policy import PolicyError
    from compliance.report import FORMATS, overall_exit_code, render

    if fmt not in FORMATS:
        print(f"error: unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    tf = [Path(p) for p in (paths_tf_json or ())]
    plans = [Path(p) for p in (plan_files or ())]
    if not tf and not plans:
        print("error: nothing to scan: give Terraform JSON (--tf-json PATH / --env E) or a plan JSON (--plan FILE)",
              file=sys.stderr)
        return 2
    problem = output_problem(output)
    if policy_dir and not Path(policy_dir).is_dir():
        problem = f"--policy-dir {policy_dir} is not a folder; give the folder holding <env>.toml policy files"
    if waivers_file and not Path(waivers_file).is_file():
        problem = f"--waivers {waivers_file} is not an existing file; pass one or leave --waivers out"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        gate = Gate(environment, waivers_file=Path(waivers_file) if waivers_file else None, approvals=approvals,
                    checkov_timeout=checkov_timeout, file_environments=file_environments,
                    **policy_options(policy_dir))
        results = []
        if tf:
            results.append(gate.scan_tf_json(tf))
        if plans:
            results.append(gate.scan_plan(plans))
    except (InputError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        _emit(render(results, fmt, verbose=verbose), output)
    except OSError as exc:
        print(f"error: cannot write the report to {output} ({exc.strerror or exc}); choose another --output",
              file=sys.stderr)
        return 2
    code = overall_exit_code(results)
    if output or fmt != "text":
        # one human line on stderr whatever the report format
        for r in results:
            print(f"{r.stage.value} gate ({r.environment or r.policy}): {r.verdict}, {len(r.blocking)} blocking"
                  + (f"; errors: {'; '.join(r.errors)}" if r.errors else ""), file=sys.stderr)
    return code


def policy_options(policy_dir: Path | str | None) -> dict:
    """Gate options for a policy folder of another organisation: its ``<env>.toml``, ``organisation.toml`` and,
    when it has one, ``severities.toml`` (else the project's)."""
    if not policy_dir:
        return {}
    folder = Path(policy_dir)
    severities = folder / "severities.toml"
    return {"policy_dir": folder, "severities_file": severities if severities.is_file() else None}


def load_plan_file(plan_path: Path | str) -> dict:
    """Read a plan JSON, or raise InputError naming the file and the fix."""
    from compliance.engine import InputError

    p = Path(plan_path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc}); check the path") from None
    if raw[:2] == b"PK":
        raise InputError(f"{p}: this is a binary Terraform plan; convert it with "
                         f"`terraform show -json {p.name} > {p.stem}.json` and pass the JSON")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc}); pass the output of `terraform show -json PLANFILE`") from None
    if not (isinstance(doc, dict) and "format_version" in doc and
            ("resource_changes" in doc or "planned_values" in doc)):
        raise InputError(f"{p}: not a Terraform plan JSON (no format_version/resource_changes); create it with "
                         f"`terraform plan -out=tfplan && terraform show -json tfplan > {p.name}`")
    from compliance.planshape import PlanShapeError, validate_plan

    try:
        validate_plan(doc)  # the shape the gate refuses, the review refuses too (instead of crashing on it)
    except PlanShapeError as exc:
        raise InputError(f"{p}: refused, the plan's shape is not one the review can render: {exc}") from None
    return doc


def review_command(plan_path: Path | str, fmt: str = "markdown", output: Path | str | None = None, *,
                   environment: str | None = None, run_gate: bool = False, waivers_file: Path | str | None = None,
                   approvals: Iterable[str] = (), title: str | None = None, max_chars: int = 65_000,
                   policy_dir: Path | str | None = None) -> int:
    """Render the review of a plan JSON.  With ``run_gate`` the plan gate runs too and its findings and verdict
    are included (the exit code stays 0: a review is a report; ``check`` is the gate)."""
    if fmt not in REVIEW_FORMATS:
        print(f"error: unknown review --format {fmt!r}; choose markdown or json", file=sys.stderr)
        return 2
    problem = output_problem(output)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        from compliance.engine import InputError
        from compliance.policy import PolicyError
        from compliance.review import render_review
    except ImportError as exc:
        return scanner_missing(exc)
    try:
        plan = load_plan_file(plan_path)
        gate_result = None
        if run_gate:
            from compliance.gate import Gate
            gate_result = Gate(environment, waivers_file=Path(waivers_file) if waivers_file else None,
                               approvals=approvals, **policy_options(policy_dir)).scan_plan([Path(plan_path)])
    except (InputError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        return scanner_missing(exc)
    try:
        _emit(render_review(plan, gate=gate_result, fmt=fmt, title=title, max_chars=max_chars), output)
    except OSError as exc:
        print(f"error: cannot write the review to {output} ({exc.strerror or exc}); choose another --output",
              file=sys.stderr)
        return 2
    return 0




# --------------------------------------------------------------------------------------------- the command framework
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: ``arguments(parser)`` declares its options on its subparser; ``handler(args)`` runs it and
    returns the exit code. ``json_result``: its ``--format json`` prints the result document of
    ``pipeline/machine.py`` (everything the command says goes to stderr)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    json_result: bool = False


class Parser(argparse.ArgumentParser):
    """argparse, with the way to get help said after an error (argparse exits 2 already)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n")


def build_parser(prog: str, description: str, version: str, commands: Sequence[Command], *,
                 global_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                 command_required: bool = True) -> Parser:
    """The parser of a program made of ``commands``; the chosen one's handler is ``args.handler``."""
    names = [c.name for c in commands]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"subcommand declared twice: {', '.join(duplicated)}")
    parser = Parser(prog=prog, description=description)
    parser.add_argument("-V", "--version", action="version", version=version)
    if global_arguments is not None:
        global_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, required=command_required)
    for command in commands:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(p)
        p.set_defaults(handler=command.handler, json_result=command.json_result)
    return parser


def dispatch(args: argparse.Namespace, run: Callable[[argparse.Namespace, Handler], int] | None = None) -> int:
    """Run the parsed command: the argument checks every command shares (exit 2 before any work), then its handler
    (through ``run(args, handler)`` when the program wraps every command, as ``platform-iac`` does)."""
    problem = argument_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr, flush=True)
        return 2
    return run(args, args.handler) if run is not None else args.handler(args)


def program_version(distribution: str = "platform-iac") -> str:
    """The installed distribution's version (``pyproject.toml`` when run from a checkout that is not installed)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text())["project"]["version"]
        except (OSError, KeyError, ValueError):
            return "(not installed)"


# --------------------------------------------------------------------------------------------- shared arguments
#: A Terraform resource instance address (``module.m["k"].aws_db_instance.main[0]``): what ``--approve`` names.
#: https://developer.hashicorp.com/terraform/cli/state/resource-addressing
_INDEX = r'(\[(\d+|"[^"\\]*")\])?'
ADDRESS = re.compile(rf'^(module\.[A-Za-z_][A-Za-z0-9_-]*{_INDEX}\.)*(data\.)?[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_-]*'
                     rf'{_INDEX}$')


def existing_file_option(p: argparse.ArgumentParser, flag: str, help: str) -> None:
    """An option naming a file that must exist (refused with exit 2 before any work when it does not)."""
    action = p.add_argument(flag, metavar="FILE", help=help)
    p.set_defaults(existing_files=(*(p.get_default("existing_files") or ()), action.dest))


def approve_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")


def waivers_argument(p: argparse.ArgumentParser) -> None:
    existing_file_option(p, "--waivers", "waivers file (default: compliance/waivers.toml)")


def policy_dir_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy-dir", metavar="DIR",
                   help="folder of <env>.toml policies and organisation.toml (default: the project's)")


def argument_problem(args: argparse.Namespace) -> str | None:
    """A path or address argument that cannot work, refused before any work (no synthesis, no scan, nothing
    written)."""
    output = getattr(args, "output", None)
    if output and Path(output).is_dir():  # every command's report or runbook file
        return f"--output {output} is a folder; give the path of a file to write to"
    bad = [a for a in getattr(args, "approve", None) or () if not ADDRESS.match(a)]
    if bad:  # an approval matches addresses exactly: a malformed one would silently approve nothing
        return (f"--approve {bad[0]!r} is not a Terraform resource address; name the resource as the plan does, "
                "e.g. --approve aws_db_instance.main or --approve 'module.data.aws_s3_bucket.logs[0]'")
    for dest in getattr(args, "existing_files", None) or ():
        given = getattr(args, dest, None)
        if given and not Path(given).is_file():
            what = "does not exist" if not Path(given).exists() else "is not a file"
            flag = "--" + dest.replace("_", "-")
            return f"{flag} {given} {what}; pass an existing file or leave {flag} out for the default"
    return None


# --------------------------------------------------------------------------------------------- the gate's commands
def check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="Terraform JSON (*.tf.json) or plan JSON files (what pre-commit passes); a file holding "
                        "format_version is read as a plan")
    p.add_argument("--env", help="environment whose policy applies (default: the strictest, prod); platform-iac "
                                 "also synthesizes and gates envs/<env>.toml, or every environment when no file is "
                                 "named")
    p.add_argument("--plan", action="append", default=[], metavar="FILE", help="plan JSON (terraform show -json)")
    p.add_argument("--tf-json", action="append", default=[], metavar="PATH", help="Terraform JSON file or folder")
    p.add_argument("--format", choices=CHECK_FORMATS, default="text")
    p.add_argument("--output", metavar="FILE", help="write the report here instead of standard output")
    waivers_argument(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text report: list every finding, not one line per check")
    approve_argument(p)
    policy_dir_argument(p)


def split_inputs(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """``(Terraform JSON, plan JSON)`` of ``check``: ``--tf-json``, ``--plan`` and the files named positionally, each
    read as a plan when it holds ``format_version``."""
    tf_json, plans = [Path(p) for p in args.tf_json], [Path(p) for p in args.plan]
    for name in args.files:
        (plans if _is_plan_json(Path(name)) else tf_json).append(Path(name))
    return tf_json, plans


def gate_check(args: argparse.Namespace) -> int:
    """``check``: the gate on the Terraform JSON and plan JSON given, under ``--env``'s policy (or the strictest)."""
    tf_json, plans = split_inputs(args)
    return check_command(tf_json, plans, args.env, args.format, args.output, args.waivers, args.approve,
                         verbose=args.verbose, policy_dir=args.policy_dir)


def review_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan_json", metavar="PLAN_JSON", help="plan JSON (terraform show -json)")
    p.add_argument("--format", choices=REVIEW_FORMATS, default="markdown")
    p.add_argument("--output", metavar="FILE", help="write the review here instead of standard output")
    p.add_argument("--env", help="environment whose policy the plan gate applies (with --gate)")
    p.add_argument("--gate", action="store_true",
                   help="run the plan gate too and include its findings and verdict (the exit code stays 0)")
    p.add_argument("--title", help="the review's heading")
    policy_dir_argument(p)


def gate_review(args: argparse.Namespace) -> int:
    """``review``: render a plan JSON for a pull request."""
    return review_command(args.plan_json, args.format, args.output, environment=args.env, run_gate=args.gate,
                          title=args.title, policy_dir=args.policy_dir)


CHECK = Command("check", "compliance gate on Terraform JSON or a plan JSON", check_arguments, gate_check)
REVIEW = Command("review", "render a Terraform plan JSON for a pull request", review_arguments, gate_review)
GATE_COMMANDS = (CHECK, REVIEW)


def _is_plan_json(path: Path) -> bool:
    """Whether a file named on the command line is a plan JSON (it has ``format_version``) rather than Terraform
    JSON; an unreadable one counts as Terraform JSON, whose reader then names the problem (exit 2)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "format_version" in doc


def build_gate_parser(prog: str | None = None) -> Parser:
    if prog is None:
        name = os.path.basename(sys.argv[0]) if sys.argv else ""
        prog = "platform-gate" if name == "platform-gate" else "python -m compliance.cli"
    return build_parser(prog, "The compliance gate: check Terraform JSON or a plan JSON against the policy, review "
                              "a plan. Exit 0 pass, 1 blocked, 2 bad input, 3 tool failure.",
                        f"platform-gate {program_version()}", GATE_COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """``platform-gate`` (``python -m compliance.cli check|review ...``): the gate alone, for CI systems and other
    repositories without the generator."""
    return dispatch(build_gate_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
