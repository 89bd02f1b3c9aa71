"""PLAT_AWS_001: an S3 origin read through CloudFront origin access control whose objects are encrypted with a
customer-managed KMS key: the key policy must let ``cloudfront.amazonaws.com`` decrypt, scoped to the distribution
with ``AWS:SourceArn``. Without it every object request fails with 403 (KMS.AccessDenied) on a real account.
An AWS-managed key (``alias/aws/s3``) cannot be used: its policy cannot admit CloudFront."""
from compliance.awsrules import allows, bucket_sse, key_statements, node
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, combine,
                                 is_set)

GUIDELINE = ("https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
             "private-content-restricting-access-to-s3.html")


class CloudFrontOacKmsKey(PlatformCheck):
    ID = "PLAT_AWS_001"
    NAME = "CloudFront OAC origins encrypted with a CMK: the key policy admits cloudfront.amazonaws.com (AWS:SourceArn)"
    RESOURCES = ("aws_cloudfront_distribution",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = GUIDELINE

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        results = []
        for origin in as_list(attrs.get("origin")):
            if not isinstance(origin, dict) or not is_set(origin.get("origin_access_control_id")):
                continue
            if n is None:
                return UNKNOWN_RESULT
            buckets = n.refs("origin", ("origin_id", origin.get("origin_id")), "domain_name", rtype="aws_s3_bucket")
            if not buckets:
                results.append(UNKNOWN_RESULT)  # the bucket is not part of this configuration
                continue
            kind, key = bucket_sse(buckets[0])
            if kind == "sse-s3":
                results.append(PASSED)
            elif kind == "aws-managed":
                results.append(FAILED)
            elif kind == "cmk":
                st = key_statements(key)
                if st is None:
                    results.append(UNKNOWN_RESULT)
                else:
                    ok = allows(st, actions=["kms:Decrypt"], service="cloudfront.amazonaws.com",
                                required_condition=["aws:SourceArn"])
                    results.append(PASSED if ok else FAILED)
                    if not ok:
                        self.details.append(f"origin {origin.get('origin_id')}: key {key.address}")
            else:
                results.append(UNKNOWN_RESULT)
        return combine(results) if results else PASSED


check = CloudFrontOacKmsKey()
