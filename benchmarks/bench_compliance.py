"""Compliance benchmarks, as ratios against floors measured in the same run (interleaved samples, medians; wall
and CPU time both reported).

1. project checks on a plan JSON (turning the loaded plan into resources, cross-resource context, every check)
   vs a bare ``json.load`` of the same file (target: checks <= 2x load; load + checks is printed too).
   The plan is built from the real fixture plans, replicated to thousands of resources.
2. the whole gate over all environments (ONE Checkov process + the project's checks, what ``python main.py check``
   runs after synthesis: ``Gate(None, file_environments=...)`` over dev, staging and prod, each under its own
   policy) vs ONE bare Checkov run over one environment (target <= 1.5x, wall and CPU).  Floors, both stock Checkov
   in a fresh interpreter, nothing of the gate: ``python -m checkov.main --framework terraform_json -o json -f
   dev/cdk.tf.json`` (the target's floor: the same framework the gate runs, the faster of the two) and the plain
   ``python -m checkov.main -f dev/cdk.tf.json -o json`` (every framework Checkov picks for the file).  The gate is
   timed in a process that has imported the gate (as ``main.py check`` has before it synthesizes), and also as a
   fresh ``python`` process doing the same (imports, Checkov, checks, the text report) for information.
   Environments: ``cdktf.out/stacks/*/cdk.tf.json`` (``python main.py synth`` first), else the fixture configs
   stand in (all of them vs one).

Run under the heavy-work lock: flock /tmp/platform-heavy.lock python benchmarks/bench_compliance.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compliance import engine  # noqa: E402
from compliance.checkov_runner import checkov_resource_types  # noqa: E402
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


def cpu_now() -> float:
    """CPU seconds of this process and of every child it has waited for (Checkov's processes included)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def interleaved(samples: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """Each round runs every sample once, in turn; returns name -> (median wall s, median CPU s)."""
    wall: dict[str, list[float]] = {k: [] for k in samples}
    cpu: dict[str, list[float]] = {k: [] for k in samples}
    for _ in range(rounds):
        for name, fn in samples.items():
            c, t = cpu_now(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(cpu_now() - c)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in samples}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    engine.project_checks()  # imports (Checkov's base classes) are paid once, outside the timing
    checkov_resource_types()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        path.write_text(json.dumps(big_plan(args.copies)))
        doc = json.load(open(path))
        n = len(doc["resource_changes"])

        def checks() -> None:
            engine.evaluate(engine._finish(engine.plan_resources(doc, str(path)), [str(path)], "plan"))
        m = interleaved({"load": lambda: json.load(open(path)), "checks": checks}, max(args.rounds, 5))
        (load, load_cpu), (chk, chk_cpu) = m["load"], m["checks"]
        r1 = chk / load
        print(f"plan JSON {path.stat().st_size / 1e6:.1f} MB, {n} resources, median of {max(args.rounds, 5)} "
              f"interleaved: json.load {load * 1000:.0f} ms ({load_cpu * 1000:.0f} ms CPU), project checks "
              f"{chk * 1000:.0f} ms ({chk_cpu * 1000:.0f} ms CPU) -> checks/load = {r1:.2f} wall, "
              f"{chk_cpu / load_cpu:.2f} CPU (target <= 2.0); (load+checks)/load = {(load + chk) / load:.2f}")

    stacks = sorted((REPO / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    if not stacks:
        stacks = sorted(FX.glob("PLAT_*/cdk.tf.json"))
        print("no synthesized stacks (python main.py synth): using the fixture configs as environments")
    envs = {str(p): (p.parent.name if p.parent.parent.name == "stacks" else "prod") for p in stacks}
    one = stacks[0]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}   # no network lookups in the floors either
    ck = [sys.executable, "-m", "checkov.main"]
    report = Path(tempfile.mkdtemp()) / "report.txt"
    fresh = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from compliance.cli import check_command; "
             f"sys.exit(check_command({[str(p) for p in stacks]!r}, None, None, 'text', {str(report)!r}, "
             f"file_environments={envs!r}))")
    codes: list[int] = []

    def gate() -> None:
        codes.append(Gate(None, file_environments=envs).scan_tf_json(stacks).exit_code)

    def run(cmd: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(cmd, capture_output=True, check=False, env=env, cwd=REPO)
    m = interleaved({
        "bare": run([*ck, "--framework", "terraform_json", "-o", "json", "-f", str(one)]),
        "plain": run([*ck, "-f", str(one), "-o", "json"]),
        "gate": gate,
        "fresh": run([sys.executable, "-c", fresh]),
    }, args.rounds)
    (bw, bc), (pw, pc), (gw, gc), (fw, fc) = m["bare"], m["plain"], m["gate"], m["fresh"]
    rw, rc = gw / bw, gc / bc
    print(f"median of {args.rounds} interleaved rounds; {len(stacks)} environment(s) "
          f"({', '.join(p.parent.name for p in stacks)}); gate exit codes {sorted(set(codes))}")
    print(f"  floor: checkov --framework terraform_json over {one.parent.name}: {bw:.2f} s wall, {bc:.2f} s CPU")
    print(f"  plain checkov -f {one.parent.name} -o json (every framework): {pw:.2f} s wall, {pc:.2f} s CPU")
    print(f"  whole gate over {len(stacks)} env(s): {gw:.2f} s wall, {gc:.2f} s CPU -> ratio {rw:.2f} wall, "
          f"{rc:.2f} CPU (target <= 1.5); vs the plain run {gw / pw:.2f} wall, {gc / pc:.2f} CPU")
    print(f"  (information) the same gate as a fresh python process, imports and report included: {fw:.2f} s "
          f"wall, {fc:.2f} s CPU -> {fw / bw:.2f} wall, {fc / bc:.2f} CPU")
    ok = r1 <= 2.0 and rw <= 1.5 and rc <= 1.5
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
