"""The small environment of tests/test_switches.py (network + one log group + one bucket, every tier switch off) on
the emulator: apply, verify with boto3, an empty re-plan, destroy that leaves nothing. It is the shape the
pipeline-logic tests run on, so its apply and destroy times are printed (-s) for the README."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.run import PipelineError
from tests.conftest import own_emulator
from tests.test_switches import shape

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_small_environment_applies_replans_empty_and_destroys(workspace: Path) -> None:
    import boto3

    from envs.target import Target
    from pipeline.run import Pipeline
    from pipeline.synth import synthesize

    settings = shape("small")
    root = workspace / "switches-e2e"
    with own_emulator(root / ".build" / "local") as emulator:
        target = Target(kind="local", endpoint=emulator.endpoint)
        stack = synthesize({"small": settings}, target, root / "out", commit="0123456789ab").stacks["small"]
        pipe = Pipeline(settings, target, stack.parent, root / ".build", say=lambda _: None)
        pipe.bootstrap()
        pipe.init()
        started = time.monotonic()
        outcome = pipe.plan()
        assert outcome.has_changes
        pipe.apply(outcome)
        applied = time.monotonic() - started

        def client(service: str) -> Any:
            return boto3.client(service, region_name=settings.region, endpoint_url=emulator.endpoint,
                                aws_access_key_id="test", aws_secret_access_key="test")

        state = pipe.tf.state_list()
        assert sum(a.startswith("aws_s3_bucket.") for a in state) == 1
        (vpc,) = client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": [settings.network.vpc_cidr]}])["Vpcs"]
        assert vpc["State"] == "available"
        groups = client("logs").describe_log_groups(logGroupNamePrefix="/vpc/webplatform-small/")["logGroups"]
        assert [g["logGroupName"] for g in groups] == ["/vpc/webplatform-small/flow-logs"]
        assert groups[0].get("kmsKeyId")
        buckets = [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith("webplatform-small-")]
        assert len(buckets) == 1 and buckets[0].startswith("webplatform-small-logs-")
        assert client("s3").get_bucket_encryption(Bucket=buckets[0])[
            "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"][
            "SSEAlgorithm"] == "aws:kms"

        pipe.verify_no_changes()

        # the destroy goes through the stateful guard: refused until each stateful address is approved
        with pytest.raises(PipelineError, match="refused: the destroy would delete") as refused:
            pipe.destroy()
        approvals = re.findall(r"--approve (\S+)", str(refused.value))
        assert approvals and any(a.startswith("aws_s3_bucket.") for a in approvals), refused.value
        assert pipe.tf.state_list(), "a refused destroy destroys nothing"
        started = time.monotonic()
        pipe.destroy(approvals=approvals)
        destroyed = time.monotonic() - started
        assert pipe.tf.state_list() == []
        assert not client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": [settings.network.vpc_cidr]}])[
            "Vpcs"]
        assert not [b for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith("webplatform-small-")]
        print(f"\nsmall environment: {len(state)} resources, plan + apply {applied:.0f} s, destroy {destroyed:.0f} s")
