#!/usr/bin/env python
"""Benchmark: plan CPU of dev with the WAF rules as ``rule_json`` (the module's shape) against nested ``rule`` blocks
(the shape before), in one run.

dev is synthesized for the local target and initialized against an emulator of its own (state backend bootstrapped
there, as a deploy does; the emulator answers the plan's data sources). The "before" configuration is the same
synthesized file with each web ACL's ``rule_json`` turned back into the ``rule`` blocks it was written from
(:func:`modules.security.waf.rules_from_api`, the exact inverse of what the module writes; a test checks the round trip), so
the two differ in nothing else. ``terraform plan -refresh=false -lock=false`` runs --repetitions times with each,
alternating (same folder, same providers, same plugin cache):

(a) before = WAF rules as ``rule`` blocks
(b) after  = WAF rules as ``rule_json``

CPU is user + system time of Terraform and the provider processes it waited for (``wait4``). The ratio of median CPU
b/a must be <= --target (default 0.9), otherwise the exit status is 1. A markdown table is printed and JSON is written
to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def blocks_variant(doc: dict) -> dict:
    """``doc`` with every web ACL's ``rule_json`` written back as ``rule`` blocks."""
    from modules.security.waf import rules_from_api

    out = json.loads(json.dumps(doc))
    acls = out.get("resource", {}).get("aws_wafv2_web_acl", {})
    if not acls:
        sys.exit("no aws_wafv2_web_acl in the synthesized dev: nothing to compare")
    for acl in acls.values():
        acl["rule"] = rules_from_api(json.loads(acl.pop("rule_json")))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.9, help="max CPU ratio after/before")
    args = parser.parse_args()

    from bench_terraform_gc import plan_usage, prepare_dev  # the same dev, prepared and planned the same way
    from pipeline import local

    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        work = Path(tmp)
        running = local.start(work / ".build" / "local")
        try:
            folder, env, count = prepare_dev(work, running.endpoint)
            stack = folder / "cdk.tf.json"
            after = json.loads(stack.read_text())
            variants = {"before (rule blocks)": blocks_variant(after), "after (rule_json)": after}
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
            for _ in range(args.repetitions):
                for name, doc in variants.items():
                    stack.write_text(json.dumps(doc, indent=2))
                    runs[name].append(plan_usage(folder, env))
        finally:
            local.stop(work / ".build" / "local")

    median = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    names = list(variants)
    ratio = median[names[1]]["cpu_s"] / median[names[0]]["cpu_s"]
    print(f"terraform plan -refresh=false of dev ({count} resources), median of {args.repetitions}\n")
    print("| WAF rules as | CPU s | wall s |\n| --- | --- | --- |")
    for name in names:
        print(f"| {name} | {median[name]['cpu_s']:.1f} | {median[name]['wall_s']:.1f} |")
    ok = ratio <= args.target
    print(f"\nCPU ratio after/before: {ratio:.2f} (target <= {args.target}): {'ok' if ok else 'MISSED'}")
    RESULTS.mkdir(exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"plan_cpu-{stamp}.json").write_text(json.dumps(
        {"resources": count, "runs": runs, "median": median, "cpu_ratio": ratio, "target": args.target}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
