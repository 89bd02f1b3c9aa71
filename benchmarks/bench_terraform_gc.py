#!/usr/bin/env python
"""Benchmark: the Terraform runner's ``GOGC`` against Go's default, on a plan of dev.

dev is synthesized for the local target and initialized against an emulator of its own (state backend bootstrapped
there, as a deploy does; the emulator also answers the plan's data sources), and ``terraform plan -refresh=false``
(every resource planned from configuration: the part of a plan that is CPU in Terraform and the provider, not
waiting on an API) runs --repetitions times with each setting, alternating:

(a) default = ``GOGC=100`` (Go's default)
(b) runner  = ``GOGC`` as :func:`pipeline.tfconfig.terraform_env` sets it

CPU is user + system time of Terraform and the provider processes it waited for (``wait4``); peak RSS is that of the
largest of them. The ratio of median CPU b/a must be <= --target (default 0.85), otherwise the exit status is 1.
A markdown table is printed and JSON is written to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def prepare_dev(work: Path, endpoint: str) -> tuple[Path, dict[str, str], int]:
    """dev synthesized for the emulator at ``endpoint``, its state backend bootstrapped there and initialized, as a
    deploy does; returns the stack folder, the runner's Terraform environment and the resource count."""
    import envs
    from envs.target import Target
    from pipeline.run import Pipeline
    from pipeline.synth import synthesize

    settings, target = envs.load_all()["dev"], Target(kind="local", endpoint=endpoint)
    stack = synthesize({"dev": settings}, target, work / "out", commit="0123456789ab").stacks["dev"]
    pipe = Pipeline(settings, target, stack.parent, work / ".build", say=lambda _: None)
    pipe.bootstrap()
    pipe.init()
    doc = json.loads(stack.read_text())
    return stack.parent, pipe.tf.env, sum(len(v) for v in doc.get("resource", {}).values())


def plan_usage(stack: Path, env: dict[str, str]) -> dict[str, float]:
    started = time.monotonic()
    proc = subprocess.Popen(["terraform", "plan", "-refresh=false", "-lock=false", "-no-color", "-input=false"],
                            cwd=stack, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"terraform plan failed ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
    return {"wall_s": time.monotonic() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.85, help="max CPU ratio runner/default")
    args = parser.parse_args()

    from pipeline import local
    from pipeline.tfconfig import TERRAFORM_GOGC

    with tempfile.TemporaryDirectory(prefix="bench-gc-") as tmp:
        work = Path(tmp)
        running = local.start(work / ".build" / "local")
        try:
            stack, env, count = prepare_dev(work, running.endpoint)
            settings = {"default": "100", "runner": env["GOGC"]}
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in settings}
            for _ in range(args.repetitions):
                for name, gogc in settings.items():
                    runs[name].append(plan_usage(stack, {**env, "GOGC": gogc}))
        finally:
            local.stop(work / ".build" / "local")

    median = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    ratio = median["runner"]["cpu_s"] / median["default"]["cpu_s"]
    print(f"terraform plan -refresh=false of dev ({count} resources), median of {args.repetitions}\n")
    print("| setting | GOGC | CPU s | wall s | peak RSS MiB (largest process) |\n| --- | --- | --- | --- | --- |")
    for name, gogc in settings.items():
        m = median[name]
        print(f"| {name} | {gogc} | {m['cpu_s']:.1f} | {m['wall_s']:.1f} | {m['peak_rss_mib']:.0f} |")
    ok = ratio <= args.target
    print(f"\nCPU ratio runner/default: {ratio:.2f} (target <= {args.target}): {'ok' if ok else 'MISSED'}")
    RESULTS.mkdir(exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"terraform_gc-{stamp}.json").write_text(json.dumps(
        {"resources": count, "gogc": settings, "runner_gogc_constant": TERRAFORM_GOGC, "runs": runs,
         "median": median, "cpu_ratio": ratio, "target": args.target}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
