"""The small delivery environments (tests/envs/delivery, tests/envs/delivery-v2) driven through the real CLI: the
orchestrator's chain (tests/test_orchestrator_e2e.py) and the release, promotion, approval and cleanup runs
(tests/test_promotion_e2e.py) each on an emulator of their own; ``dump_toml`` writes settings variants for the
settings tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROJECT, REGION = "dlvtest", "us-east-1"
STAGING_BUCKET = f"{PROJECT}-tfstate-444444444444-{REGION}"
C1, C2, UNTESTED = "c1c1c1c1c1c1", "c2c2c2c2c2c2", "deadbeef0000"
FLOW_LOG_GROUP = f"/vpc/{PROJECT}-staging/flow-logs"
APP_BUCKET = f"{PROJECT}-staging-app-"  # + account + region
TEST_ENVS = ROOT / "tests" / "envs"


def dump_toml(doc: dict[str, Any], prefix: str = "") -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    scalars = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    lines = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(dump_toml(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(lines) + "\n"


@dataclass
class Delivery:
    root: Path
    v1: Path            # tests/envs/delivery: staging + prod
    v2: Path            # tests/envs/delivery-v2: staging with the application bucket
    endpoint: str

    def run(self, *args: str, commit: str = C1, envs: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PLATFORM_COMMIT": commit, "PLATFORM_ACTOR": "ci-deployer",
               "PLATFORM_BUILD_DIR": str(self.root / ".build")}
        return subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(envs or self.v1), *args],
                              cwd=self.root, capture_output=True, text=True, timeout=1800, env=env)

    def client(self, service: str) -> Any:
        from pipeline.aws import client

        return client(service, REGION, self.endpoint)

    def runs(self, env: str = "staging", bucket: str = STAGING_BUCKET) -> list[dict[str, Any]]:
        s3 = self.client("s3")
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{env}/").get("Contents", []))
        return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]

    def vpcs(self) -> list[dict[str, Any]]:
        return self.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name",
                                                          "Values": [f"{PROJECT}-staging-vpc"]}])["Vpcs"]


def make_delivery(root: Path, endpoint: str) -> Delivery:
    """Copies of the test environments beside the registry the cleanup test writes (its ``envs_dir`` is relative)."""
    v1, v2 = root / "envs-v1", root / "envs-v2"
    shutil.copytree(TEST_ENVS / "delivery", v1, ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(TEST_ENVS / "delivery-v2", v2, ignore=shutil.ignore_patterns("*.md"))
    return Delivery(root, v1, v2, endpoint)


def bucket_exists(delivery: Delivery, prefix: str) -> bool:
    return any(b["Name"].startswith(prefix) for b in delivery.client("s3").list_buckets()["Buckets"])


def out(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-4000:]}"
