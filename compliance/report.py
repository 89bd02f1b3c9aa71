"""Render gate results: text, json (schema ``platform-compliance/v1``, see docs/compliance.md), markdown, SARIF 2.1.0
(GitHub code scanning) and JUnit XML.  Findings hold no attribute values, only ids, titles, addresses and paths;
every string still goes through :func:`compliance.secrets.scrub_text` as a last line of defence."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence
from xml.sax.saxutils import escape, quoteattr

from compliance.gate import Finding, GateResult
from compliance.labels import environment_label, policy_in_force  # noqa: F401  (re-exported)
from compliance.secrets import scrub_text

FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")
SCHEMA = "platform-compliance/v1"
TOOL = "platform-compliance"


def render(results: Sequence[GateResult], fmt: str, *, verbose: bool = False) -> str:
    """The report in ``fmt``; ``verbose``: the text report lists every finding too (the others always do)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "text":
        return scrub_text(_text(results, verbose))
    out = {"text": _text, "json": _json, "markdown": _markdown, "sarif": _sarif, "junit": _junit,
           "html": _html}[fmt](results)
    return scrub_text(out)


def _html(results: Sequence[GateResult]) -> str:
    from compliance.html_report import render_html  # imports this module's helpers

    return render_html(results)


def overall_exit_code(results: Sequence[GateResult]) -> int:
    codes = [r.exit_code for r in results]
    return 3 if 3 in codes else (1 if 1 in codes else 0)


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _counts(r: GateResult) -> dict[str, int]:
    c = {"block": 0, "warn": 0, "info": 0, "waived": 0, "approved": 0}
    for f in r.findings:
        c[f.level] = c.get(f.level, 0) + 1
    return c


# --------------------------------------------------------------------------------------------- json
def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "check_id": f.check_id, "title": f.title, "severity": f.severity, "resource": f.resource,
        "file": _rel(f.file), "stage": f.stage.value, "status": f.status, "blocking": f.blocking, "level": f.level,
        "source": f.source, "guideline": f.guideline, "detail": f.detail, "result": f.result,
        "waiver": None if f.waiver is None else {
            "check": f.waiver.check_id, "resource": f.waiver.resource, "reason": f.waiver.reason,
            "owner": f.waiver.owner, "expires": f.waiver.expires.isoformat(),
            "environments": list(f.waiver.environments) if f.waiver.environments is not None else None,
            "source": _rel(f.waiver.source)},
    }


def result_dict(r: GateResult) -> dict[str, Any]:
    return {
        "stage": r.stage.value, "environment": r.environment, "policy": r.policy,
        "policy_in_force": policy_in_force(r), "verdict": r.verdict,
        "exit_code": r.exit_code, "passed_count": r.passed_count, "resources_scanned": r.resources_scanned,
        "unknown_count": r.unknown_count, "counts": _counts(r), "errors": list(r.errors),
        "missing_scanners": list(r.missing_scanners), "notices": list(r.notices),
        "inputs": [_rel(i) for i in r.inputs], "checkov_version": r.checkov_version,
        "findings": [finding_dict(f) for f in r.findings],
    }


def _json(results: Sequence[GateResult]) -> str:
    return json.dumps({"schema": SCHEMA, "exit_code": overall_exit_code(results),
                       "results": [result_dict(r) for r in results]}, indent=2) + "\n"


# --------------------------------------------------------------------------------------------- text
def check_summary(r: GateResult) -> list[dict[str, Any]]:
    """One entry per check with findings: id, title, worst severity, counts per level, environments, resources;
    blocking checks first, then by count."""
    from compliance.policy import RANK

    by_check: dict[str, dict[str, Any]] = {}
    for f in r.findings:
        e = by_check.setdefault(f.check_id, {"check_id": f.check_id, "title": f.title, "severity": f.severity,
                                             "counts": {"block": 0, "warn": 0, "info": 0, "waived": 0,
                                                        "approved": 0},
                                             "environments": set(), "resources": 0, "titles": set()})
        e["titles"].add(f.title)
        e["counts"][f.level] = e["counts"].get(f.level, 0) + 1
        e["resources"] += 1
        e["unknown"] = e.get("unknown", 0) + (f.result == "UNKNOWN")
        if RANK.get(f.severity, 0) > RANK.get(e["severity"], 0):
            e["severity"] = f.severity
        env = f.environment or r.environment
        if env:
            e["environments"].add(env)
    rows = sorted(by_check.values(), key=lambda e: (-e["counts"]["block"], -e["counts"]["warn"],
                                                     -RANK.get(e["severity"], 0), e["check_id"]))
    for e in rows:
        e["environments"] = sorted(e["environments"])
        others = len(e.pop("titles")) - 1
        if others:
            e["title"] += f" (+{others} similar)"
    return rows


def _text(results: Sequence[GateResult], verbose: bool = False) -> str:
    """Verdict first, then one line per check (counts, environments); every finding only with ``verbose``."""
    lines: list[str] = []
    for r in results:
        c = _counts(r)
        lines.append(f"{r.verdict}: {r.stage.value} gate, {policy_in_force(r)}")
        lines.append(f"  {c['block']} blocking, {c['warn']} warnings, {c['info']} info, {c['waived']} waived, "
                     f"{c['approved']} approved; {r.passed_count} checks passed on {r.resources_scanned} resources"
                     + (f"; {r.unknown_count} unknown until apply" if r.unknown_count else ""))
        for e in r.errors:
            lines.append(f"  ERROR {e}")
        for n in r.notices:
            lines.append(f"  {n}")
        for e in check_summary(r):
            k = e["counts"]
            counts = ", ".join(f"{k[level]} {name}" for level, name in
                               (("block", "blocking"), ("warn", "warnings"), ("info", "info"), ("waived", "waived"),
                                ("approved", "approved")) if k[level])
            if e["unknown"]:
                counts += f" ({e['unknown']} UNKNOWN until apply)"
            envs = f" [{', '.join(e['environments'])}]" if e["environments"] and not r.environment else ""
            lines.append(f"  {e['check_id']:22} {e['severity']:8} {counts}{envs}  {e['title']}")
        if not verbose:
            continue
        for f in r.findings:
            extra = f" [{f.detail}]" if f.detail else ""
            w = f" (waiver {f.waiver.source}, owner {f.waiver.owner}, expires {f.waiver.expires})" if f.waiver else ""
            lines.append(f"  {f.level.upper():8} {f.severity:8} {f.check_id:22} {f.resource}{extra}  "
                         f"{f.title}  ({_rel(f.file)}){w}")
    if not verbose and any(r.findings for r in results):
        lines.append("per-resource findings: --verbose, or the json/sarif/html report")
    lines.append(f"exit code {overall_exit_code(results)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- markdown
def _md_cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def markdown_findings(r: GateResult, limit: int = 200) -> str:
    rows = [f for f in r.findings]
    if not rows:
        return "_No findings._\n"
    out = ["| level | severity | check | resource | title |", "| --- | --- | --- | --- | --- |"]
    for f in rows[:limit]:
        out.append(f"| {f.level} | {f.severity} | `{f.check_id}` | `{_md_cell(f.resource)}` | {_md_cell(f.title)} |")
    if len(rows) > limit:
        out.append(f"\n_{len(rows) - limit} more findings not shown (see the JSON or SARIF report)._")
    return "\n".join(out) + "\n"


def _markdown(results: Sequence[GateResult]) -> str:
    parts = []
    for r in results:
        c = _counts(r)
        icon = {"PASSED": "✅", "BLOCKED": "⛔", "ERROR": "💥", "INCOMPLETE": "⚠️"}[r.verdict]
        parts.append(f"### {icon} Compliance gate ({r.stage.value}, {policy_in_force(r)}): {r.verdict}\n")
        parts.append(f"{c['block']} blocking · {c['warn']} warnings · {c['info']} info · {c['waived']} waived · "
                     f"{c['approved']} approved · {r.passed_count} passed · {r.resources_scanned} resources\n")
        for e in r.errors:
            parts.append(f"> **Error:** {_md_cell(e)}\n")
        for n in r.notices:
            parts.append(f"> **{_md_cell(n)}**\n")
        parts.append(markdown_findings(r))
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------- SARIF
_SARIF_LEVEL = {"block": "error", "warn": "warning", "info": "note", "waived": "note", "approved": "note"}
#: GitHub code scanning ranks results by the rule's ``security-severity`` (0.0-10.0: over 9.0 critical, 7.0-8.9 high,
#: 4.0-6.9 medium, 0.1-3.9 low); the project's severities map onto those bands.
_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0", "INFO": "0.0"}
#: Next to a synthesized stack's cdk.tf.json, where each resource was created in Python (pipeline/sources.py).
SOURCES_FILE = "cdk.tf.sources.json"


def _source_locations(scanned: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The resource -> {file, line} map next to ``scanned`` (a stack's cdk.tf.json or its plan JSON), or {}."""
    folder = os.path.dirname(os.path.abspath(scanned))
    if folder not in cache:
        try:
            with open(os.path.join(folder, SOURCES_FILE), encoding="utf-8") as fh:
                found = json.load(fh)
            cache[folder] = found if isinstance(found, dict) else {}
        except (OSError, ValueError):
            cache[folder] = {}
    return cache[folder]


def _information_uri() -> str:
    """The project's home page (``compliance.HOMEPAGE``, also pyproject's ``[project.urls]`` Homepage)."""
    from compliance import HOMEPAGE

    return HOMEPAGE


def _physical_location(f: Finding, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Python line that created the resource (our stacks), else the scanned file."""
    where = _source_locations(f.file, cache).get(f.resource)
    if isinstance(where, dict) and isinstance(where.get("file"), str) and isinstance(where.get("line"), int):
        return {"artifactLocation": {"uri": where["file"], "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, where["line"])}}
    return {"artifactLocation": {"uri": _rel(f.file).replace(os.sep, "/")}, "region": {"startLine": 1}}


def _sarif(results: Sequence[GateResult]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    sresults: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    sources: dict[str, dict[str, Any]] = {}
    for r in results:
        for e in r.errors:
            notifications.append({"level": "error", "message": {"text": e}})
        for n in r.notices:
            notifications.append({"level": "error" if r.exit_code == 3 else "warning", "message": {"text": n}})
        for f in r.findings:
            if f.check_id not in rules:
                rule: dict[str, Any] = {"id": f.check_id, "name": f.check_id,
                                        "shortDescription": {"text": f.title[:200] or f.check_id},
                                        "properties": {"severity": f.severity, "source": f.source,
                                                       "security-severity": _SECURITY_SEVERITY.get(f.severity,
                                                                                                   "5.5")}}
                if f.guideline:
                    rule["helpUri"] = f.guideline
                rules[f.check_id] = rule
            res: dict[str, Any] = {
                "ruleId": f.check_id,
                "level": _SARIF_LEVEL[f.level],
                "message": {"text": f"{f.title} — {f.resource} ({f.stage.value} gate, "
                                    f"{r.environment or r.policy}, severity {f.severity})"},
                "locations": [{
                    "physicalLocation": _physical_location(f, sources),
                    "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}],
                }],
                # the stage is part of the identity: a static and a plan finding on one resource are two alerts
                "partialFingerprints": {"platformFinding/v2": f"{f.check_id}:{f.resource}:"
                                                             f"{f.environment or r.environment or '-'}:"
                                                             f"{f.stage.value}"},
                "properties": {"severity": f.severity, "environment": r.environment, "stage": f.stage.value,
                               "blocking": f.blocking},
            }
            if f.status != "failed":
                just = (f"waived by {f.waiver.owner} until {f.waiver.expires}: {f.waiver.reason}" if f.waiver
                        else "approved for this run")
                res["suppressions"] = [{"kind": "external", "justification": just}]
            sresults.append(res)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL, "version": "1.0.0", "rules": list(rules.values()),
                            "informationUri": _information_uri()}},
        "results": sresults,
        "invocations": [{"executionSuccessful": not any(r.errors or r.missing_scanners for r in results),
                         "toolExecutionNotifications": notifications}],
    }
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": [run]}, indent=2) + "\n"


# --------------------------------------------------------------------------------------------- JUnit
def _junit(results: Sequence[GateResult]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    tot_t = sum(len(r.findings) + 1 + len(r.errors) + len(r.notices) for r in results)
    tot_f = sum(len(r.blocking) for r in results)
    tot_e = sum(len(r.errors) + (len(r.notices) if r.exit_code == 3 else 0) for r in results)
    out.append(f'<testsuites name="{TOOL}" tests="{tot_t}" failures="{tot_f}" errors="{tot_e}">')
    for r in results:
        name = f"{r.stage.value}.{r.environment or r.policy}"
        inc_err = len(r.notices) if r.exit_code == 3 else 0
        skipped = sum(1 for f in r.findings if not f.blocking) + len(r.notices) - inc_err
        out.append(f'  <testsuite name={quoteattr(name)} tests="{len(r.findings) + 1 + len(r.errors) + len(r.notices)}" '
                   f'failures="{len(r.blocking)}" errors="{len(r.errors) + inc_err}" skipped="{skipped}">')
        for e in r.errors:
            out.append(f'    <testcase classname={quoteattr(name)} name="scanner">'
                       f'<error message={quoteattr(e[:500])}>{escape(e)}</error></testcase>')
        for n in r.notices:
            out.append(f'    <testcase classname={quoteattr(name)} name="incomplete">'
                       + (f'<error message={quoteattr(n[:500])}>{escape(n)}</error>' if r.exit_code == 3
                          else f'<skipped message={quoteattr(n[:500])}/>') + '</testcase>')
        out.append(f'    <testcase classname={quoteattr(name)} name="gate">'
                   f'<system-out>{escape(f"{r.passed_count} checks passed on {r.resources_scanned} resources")}'
                   f'</system-out></testcase>')
        for f in r.findings:
            tc = f'    <testcase classname={quoteattr(name + "." + f.check_id)} name={quoteattr(f.resource)} file={quoteattr(_rel(f.file))}>'
            body = f"{f.check_id} {f.severity} {f.resource}: {f.title}"
            if f.blocking:
                tc += f'<failure message={quoteattr(f"{f.check_id}: {f.title}"[:500])} type="{f.severity}">{escape(body)}</failure>'
            else:
                tc += f'<skipped message={quoteattr(f"{f.level}: {f.check_id} {f.title}"[:500])}/>'
            out.append(tc + "</testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"
