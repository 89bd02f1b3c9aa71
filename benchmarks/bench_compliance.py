"""Compliance benchmarks, as ratios against floors measured in the same run.

1. project checks on a plan JSON (turning the loaded plan into resources, cross-resource context, every check)
   vs a bare ``json.load`` of the same file (target: checks <= 2x load; load + checks is printed too).
   The plan is built from the real fixture plans, replicated to thousands of resources.
2. the whole gate over all environments (one Checkov process + project checks) vs ONE bare Checkov run over one
   environment (target <= 1.5x).  Environments: ``cdktf.out/stacks/*/cdk.tf.json`` when synthesized, else the
   fixture configs stand in (all of them vs one).

Run: python benchmarks/bench_compliance.py [--copies 150]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compliance import engine  # noqa: E402
from compliance.checkov_runner import checkov_command  # noqa: E402
from compliance.gate import Gate  # noqa: E402

FX = REPO / "tests" / "compliance" / "fixtures"


def big_plan(copies: int) -> dict:
    plans = [json.loads(p.read_text()) for p in sorted(FX.glob("PLAT_*/tfplan.json"))]
    out = copy.deepcopy(plans[0])
    out["resource_changes"], mods = [], {}
    for i in range(copies):
        for j, p in enumerate(plans):
            for rc in p.get("resource_changes", []):
                rc = dict(rc, address=f"module.m{i}_{j}.{rc['address']}", module_address=f"module.m{i}_{j}")
                out["resource_changes"].append(rc)
            mods[f"m{i}_{j}"] = {"module": p["configuration"]["root_module"]}
    out["configuration"] = {"provider_config": out["configuration"].get("provider_config", {}),
                            "root_module": {"module_calls": mods}}
    return out


def timed(fn, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=150)
    args = ap.parse_args()
    engine.project_checks()  # imports (Checkov's base classes) are paid once, outside the timing
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        path.write_text(json.dumps(big_plan(args.copies)))
        load = timed(lambda: json.load(open(path)))
        doc = json.load(open(path))
        n = len(doc["resource_changes"])

        def checks():
            engine.evaluate(engine._finish(engine.plan_resources(doc, str(path)), [str(path)], "plan"))
        chk = timed(checks)
        r1 = chk / load
        print(f"plan JSON {path.stat().st_size / 1e6:.1f} MB, {n} resources: json.load {load * 1000:.0f} ms, "
              f"project checks {chk * 1000:.0f} ms -> checks/load = {r1:.2f} (target <= 2.0); "
              f"(load+checks)/load = {(load + chk) / load:.2f}")

    stacks = sorted((REPO / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    if not stacks:
        stacks = sorted(FX.glob("PLAT_*/cdk.tf.json"))
        print("no synthesized stacks: using the fixture configs as environments")
    one = stacks[0]
    t = time.perf_counter()
    subprocess.run(checkov_command("terraform_json", [one]), capture_output=True, check=False)
    bare = time.perf_counter() - t
    t = time.perf_counter()
    res = Gate(None).scan_tf_json(stacks)
    whole = time.perf_counter() - t
    r2 = whole / bare
    print(f"bare checkov over 1 env {bare:.1f}s; whole gate over {len(stacks)} env(s) {whole:.1f}s "
          f"(exit {res.exit_code}) -> ratio {r2:.2f} (target <= 1.5)")
    ok = r1 <= 2.0 and r2 <= 1.5
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
