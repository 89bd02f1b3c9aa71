"""Regenerate the real Terraform plans of the compliance fixtures.

For every folder under ``tests/compliance/fixtures/`` (or the folders named on the command line) holding a
``cdk.tf.json``, this copies the config to a scratch directory, adds an override file pointing the AWS provider at a
moto server (``python -m moto.server``, started here on a free port with ``MOTO_IAM_LOAD_MANAGED_POLICIES=true``),
runs ``terraform init`` against the filesystem mirror, then ``terraform plan -out`` and ``terraform show -json``, and
writes ``tfplan.json`` next to ``cdk.tf.json``.

A folder may also hold ``before.tf.json`` (or ``before.tf`` for HCL) — that configuration is applied to moto first,
so the plan of ``cdk.tf.json`` (or ``main.tf``) shows updates, deletions and replacements against real prior state.
Folders holding ``main.tf`` (HCL, third-party examples) instead of ``cdk.tf.json`` are planned the same way.

A development tool (not shipped in the package).

Usage:  python tools/fixtures_tool.py [FOLDER ...] [--mirror /opt/tf-plugins] [--jobs 4]
Needs terraform on PATH and the AWS provider in the mirror; no network access.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "compliance" / "fixtures"
SERVICES = ["s3", "sts", "iam", "kms", "ec2", "elbv2", "rds", "elasticache", "logs", "sns", "sqs", "cloudtrail",
            "dynamodb", "secretsmanager", "ssm", "ecs", "lambda"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def cli_config(mirror: str, dest: Path) -> Path:
    dest.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n'
        '  direct { exclude = ["registry.terraform.io/hashicorp/*"] }\n}\n'
        f'plugin_cache_dir = "{dest.parent / "plugin-cache"}"\n')
    (dest.parent / "plugin-cache").mkdir(exist_ok=True)
    return dest


def override(port: int) -> dict:
    ep = f"http://127.0.0.1:{port}"
    return {"provider": {"aws": [{
        "access_key": "test", "secret_key": "test", "skip_credentials_validation": True,
        "skip_requesting_account_id": True, "skip_metadata_api_check": True, "s3_use_path_style": True,
        "max_retries": 2, "endpoints": [{s: ep for s in SERVICES}],
    }]}}


def tf(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"terraform {' '.join(args)} failed in {cwd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def generate(folder: Path, port: int, rc: Path) -> Path:
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    main = folder / "cdk.tf.json"
    if not main.exists():
        main = folder / "main.tf"
    with tempfile.TemporaryDirectory(prefix=f"fx-{folder.name}-") as tmp:
        work = Path(tmp)
        (work / "zz_moto_override.tf.json").write_text(json.dumps(override(port)))
        before = next((p for p in (folder / "before.tf.json", folder / "before.tf") if p.exists()), None)
        target_name = "main.tf.json" if main.suffix == ".json" else "main.tf"
        if before is not None:
            shutil.copy(before, work / ("main.tf.json" if before.suffix == ".json" else "main.tf"))
            tf(["init", "-input=false", "-no-color"], work, env)
            tf(["apply", "-input=false", "-auto-approve", "-no-color"], work, env)
            for p in (work / "main.tf.json", work / "main.tf"):
                p.unlink(missing_ok=True)
        shutil.copy(main, work / target_name)
        tf(["init", "-input=false", "-no-color"], work, env)
        tf(["plan", "-input=false", "-no-color", "-out=tfplan"], work, env)
        shown = tf(["show", "-json", "tfplan"], work, env).stdout
        plan = json.loads(shown)
        # the emulator override is local-only plumbing: drop its endpoints from the committed fixture
        for prov in (plan.get("configuration") or {}).get("provider_config", {}).values():
            exprs = prov.get("expressions") or {}
            for k in ("access_key", "secret_key", "endpoints"):
                exprs.pop(k, None)
        out = folder / "tfplan.json"
        out.write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n")
        if before is not None:
            shutil.copy(work / "tfplan", folder / "tfplan.bin")
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--mirror", default=os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args(argv)
    folders = args.folders or sorted(p for p in FIXTURES.iterdir()
                                     if (p / "cdk.tf.json").exists() or (p / "main.tf").exists())
    with tempfile.TemporaryDirectory(prefix="fx-rc-") as rcdir:
        rc = cli_config(args.mirror, Path(rcdir) / "terraformrc")
        port = free_port()
        moto = start_moto(port)
        try:
            failures = 0
            first, rest = folders[:1], folders[1:]
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futs = {}
                for f in first:  # fills the plugin cache before parallel inits
                    futs[pool.submit(generate, f, port, rc)] = f
                    next(iter(futs)).exception()
                futs.update({pool.submit(generate, f, port, rc): f for f in rest})
                for fut, f in futs.items():
                    try:
                        print(f"ok   {fut.result()}")
                    except Exception as exc:  # report every failure, keep going
                        failures += 1
                        print(f"FAIL {f}: {exc}", file=sys.stderr)
        finally:
            moto.send_signal(signal.SIGTERM)
            moto.wait(timeout=10)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
