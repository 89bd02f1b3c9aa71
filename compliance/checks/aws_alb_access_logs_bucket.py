"""PLAT_AWS_013: an ALB with access logs enabled writes to a bucket that (a) encrypts with SSE-S3 — log delivery
supports no SSE-KMS — and (b) lets Elastic Load Balancing write: the regional ELB account (regions before August
2022) or the ``logdelivery.elasticloadbalancing.amazonaws.com`` principal. AWS refuses the attribute change
("Access Denied for bucket ... Please check S3bucket permission") otherwise."""
import re

from compliance.awsrules import action_allowed, bucket_sse, node, principal_values, statements
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first, truthy

LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
#: Elastic Load Balancing account per region (the documented table of the access-logging page).
ELB_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ca-central-1": "985666609251",
    "eu-central-1": "054676820928", "eu-west-1": "156460612806", "eu-west-2": "652711504416",
    "eu-south-1": "635631232127", "eu-west-3": "009996457667", "eu-north-1": "897822967062",
    "ap-east-1": "754344448648", "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378", "me-south-1": "076674570225", "sa-east-1": "507241528517",
}
_ELB_DATA = re.compile(r"\$\{data\.aws_elb_service_account\.[^}]+\}")


def _delivery_allowed(stmts, region):
    for s in stmts:
        if s.get("Effect") != "Allow" or not action_allowed(s, "s3:PutObject"):
            continue
        if LOG_DELIVERY in principal_values(s, "Service"):
            return True
        for p in principal_values(s, "AWS"):
            if _ELB_DATA.search(p):
                return True
            acct = ELB_ACCOUNTS.get(region or "")
            if acct and (p == acct or p.endswith(f"::{acct}:root")):
                return True
    return False


class AlbAccessLogsBucket(PlatformCheck):
    ID = "PLAT_AWS_013"
    NAME = "ALB access-log bucket: SSE-S3 and a policy that lets Elastic Load Balancing write"
    RESOURCES = ("aws_lb", "aws_alb")
    CATEGORY = CheckCategories.LOGGING
    GUIDELINE = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"

    def evaluate(self, attrs, ctx):
        logs = first(attrs.get("access_logs"))
        if not isinstance(logs, dict):
            return PASSED
        enabled = truthy(logs.get("enabled"))
        if enabled is False:
            return PASSED
        n = node(ctx)
        if n is None or enabled is None:
            return UNKNOWN_RESULT
        buckets = n.refs("access_logs", "bucket", rtype="aws_s3_bucket")
        if not buckets:
            return UNKNOWN_RESULT  # the bucket is not part of this configuration
        bucket = buckets[0]
        kind, _key = bucket_sse(bucket)
        if kind in ("cmk", "aws-managed"):
            self.details.append(f"{bucket.address} encrypts with SSE-KMS")
            return FAILED
        if kind == "unknown":
            return UNKNOWN_RESULT
        policies = bucket.referrers("aws_s3_bucket_policy")
        if not policies:
            self.details.append(f"{bucket.address} has no bucket policy")
            return FAILED
        for p in policies:
            st = statements(p.attrs.get("policy"))
            if st is None:
                return UNKNOWN_RESULT
            if _delivery_allowed(st, n.region()):
                return PASSED
        self.details.append(f"{bucket.address}: no s3:PutObject for Elastic Load Balancing")
        return FAILED


check = AlbAccessLogsBucket()
