"""Run Checkov once as a subprocess over many files and parse its JSON report.

Checkov is run from the same interpreter (``python -m checkov.main``) with ``-o json --soft-fail --skip-download``
and without ``--quiet`` (passed checks are needed for the counts).  With ``--soft-fail`` a non-zero exit code can
only mean Checkov itself failed.  Every way this can go wrong (missing, non-zero exit, timeout, unparsable output,
parsing errors, nothing scanned of a non-empty input) becomes an error string, never a pass.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from compliance.checklib import address_type


@dataclass(frozen=True, slots=True)
class CheckovResult:
    check_id: str
    title: str
    result: str            # PASSED | FAILED | SKIPPED
    resource: str          # Terraform address (mapped)
    file: str
    guideline: str | None


@dataclass(slots=True)
class CheckovRun:
    results: list[CheckovResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    resources_scanned: int = 0      # resources Checkov reported on, or its summary's resource_count if larger
    version: str | None = None
    seconds: float = 0.0


def checkov_resource_types() -> frozenset[str]:
    """Resource types Checkov has at least one resource check for (its registry, loaded in-process with the base
    check class the project's checks derive from).  Resources of other types get no Checkov result, so they are not
    counted when the gate checks that Checkov scanned every resource of the input."""
    from checkov.terraform.checks.resource.registry import resource_registry
    import checkov.terraform.checks.resource.aws  # noqa: F401  (registers the AWS checks)

    # the project's own checks register in the same registry when imported: they are not Checkov's
    return frozenset(t for t, checks in resource_registry.checks.items()
                     if any(not str(getattr(c, "id", "")).startswith("PLAT_") for c in checks))


def checkov_command(framework: str, files: Sequence[Path], extra: Sequence[str] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "checkov.main", "--framework", framework, "-o", "json", "--soft-fail",
           "--skip-download", "--compact"]
    for f in files:
        cmd += ["-f", str(f)]
    cmd += list(extra)
    return cmd


def run_checkov(framework: str, files: Sequence[Path], *, timeout: float = 600,
                resource_index: dict[str, dict[str, list[tuple[str, str]]]] | None = None,
                expect_resources: int = 0, extra_args: Sequence[str] = ()) -> CheckovRun:
    """Run Checkov once over ``files``.  ``resource_index`` maps file -> resource name -> [(type, address)] to
    resolve the ``resource.NAME`` ids Checkov emits for Terraform JSON; ``expect_resources`` is how many resources
    the gate itself found in the input (0: an empty scan is fine)."""
    import time

    run = CheckovRun()
    if not files:
        return run
    env = dict(os.environ)
    env.setdefault("BC_SKIP_MAPPING", "TRUE")
    env.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    env["LOG_LEVEL"] = "ERROR"
    env["PYTHONWARNINGS"] = "ignore"
    cmd = checkov_command(framework, files, extra_args)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        run.errors.append(f"checkov ({framework}) timed out after {timeout:g}s over {len(files)} file(s)")
        return run
    except OSError as exc:
        run.errors.append(f"checkov ({framework}) could not start: {exc}")
        return run
    finally:
        run.seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = _tail(proc.stderr) or _tail(proc.stdout)
        run.errors.append(f"checkov ({framework}) exited with code {proc.returncode}: {tail}")
        return run
    try:
        reports = _parse_json(proc.stdout)
    except ValueError as exc:
        run.errors.append(f"checkov ({framework}) printed no parsable JSON report ({exc}); stderr: {_tail(proc.stderr)}")
        return run
    seen: set[tuple[str, str]] = set()
    counted = 0
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        ctype = rep.get("check_type")
        if ctype not in (None, framework):
            continue
        summary = rep.get("summary") or {}
        run.version = summary.get("checkov_version") or run.version
        rc = summary.get("resource_count")
        if isinstance(rc, int) and not isinstance(rc, bool):
            counted += rc
        perr = summary.get("parsing_errors") or 0
        results = rep.get("results") or {}
        if perr:
            bad = results.get("parsing_errors") or []
            run.errors.append(f"checkov ({framework}) could not parse {perr} file(s): "
                              + ", ".join(str(b) for b in bad[:5]))
        for key, status in (("failed_checks", "FAILED"), ("passed_checks", "PASSED"), ("skipped_checks", "SKIPPED")):
            for item in results.get(key) or ():
                file = os.path.abspath(item.get("file_abs_path") or item.get("file_path") or "")
                addr = _map_address(item, file, resource_index)
                run.results.append(CheckovResult(
                    check_id=item.get("check_id", "?"), title=item.get("check_name") or "",
                    result=status, resource=addr, file=file, guideline=item.get("guideline")))
                if not addr.startswith("provider."):
                    seen.add((file, addr))
    run.resources_scanned = max(len(seen), counted)
    if expect_resources and run.resources_scanned < expect_resources and not run.errors:
        # Counted against the input's own list (the plan's resource_changes / the JSON's resource blocks), never
        # against what Checkov chose to return: a scanner that silently skipped resources did not pass them.
        run.errors.append(f"checkov ({framework}) scanned {run.resources_scanned} of the {expect_resources} "
                          f"resources the input holds (of the types Checkov has checks for: "
                          f"{', '.join(str(f) for f in files[:5])}); a scan that misses resources cannot pass")
    return run


def _tail(text: str, n: int = 600) -> str:
    text = (text or "").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-n:]


def _parse_json(stdout: str) -> list[Any]:
    text = stdout.strip()
    if not text:
        raise ValueError("empty output")
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        raise ValueError("no JSON found")
    doc = json.JSONDecoder().raw_decode(text[min(starts):])[0]
    return doc if isinstance(doc, list) else [doc]


_STATIC_ID = re.compile(r"^resource\.(.+)$")


def _map_address(item: dict, file: str, index: dict | None) -> str:
    addr = item.get("resource_address") or item.get("resource") or ""
    m = _STATIC_ID.match(addr)
    if m and index is not None:
        name = m.group(1)
        cands = index.get(file, {}).get(name, [])
        if len(cands) == 1:
            return cands[0][1]
        if len(cands) > 1:
            return _by_lines(file, name, cands, item.get("file_line_range") or [0, 0])
    return addr


_LINE_CACHE: dict[str, list[str]] = {}


def _by_lines(file: str, name: str, cands: list[tuple[str, str]], lines: list[int]) -> str:
    """Several types share this resource name: find the ``"TYPE": {`` key that precedes the reported line."""
    text = _LINE_CACHE.get(file)
    if text is None:
        try:
            text = Path(file).read_text().splitlines()
        except OSError:
            return cands[0][1]
        _LINE_CACHE[file] = text
    start = max(1, int(lines[0]))
    types = {t: a for t, a in cands}
    for ln in range(min(start, len(text)), 0, -1):
        s = text[ln - 1].strip()
        for t, a in types.items():
            if s.startswith(f'"{t}"'):
                return a
    return cands[0][1]


def index_for(resources) -> dict[str, dict[str, list[tuple[str, str]]]]:
    idx: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for r in resources:
        name = r.address.split(".", 1)[1] if "." in r.address else r.address
        idx.setdefault(os.path.abspath(r.file), {}).setdefault(name, []).append((address_type(r.address), r.address))
    return idx
