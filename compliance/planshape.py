"""Shape of a plan JSON before the gate trusts it (``terraform show -json`` output, format 1.x).

The gate refuses (CLI exit 2, :class:`compliance.engine.InputError` naming the file, the field and the fix) a plan
that it cannot judge soundly, instead of passing it or crashing on it:

- ``errored: true``: Terraform stopped planning part-way, so the plan does not hold every change;
- an unknown ``format_version`` major (only 1.x is understood);
- ``resource_changes`` that is not a list, an entry that is not an object, or an entry without ``address``,
  ``type`` or ``change.actions`` (a list of the known action names), or whose ``change``/``change.after``/
  ``change.after_unknown`` has the wrong JSON type;
- ``planned_values`` stripped (absent or without ``root_module``) while ``resource_changes`` creates or updates
  resources: a plan edited after Terraform wrote it;
- JSON nested deeper than the gate walks (:data:`MAX_DEPTH` levels in the parts the checks recurse into; the JSON
  parser's own recursion limit is caught too).

The validator reads only the plan's skeleton (one pass over ``resource_changes``, no recursion into values), so it
costs a small fraction of ``json.load``. Reference for the format:
https://developer.hashicorp.com/terraform/internals/json-format
"""
from __future__ import annotations

from typing import Any

MAX_DEPTH = 64
KNOWN_ACTIONS = frozenset({"no-op", "create", "read", "update", "delete", "forget"})
SUPPORTED_MAJOR = "1"


class PlanShapeError(ValueError):
    """The plan's JSON shape is not one the gate can judge (the message names the field and the fix)."""


def _fail(where: str, what: str, fix: str) -> None:
    raise PlanShapeError(f"{where}: {what}; {fix}")


def validate_plan(doc: Any) -> None:
    """Raise :class:`PlanShapeError` when ``doc`` is not a plan the gate can judge soundly."""
    if not isinstance(doc, dict):
        _fail("top level", "a plan JSON must be an object", "pass the output of `terraform show -json PLANFILE`")
    fv = doc.get("format_version")
    if not isinstance(fv, str) or fv.split(".", 1)[0] != SUPPORTED_MAJOR:
        _fail("format_version", f"unsupported plan format {fv!r} (the gate understands {SUPPORTED_MAJOR}.x)",
              "create the plan with Terraform 1.x (`terraform show -json`)")
    if doc.get("errored") is True:
        _fail("errored", "Terraform marked this plan as errored (planning stopped part-way, so it does not hold "
              "every change)", "fix the errors `terraform plan` reported and plan again")
    changes = doc.get("resource_changes", [])
    if changes is None:
        changes = []
    if not isinstance(changes, list):
        _fail("resource_changes", f"must be a list of objects, got {type(changes).__name__}",
              "pass an unmodified `terraform show -json` plan")
    writes = False
    for i, rc in enumerate(changes):
        where = f"resource_changes[{i}]"
        if not isinstance(rc, dict):
            _fail(where, f"must be an object, got {type(rc).__name__}", "pass an unmodified `terraform show -json` plan")
        addr = rc.get("address")
        if not isinstance(addr, str) or not addr:
            _fail(f"{where}.address", "missing or not a string", "every change names its resource address")
        where = f"resource_changes[{i}] ({addr})"
        rtype = rc.get("type")
        if not isinstance(rtype, str) or not rtype:
            _fail(f"{where}.type", "missing or not a string", "every change names its resource type")
        mode = rc.get("mode", "managed")
        if mode not in ("managed", "data"):
            _fail(f"{where}.mode", f"must be 'managed' or 'data', got {mode!r}", "pass an unmodified plan")
        change = rc.get("change")
        if not isinstance(change, dict):
            _fail(f"{where}.change", f"must be an object, got {type(change).__name__}", "pass an unmodified plan")
        actions = change.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
            _fail(f"{where}.change.actions", "missing or not a non-empty list of strings",
                  "every change lists its actions (e.g. [\"create\"])")
        bad = [a for a in actions if a not in KNOWN_ACTIONS]
        if bad:
            _fail(f"{where}.change.actions", f"unknown action(s) {bad}", f"use {sorted(KNOWN_ACTIONS)}")
        for key in ("after", "before"):
            v = change.get(key)
            if v is not None and not isinstance(v, dict):
                _fail(f"{where}.change.{key}", f"must be an object or null, got {type(v).__name__}",
                      "pass an unmodified plan")
        for key in ("after_unknown", "after_sensitive", "before_sensitive"):
            v = change.get(key)
            if v is not None and not isinstance(v, (dict, bool)):
                _fail(f"{where}.change.{key}", f"must be an object or a boolean, got {type(v).__name__}",
                      "pass an unmodified plan")
        if mode == "managed" and any(a in ("create", "update") for a in actions):
            writes = True
    pv = doc.get("planned_values")
    if writes and (not isinstance(pv, dict) or not isinstance(pv.get("root_module"), dict)):
        _fail("planned_values", "missing or without root_module while resource_changes create or update resources "
              "(the plan was edited after Terraform wrote it)", "pass an unmodified `terraform show -json` plan")
    cfg = doc.get("configuration")
    if cfg is not None and not isinstance(cfg, dict):
        _fail("configuration", f"must be an object, got {type(cfg).__name__}", "pass an unmodified plan")
