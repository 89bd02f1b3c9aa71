"""A self-contained HTML compliance report of gate results: per environment, per check, waived findings and waivers
that expire soon.

It only reads :class:`compliance.gate.GateResult` objects (as ``check`` produces them) and never the Terraform input,
so it shows ids, titles, addresses and waiver metadata, never attribute values; the page still goes through
:func:`compliance.secrets.scrub_text`. No script, no external resource: it renders the same offline, in a CI artifact
viewer and in a headless browser.

Structure (stable ids and ``data-*`` attributes, for people and for tests):

- ``#summary``: one row per result (``data-env``): verdict, policy, counts by level, passed checks, errors.
- ``#checks``: one row per check id (``data-check``), one cell per environment (``data-env``, ``data-level``) with the
  worst level there and how many resources.
- ``#waivers``: every waiver that matched a finding (``data-check``, ``data-status`` = ``expiring`` within
  `expiring_within_days` or ``active``), with owner, reason and expiry.
- ``#findings-<env>``: the findings of each result (``data-level``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Iterable, Sequence

from compliance.gate import Finding, GateResult
from compliance.labels import environment_label, policy_in_force
from compliance.secrets import scrub_text

#: Levels from worst to best, as :attr:`Finding.level` spells them.
LEVEL_ORDER = ("block", "warn", "info", "waived", "approved")
EXPIRING_WITHIN_DAYS = 30

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2733}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0} caption{text-align:left;font-weight:600}
th,td{border:1px solid #c9d1d9;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f0f3f6} code{font-size:.85rem}
.verdict-PASSED{background:#dafbe1} .verdict-BLOCKED{background:#ffd8d3} .verdict-ERROR{background:#ffb3b3} .verdict-INCOMPLETE{background:#fff3b0}
.level-block{background:#ffd8d3} .level-warn{background:#fff1c2} .level-info{background:#eef2f6}
.level-waived,.level-approved{background:#e7e1ff} .level-pass{background:#dafbe1}
.status-expiring{background:#fff1c2;font-weight:600} .muted{color:#57606a}
"""


@dataclass(frozen=True)
class _Cell:
    level: str
    count: int


def _counts(r: GateResult) -> dict[str, int]:
    counts = {lvl: 0 for lvl in LEVEL_ORDER}
    for f in r.findings:
        counts[f.level] = counts.get(f.level, 0) + 1
    return counts


def _worst(findings: Iterable[Finding]) -> str:
    levels = {f.level for f in findings}
    return next((lvl for lvl in LEVEL_ORDER if lvl in levels), "pass")


def render_html(results: Sequence[GateResult], *, today: dt.date | None = None,
                expiring_within_days: int = EXPIRING_WITHIN_DAYS, title: str = "Compliance report") -> str:
    """The report as one HTML document."""
    today = today or dt.date.today()
    envs = [environment_label(r) for r in results]
    out: list[str] = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted" id="generated">Generated {escape(today.isoformat())}; '
        f"{len(results)} result(s); waivers expiring within {expiring_within_days} days are highlighted.</p>",
    ]

    # -- summary ---------------------------------------------------------------------------------------------------
    out.append('<h2>Summary</h2><table id="summary"><caption>Per environment</caption><thead><tr>'
               "<th>Environment</th><th>Stage</th><th>Policy</th><th>Verdict</th><th>Blocking</th><th>Warnings</th>"
               "<th>Info</th><th>Waived</th><th>Passed</th><th>Resources</th><th>Errors</th></tr></thead><tbody>")
    for env, r in zip(envs, results):
        c = _counts(r)
        errors = "<br>".join(escape(e) for e in (*r.errors, *r.notices)) or "none"
        out.append(
            f'<tr data-env="{escape(env)}" data-verdict="{r.verdict}"><td>{escape(env)}</td>'
            f"<td>{escape(r.stage.value)}</td><td>{escape(policy_in_force(r))}</td>"
            f'<td class="verdict-{r.verdict}">{r.verdict}</td><td>{c["block"]}</td><td>{c["warn"]}</td>'
            f'<td>{c["info"]}</td><td>{c["waived"] + c["approved"]}</td><td>{r.passed_count}</td>'
            f"<td>{r.resources_scanned}</td><td>{errors}</td></tr>")
    out.append("</tbody></table>")

    # -- per check -------------------------------------------------------------------------------------------------
    by_check: dict[str, dict[str, list[Finding]]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for env, r in zip(envs, results):
        for f in r.findings:
            by_check.setdefault(f.check_id, {}).setdefault(env, []).append(f)
            meta.setdefault(f.check_id, (f.title, f.severity))
    out.append('<h2>Checks</h2><table id="checks"><caption>Per check and environment (worst level, resources)'
               "</caption><thead><tr><th>Check</th><th>Severity</th><th>Title</th>"
               + "".join(f"<th>{escape(e)}</th>" for e in envs) + "</tr></thead><tbody>")
    if not by_check:
        out.append(f'<tr><td colspan="{3 + len(envs)}">No findings.</td></tr>')
    worst = {c: _worst(f for fs in envs_of.values() for f in fs) for c, envs_of in by_check.items()}
    for check_id in sorted(by_check, key=lambda c: (LEVEL_ORDER.index(worst[c]), c)):
        title, severity = meta[check_id]
        cells = []
        for env in envs:
            found = by_check[check_id].get(env, [])
            level = _worst(found)
            label = f"{level} ({len(found)})" if found else "pass"
            cells.append(f'<td data-env="{escape(env)}" data-level="{level}" class="level-{level}">{label}</td>')
        out.append(f'<tr data-check="{escape(check_id)}"><td><code>{escape(check_id)}</code></td>'
                   f"<td>{escape(severity)}</td><td>{escape(title)}</td>{''.join(cells)}</tr>")
    out.append("</tbody></table>")

    # -- waivers ---------------------------------------------------------------------------------------------------
    waivers: dict[tuple, tuple[Finding, list[str]]] = {}
    for env, r in zip(envs, results):
        for f in r.findings:
            if f.waiver is not None:
                key = (f.waiver.source, f.check_id, f.resource)
                waivers.setdefault(key, (f, []))[1].append(env)
    out.append('<h2>Waivers</h2><table id="waivers"><caption>Waived findings and their waivers</caption><thead><tr>'
               "<th>Check</th><th>Resource</th><th>Environments</th><th>Owner</th><th>Reason</th><th>Expires</th>"
               "<th>Days left</th><th>Status</th></tr></thead><tbody>")
    if not waivers:
        out.append('<tr><td colspan="8">No waived findings.</td></tr>')
    for (_, check_id, resource), (f, in_envs) in sorted(waivers.items(), key=lambda kv: (kv[1][0].waiver.expires,
                                                                                         kv[0][1], kv[0][2])):
        w = f.waiver
        assert w is not None
        left = (w.expires - today).days
        status = "expiring" if left <= expiring_within_days else "active"
        out.append(
            f'<tr data-check="{escape(check_id)}" data-resource="{escape(resource)}" data-status="{status}">'
            f"<td><code>{escape(check_id)}</code></td><td><code>{escape(resource)}</code></td>"
            f"<td>{escape(', '.join(in_envs))}</td><td>{escape(w.owner)}</td><td>{escape(w.reason)}</td>"
            f"<td>{escape(w.expires.isoformat())}</td><td>{left}</td>"
            f'<td class="status-{status}">{status}</td></tr>')
    out.append("</tbody></table>")

    # -- findings per environment ----------------------------------------------------------------------------------
    for env, r in zip(envs, results):
        slug = "".join(ch if ch.isalnum() else "-" for ch in env)
        out.append(f'<h2>Findings: {escape(env)}</h2><table id="findings-{slug}" data-env="{escape(env)}"><thead>'
                   "<tr><th>Level</th><th>Severity</th><th>Check</th><th>Resource</th><th>Title</th></tr></thead>"
                   "<tbody>")
        if not r.findings:
            out.append('<tr><td colspan="5">No findings.</td></tr>')
        for f in r.findings:
            out.append(f'<tr data-level="{f.level}" data-check="{escape(f.check_id)}">'
                       f'<td class="level-{f.level}">{f.level}</td><td>{escape(f.severity)}</td>'
                       f"<td><code>{escape(f.check_id)}</code></td><td><code>{escape(f.resource)}</code></td>"
                       f"<td>{escape(f.title)}</td></tr>")
        out.append("</tbody></table>")
    out.append("</body></html>\n")
    return scrub_text("\n".join(out))
