"""Plan review for pull requests: a markdown (or JSON) summary of any ``terraform show -json`` plan.

Layout: one-line verdict, counts by action, the flagged destructive changes (replacements and deletions first),
the gate's findings, then per-module details folded in ``<details>``.  The result never exceeds ``max_chars``
(default 65,000, under GitHub's 65,535 comment limit): details are cut, with a note of what was cut.  Values marked
sensitive by the plan (``before_sensitive``/``after_sensitive``) or that look like secrets are masked.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, Mapping

from compliance.cost import render_markdown as cost_markdown
from compliance.gate import GateResult
from compliance.guards import change_kind, is_stateful
from compliance.report import markdown_findings, result_dict
from compliance.secrets import MASK, collect_secrets, mask, scrub_text

ORDER = ("replace", "delete", "create", "update", "forget")
ICON = {"replace": "⚠️ ±", "delete": "⚠️ −", "create": "+", "update": "~", "forget": "⊘"}
VALUE_MAX = 120
ATTRS_MAX = 40


def module_of(address: str) -> str:
    """``module.a.module.b`` for ``module.a.module.b.aws_x.y``; ``(root)`` for root resources."""
    parts = []
    rest = address
    while rest.startswith("module."):
        i = len("module.")
        depth = 0
        while i < len(rest):
            ch = rest[i]
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif ch == "." and depth == 0:
                break
            i += 1
        parts.append(rest[:i])
        rest = rest[i + 1:]
    return ".".join(parts) or "(root)"


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else json.dumps(v)
    return s if len(s) <= VALUE_MAX else s[:VALUE_MAX - 1] + "…"


def attribute_changes(change: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(attribute, before, after) of changed top-level attributes, values masked."""
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    bs = change.get("before_sensitive") or {}
    as_ = change.get("after_sensitive") or {}
    if not isinstance(before, dict):
        before = {}
    if not isinstance(after, dict):
        after = {}
    if bs is True:  # the whole object is sensitive
        bs = {k: True for k in before}
    if as_ is True:
        as_ = {k: True for k in after}
    out = []
    for k in sorted(set(before) | set(after) | {k for k, v in (unknown.items() if isinstance(unknown, dict) else ())
                                                   if v is True}):
        b, a = before.get(k), after.get(k)
        u = isinstance(unknown, dict) and unknown.get(k) is True
        if not u and a == b:
            continue
        if not u and b is None and a in (None, [], {}, ""):
            continue  # creation: only attributes that get a value
        if k == "tags_all" and a == b:
            continue
        mb = mask(b, bs.get(k) if isinstance(bs, dict) else None, k)
        ma = "(known after apply)" if u else mask(a, as_.get(k) if isinstance(as_, dict) else None, k)
        out.append((k, "" if b is None else _short(mb), ma if u else ("null" if a is None else _short(ma))))
    return out


def _changes(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rc in plan.get("resource_changes") or ():
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        kind = change_kind(change.get("actions") or ())
        if kind in ("no-op", "read"):
            continue
        out.append({"address": rc.get("address", ""), "type": rc.get("type", ""), "action": kind,
                    "module": module_of(rc.get("address", "")), "stateful": is_stateful(rc.get("type", "")),
                    "reason": rc.get("action_reason"), "change": change})
    out.sort(key=lambda c: (ORDER.index(c["action"]) if c["action"] in ORDER else 9, c["module"], c["address"]))
    return out


def _cost_estimate(plan: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The offline monthly cost estimate of the plan (compliance/cost.py), or why there is none."""
    from compliance.cost import PriceTableError, estimate

    try:
        return estimate(dict(plan)), None
    except PriceTableError as exc:
        return None, str(exc)


def render_review(plan: Mapping[str, Any], *, gate: GateResult | None = None, fmt: str = "markdown",
                  title: str | None = None, max_chars: int = 65_000) -> str:
    """The review of ``plan``.  Values are masked where they are shown (sensitive by the plan's marking, secret by
    name or value), and the finished text is scrubbed of every secret the plan holds anywhere, in its plain,
    base64, URL-encoded and JSON-escaped forms (:func:`compliance.secrets.collect_secrets`)."""
    secrets = collect_secrets(plan)
    changes = _changes(plan)
    counts = Counter(c["action"] for c in changes)
    destructive = [c for c in changes if c["action"] in ("replace", "delete")]
    if gate is not None:
        verdict = {"PASSED": "✅ **PASSED** — no blocking findings",
                   "BLOCKED": f"⛔ **BLOCKED** — {len(gate.blocking)} blocking finding(s)",
                   "ERROR": "💥 **ERROR** — the gate could not scan this plan",
                   "INCOMPLETE": "⚠️ **INCOMPLETE** — the gate ran fewer scanners than its policy names",
                   }.get(gate.verdict, f"**{gate.verdict}**")
    else:
        verdict = "ℹ️ **NOT GATED** — plan summary only"
    if not changes:
        verdict += " · no changes"
    cost, cost_error = _cost_estimate(plan)
    if fmt == "json":
        doc = {"title": title, "verdict": gate.verdict if gate else None,
               "cost": None if cost is None else {"total_monthly_usd": cost.total_monthly_usd,
                                                  "prior_monthly_usd": cost.prior_monthly_usd,
                                                  "delta_monthly_usd": cost.delta_monthly_usd},
               "counts": {k: counts.get(k, 0) for k in ORDER},
               "changes": [{"address": c["address"], "type": c["type"], "action": c["action"], "module": c["module"],
                            "stateful": c["stateful"], "reason": c["reason"],
                            "attributes": [{"name": n, "before": b, "after": a}
                                           for n, b, a in attribute_changes(c["change"])]}
                           for c in changes],
               "gate": result_dict(gate) if gate else None}
        return scrub_text(json.dumps(doc, indent=2) + "\n", secrets)
    if fmt != "markdown":
        raise ValueError(f"unknown review format {fmt!r}; choose markdown or json")

    head: list[str] = []
    head.append(f"## {title or 'Terraform plan review'}\n")
    head.append(f"{verdict}\n")
    head.append("| action | count |\n| --- | --- |\n" + "\n".join(
        f"| {ICON.get(a, '')} {a} | {counts.get(a, 0)} |" for a in ORDER if counts.get(a, 0)) + "\n"
        if changes else "_The plan makes no changes._\n")
    if destructive:
        head.append(f"### ⚠️ Replacements and deletions ({len(destructive)})\n")
        lines = []
        for c in destructive[:50]:
            flag = " **stateful**" if c["stateful"] else ""
            reason = f" ({c['reason']})" if c["reason"] else ""
            lines.append(f"- {ICON[c['action']]} `{c['address']}` — {c['action']}{flag}{reason}")
        if len(destructive) > 50:
            lines.append(f"- … and {len(destructive) - 50} more (see details)")
        head.append("\n".join(lines) + "\n")
    if cost is not None:
        head.append(cost_markdown(cost))
    elif cost_error:
        head.append(f"> **Cost estimate unavailable:** {cost_error}\n")
    if gate is not None:
        head.append(f"### Compliance findings ({gate.stage.value} gate, {gate.environment or gate.policy})\n")
        for e in gate.errors:
            head.append(f"> **Error:** {e}\n")
        head.append(markdown_findings(gate, limit=60))
    summary = "\n".join(head)

    # details, per module and action, folded; stop adding when the budget is spent
    note_reserve = 400
    budget = max_chars - len(summary) - note_reserve
    details: list[str] = []
    shown = 0
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in changes:
        grouped[(c["module"], c["action"])].append(c)
    order = sorted(grouped, key=lambda k: (ORDER.index(k[1]) if k[1] in ORDER else 9, k[0]))
    cut = False
    for key in order:
        module, action = key
        items = grouped[key]
        block_head = f"<details><summary>{ICON.get(action, '')} {action} · <code>{module}</code> ({len(items)})</summary>\n\n"
        block_tail = "\n</details>\n"
        if budget < len(block_head) + len(block_tail) + 200:
            cut = True
            break
        body: list[str] = []
        used = len(block_head) + len(block_tail)
        for c in items:
            entry = [f"- `{c['address']}`"]
            if c["action"] in ("update", "replace", "create"):
                attrs = attribute_changes(c["change"])
                for n, b, a in attrs[:ATTRS_MAX]:
                    entry.append(f"  - `{n}`: `{b}` → `{a}`" if c["action"] != "create" else f"  - `{n}` = `{a}`")
                if len(attrs) > ATTRS_MAX:
                    entry.append(f"  - … {len(attrs) - ATTRS_MAX} more attributes")
            text = "\n".join(entry) + "\n"
            if used + len(text) > budget:
                cut = True
                break
            body.append(text)
            used += len(text)
            shown += 1
        if body:
            details.append(block_head + "".join(body) + block_tail)
            budget -= used
        if cut:
            break
    out = summary + "\n### Details\n\n" + "".join(details)
    if cut or shown < len(changes):
        out += (f"\n> ✂️ Cut to fit the comment limit: {len(changes) - shown} of {len(changes)} resource changes are "
                f"not detailed here. The full review is in the `review` JSON artifact "
                f"(`python main.py review PLAN_JSON --format json`).\n")
    out = scrub_text(out, secrets)
    if len(out) > max_chars:  # hard guarantee, whatever the content
        tail = "\n\n> ✂️ Truncated to the comment limit.\n"
        out = out[:max_chars - len(tail)] + tail
    return out


__all__ = ["render_review", "attribute_changes", "module_of", "MASK"]
