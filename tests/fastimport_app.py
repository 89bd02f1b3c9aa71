"""Small self-contained cdktf app used to prove the lazy provider import is byte-identical.

Usage: python tests/fastimport_app.py OUTDIR [--count N] [--fast-exit]

Prints one JSON line on stdout: {"fast": bool, "provider_modules": int, "resources": int}.
With PLATFORM_STOCK_PROVIDER_IMPORT=1 the stock (eager) provider import is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from modules import _fastimport  # noqa: E402

FAST = _fastimport.install()

from cdktf import App, S3Backend, TerraformOutput, TerraformStack  # noqa: E402
from constructs import Construct  # noqa: E402

from cdktf_cdktf_provider_aws.provider import AwsProvider  # noqa: E402
from cdktf_cdktf_provider_aws.vpc import Vpc  # noqa: E402
from cdktf_cdktf_provider_aws.subnet import Subnet  # noqa: E402
from cdktf_cdktf_provider_aws.security_group import (  # noqa: E402
    SecurityGroup,
    SecurityGroupEgress,
    SecurityGroupIngress,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket  # noqa: E402
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (  # noqa: E402
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from cdktf_cdktf_provider_aws.kms_key import KmsKey  # noqa: E402
from cdktf_cdktf_provider_aws.iam_role import IamRole  # noqa: E402
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup  # noqa: E402
from cdktf_cdktf_provider_aws.lb import Lb  # noqa: E402
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup  # noqa: E402
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (  # noqa: E402
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
import cdktf_cdktf_provider_aws as aws  # noqa: E402  (attribute access path)


class WebStack(TerraformStack):
    def __init__(self, scope: Construct, name: str, region: str, count: int) -> None:
        super().__init__(scope, name)
        AwsProvider(self, "aws", region=region, default_tags=[{"tags": {"env": name}}])
        S3Backend(self, bucket="tf-state-example", key=f"{name}.tfstate", region=region)

        key = KmsKey(self, "key", description=f"{name} key", enable_key_rotation=True)
        vpc = Vpc(self, "vpc", cidr_block="10.0.0.0/16", enable_dns_hostnames=True)
        subnets = [
            Subnet(self, f"subnet{i}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24",
                   availability_zone=f"{region}{'abc'[i % 3]}")
            for i in range(max(2, count))
        ]
        sg = SecurityGroup(
            self, "alb_sg", vpc_id=vpc.id, description="alb",
            ingress=[SecurityGroupIngress(from_port=443, to_port=443, protocol="tcp",
                                          cidr_blocks=["0.0.0.0/0"])],
            egress=[SecurityGroupEgress(from_port=0, to_port=0, protocol="-1",
                                        cidr_blocks=["0.0.0.0/0"])],
        )
        bucket = S3Bucket(self, "logs", bucket_prefix=f"{name}-logs")
        S3BucketVersioningA(self, "logs_versioning", bucket=bucket.id,
                            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
        assume = DataAwsIamPolicyDocument(
            self, "assume",
            statement=[DataAwsIamPolicyDocumentStatement(
                actions=["sts:AssumeRole"],
                principals=[DataAwsIamPolicyDocumentStatementPrincipals(
                    type="Service", identifiers=["ecs-tasks.amazonaws.com"])],
            )],
        )
        IamRole(self, "task_role", name=f"{name}-task", assume_role_policy=assume.json)
        CloudwatchLogGroup(self, "logs_group", name=f"/{name}/app", retention_in_days=30,
                           kms_key_id=key.arn)
        lb = Lb(self, "alb", load_balancer_type="application", security_groups=[sg.id],
                subnets=[s.id for s in subnets])
        LbTargetGroup(self, "tg", port=8080, protocol="HTTP", vpc_id=vpc.id, target_type="ip")
        # module attribute access (PEP 562 path on the fast side)
        aws.route53_zone.Route53Zone(self, "zone", name=f"{name}.example.com")
        # a getter returning a nested jsii object
        TerraformOutput(self, "versioning_status", value=bucket.versioning.enabled)
        TerraformOutput(self, "alb_dns", value=lb.dns_name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=3, help="subnets per stack")
    ap.add_argument("--fast-exit", action="store_true")
    args = ap.parse_args(argv)

    os.makedirs(args.outdir, exist_ok=True)
    app = App(outdir=args.outdir)
    for name, region in (("dev", "eu-west-1"), ("prod", "eu-central-1")):
        WebStack(app, name, region, args.count)
    app.synth()

    provider_modules = sorted(m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws."))
    print(json.dumps({
        "fast": FAST,
        "fast_active": _fastimport.is_active(),
        "provider_modules": len(provider_modules),
    }))
    if args.fast_exit:
        _fastimport.fast_exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
