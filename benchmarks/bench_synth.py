#!/usr/bin/env python
"""Benchmark: fast-path synth of all environments vs the floor of the stock provider import.

(a) floor  = a fresh process that only does ``import cdktf_cdktf_provider_aws`` the stock way
             (PLATFORM_STOCK_PROVIDER_IMPORT=1): what any stock synth pays before doing anything.
(b) synth  = a fresh process running the synth command (default: ``python main.py synth``) with
             the fast import path.

Each is run --repetitions times, alternating, and the median wall time is taken. The ratio b/a
must be <= --target (default 0.6), otherwise the exit status is 1. Peak RSS of the Python process
and of its node (jsii kernel) child are sampled separately by polling the process tree with psutil.
A markdown table is printed and JSON is written to benchmarks/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover
    sys.exit("psutil is required: pip install -e '.[dev]'  (or: pip install psutil)")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOOR_CMD = [sys.executable, "-c", "import cdktf_cdktf_provider_aws"]
DEFAULT_SYNTH = f"{shlex.quote(sys.executable)} main.py synth --outdir {{outdir}}"


def _env(stock: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.pop("PLATFORM_STOCK_PROVIDER_IMPORT", None)
    if stock:
        env["PLATFORM_STOCK_PROVIDER_IMPORT"] = "1"
    return env


def _classify(proc: psutil.Process) -> str | None:
    try:
        name = proc.name().lower()
        exe = os.path.basename(proc.exe()).lower() if proc.exe() else ""
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if "node" in name or "node" in exe:
        return "node"
    if "python" in name or "python" in exe:
        return "python"
    return "other"


def run_once(cmd: list[str], env: dict[str, str], poll: float, timeout: float) -> dict:
    """Run cmd, return wall time, exit code and peak RSS (bytes) per process kind."""
    peaks = {"python": 0, "node": 0, "other": 0}
    start = time.perf_counter()
    popen = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = psutil.Process(popen.pid)
    deadline = start + timeout
    while popen.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for proc in procs:
            kind = _classify(proc)
            if kind is None:
                continue
            if proc.pid == popen.pid:
                kind = "python"
            try:
                peaks[kind] = max(peaks[kind], proc.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        if time.perf_counter() > deadline:
            popen.kill()
            break
        time.sleep(poll)
    out, err = popen.communicate()
    wall = time.perf_counter() - start
    return {"wall_s": wall, "rc": popen.returncode, "peak_rss": peaks,
            "stderr_tail": err.decode(errors="replace")[-2000:] if popen.returncode else ""}


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--repetitions", type=int, default=3, help="runs of each command (median is used; default 3)")
    ap.add_argument("--synth-cmd", default=DEFAULT_SYNTH,
                    help="command for (b), run from the repo root with the fast path; '{outdir}' is replaced by a "
                         "fresh temporary folder per run (default: %(default)s)")
    ap.add_argument("--floor-cmd", default=shlex.join(FLOOR_CMD),
                    help="command for (a), run with PLATFORM_STOCK_PROVIDER_IMPORT=1 (default: %(default)s)")
    ap.add_argument("--target", type=float, default=0.6, help="maximum allowed ratio synth/floor (default 0.6)")
    ap.add_argument("--poll", type=float, default=0.05, help="RSS polling interval in seconds (default 0.05)")
    ap.add_argument("--timeout", type=float, default=900, help="per-run timeout in seconds (default 900)")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                    help="one unmeasured run of each command first (fills the jsii package cache, page cache)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.repetitions < 1:
        ap.error("--repetitions must be >= 1")

    floor_cmd = shlex.split(args.floor_cmd)
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    runs: dict[str, list[dict]] = {"floor": [], "synth": []}
    try:
        def synth_cmd(i: int) -> list[str]:
            return shlex.split(args.synth_cmd.replace("{outdir}", str(tmp / f"out{i}")))

        plan = []
        if args.warmup:
            plan += [("warmup-floor", None), ("warmup-synth", -1)]
        for i in range(args.repetitions):
            plan += [("floor", None), ("synth", i)]
        for label, i in plan:
            kind = label.removeprefix("warmup-")
            cmd = floor_cmd if kind == "floor" else synth_cmd(i)
            res = run_once(cmd, _env(stock=kind == "floor"), args.poll, args.timeout)
            print(f"  {label:13s} {res['wall_s']:7.2f} s  rc={res['rc']}  "
                  f"py={_mib(res['peak_rss']['python'])} node={_mib(res['peak_rss']['node'])}", file=sys.stderr)
            if res["rc"] != 0:
                print(f"command failed: {shlex.join(cmd)}\n{res['stderr_tail']}", file=sys.stderr)
                return 2
            if not label.startswith("warmup"):
                runs[kind].append(res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def summary(kind: str) -> dict:
        rs = runs[kind]
        return {
            "median_s": statistics.median(r["wall_s"] for r in rs),
            "min_s": min(r["wall_s"] for r in rs),
            "max_s": max(r["wall_s"] for r in rs),
            "peak_rss_python": max(r["peak_rss"]["python"] for r in rs),
            "peak_rss_node": max(r["peak_rss"]["node"] for r in rs),
            "runs_s": [round(r["wall_s"], 3) for r in rs],
        }

    floor, synth = summary("floor"), summary("synth")
    ratio = synth["median_s"] / floor["median_s"]
    ok = ratio <= args.target

    print()
    print("| measurement | median | min | max | peak RSS python | peak RSS node |")
    print("|---|---|---|---|---|---|")
    for label, s in (("(a) stock `import cdktf_cdktf_provider_aws`", floor), ("(b) fast-path synth", synth)):
        print(f"| {label} | {s['median_s']:.2f} s | {s['min_s']:.2f} s | {s['max_s']:.2f} s | "
              f"{_mib(s['peak_rss_python'])} | {_mib(s['peak_rss_node'])} |")
    print(f"\nratio b/a = {ratio:.3f} (target <= {args.target}) -> {'OK' if ok else 'FAIL'}"
          f"  [n={args.repetitions}]")

    result = {
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "platform": platform.platform(),
                 "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "repetitions": args.repetitions,
        "floor_cmd": floor_cmd, "synth_cmd": args.synth_cmd,
        "floor": floor, "synth": synth, "ratio": ratio, "target": args.target, "ok": ok,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"bench_synth-{_dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
