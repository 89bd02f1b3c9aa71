"""What ``main.py check`` and ``main.py review`` dispatch to: everything including messages and exit codes.

Exit codes: 0 pass, 1 blocking findings, 2 bad input (unreadable/invalid file, unknown environment, bad format),
3 tool failure (Checkov crashed, timed out, or scanned nothing of a non-empty input).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

# The gate (and with it Checkov, whose check classes the project checks extend) is imported where it is used, so
# that a missing or broken Checkov is exit 3 with the reason instead of a traceback at import.

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


def _is_plan_json(path: Path) -> bool:
    """Whether a file named on the command line is a plan JSON (it has ``format_version``) rather than Terraform
    JSON; an unreadable one counts as Terraform JSON, whose reader then names the problem (exit 2)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "format_version" in doc


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("platform-iac")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m compliance.cli check|review ...``) for CI systems without main.py."""
    import argparse

    import os

    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    ap = argparse.ArgumentParser(prog="platform-gate" if name == "platform-gate" else "python -m compliance.cli",
                                 description="The compliance gate: check Terraform JSON or a plan JSON against the "
                                             "policy, review a plan. Exit 0 pass, 1 blocked, 2 bad input, 3 tool "
                                             "failure.")
    ap.add_argument("-V", "--version", action="version", version=f"platform-gate {_version()}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("files", nargs="*", metavar="FILE",
                   help="Terraform JSON (*.tf.json) or plan JSON files (what pre-commit passes); a file holding "
                        "format_version is read as a plan")
    c.add_argument("--env", default=None)
    c.add_argument("--tf-json", action="append", default=[])
    c.add_argument("--plan", action="append", default=[])
    c.add_argument("--format", default="text")
    c.add_argument("--output")
    c.add_argument("--waivers")
    c.add_argument("--approve", action="append", default=[])
    c.add_argument("-v", "--verbose", action="store_true")
    c.add_argument("--policy-dir", help="folder of <env>.toml policies and organisation.toml (default: the project's)")
    r = sub.add_parser("review")
    r.add_argument("plan")
    r.add_argument("--format", default="markdown")
    r.add_argument("--output")
    r.add_argument("--env", default=None)
    r.add_argument("--gate", action="store_true")
    r.add_argument("--title")
    r.add_argument("--policy-dir")
    a = ap.parse_args(argv)
    if getattr(a, "output", None) and Path(a.output).is_dir():
        print(f"error: --output {a.output} is a folder; give the path of a file to write to", file=sys.stderr)
        return 2
    if a.cmd == "check":
        for name in a.files:
            (a.plan if _is_plan_json(Path(name)) else a.tf_json).append(name)
        return check_command(a.tf_json, a.plan, a.env, a.format, a.output, a.waivers, a.approve, verbose=a.verbose,
                             policy_dir=a.policy_dir)
    return review_command(a.plan, a.format, a.output, environment=a.env, run_gate=a.gate, title=a.title,
                          policy_dir=a.policy_dir)


if __name__ == "__main__":
    raise SystemExit(main())
