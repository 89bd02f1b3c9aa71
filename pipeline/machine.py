"""``--format json`` for ``plan``, ``deploy``, ``drift`` and ``release``: one JSON document on stdout.

While the command runs, everything it says (progress, gate summaries) goes to stderr, so stdout holds only the
result (schema ``platform-iac-result/v1``)::

    {"schema": "platform-iac-result/v1", "command": "deploy", "env": "dev", "target": "local",
     "verdict": "succeeded" | "blocked" | "bad-input" | "tool-failure", "exit_code": 0,
     "run": {"id", "status", "kind", "commit", "plan_digest", "has_changes", "failed_gate", "message"} | null,
     "gates": {"<gate>": {"verdict", "exit_code", "passed", "failed", "waived", "errors", "blocking": [...]}},
     "counts": {"blocking": n, "failed": n, "waived": n, "passed": n},
     "paths": {"stack": ..., "plan_json": ..., "review": ...},
     "drift": [{"address", "type", "drifted_attributes"}]   # drift only
    }
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

SCHEMA = "platform-iac-result/v1"
VERDICTS = {0: "succeeded", 1: "blocked", 2: "bad-input", 3: "tool-failure"}

#: What the running command left for its result (filled by the command modules through pipeline.cli_helpers).
facts: dict[str, Any] = {}


def wants_json(args: argparse.Namespace) -> bool:
    """A command declared with ``json_result`` (``plan``, ``deploy``, ``drift``, ``release``) run with ``--format
    json``."""
    return bool(getattr(args, "json_result", False)) and getattr(args, "format", None) == "json"


def run_as_json(args: argparse.Namespace, command: Callable[[argparse.Namespace], int]) -> int:
    """Run ``command`` with its human output on stderr, then print its result document on stdout."""
    facts.clear()
    with contextlib.redirect_stdout(sys.stderr):
        code = command(args)
    print(json.dumps(result(args, code), indent=2, sort_keys=True), flush=True)
    return code


def result(args: argparse.Namespace, code: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": SCHEMA, "command": args.command, "env": getattr(args, "env", None),
                           "target": getattr(args, "target", None), "exit_code": code,
                           "verdict": VERDICTS.get(code, "failed"), "run": None, "gates": {}, "paths": {},
                           "counts": {"blocking": 0, "failed": 0, "waived": 0, "passed": 0}}
    orchestrator = facts.get("orchestrator")
    record = getattr(orchestrator, "record", None)
    if record is not None:
        doc["run"] = {k: getattr(record, k) for k in ("id", "status", "kind", "commit", "plan_digest", "has_changes",
                                                      "failed_gate", "message")}
        doc["gates"] = record.gates
        for gate in record.gates.values():
            if isinstance(gate, dict) and "passed" in gate:
                doc["counts"]["blocking"] += len(gate.get("blocking", []))
                for key in ("failed", "waived", "passed"):
                    doc["counts"][key] += int(gate.get(key) or 0)
    pipe = getattr(orchestrator, "pipe", None) or facts.get("pipe")
    if pipe is not None:
        stack = Path(pipe.stack_dir)
        for key, name in (("stack", "cdk.tf.json"), ("plan_json", "tfplan.json"), ("review", "review.md")):
            if (stack / name).is_file():
                doc["paths"][key] = str(stack / name)
    if "drift" in facts:
        doc["drift"] = [{"address": rc.get("address"), "type": rc.get("type"),
                         "drifted_attributes": rc.get("drifted_attributes", [])} for rc in facts["drift"]]
    if args.command == "release":
        doc["version"] = getattr(args, "version", None)
    return doc
