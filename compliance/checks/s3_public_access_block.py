"""PLAT_S3_003: every S3 bucket has a public access block with all four settings true."""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, combine,
                                 require, truthy)

FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")


class S3PublicAccessBlock(PlatformCheck):
    ID = "PLAT_S3_003"
    NAME = "S3 buckets have a public access block with all four settings enabled"
    RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_public_access_block")
    CATEGORY = CheckCategories.NETWORKING

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_s3_bucket_public_access_block":
            return combine(require(truthy(attrs.get(f))) for f in FLAGS)
        if ctx is None:
            return UNKNOWN_RESULT
        return PASSED if ctx.referrers("aws_s3_bucket_public_access_block") else FAILED


check = S3PublicAccessBlock()
