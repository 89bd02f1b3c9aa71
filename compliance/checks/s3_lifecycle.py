"""PLAT_S3_002: S3 buckets have a lifecycle configuration with at least one enabled rule."""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 first, truthy)


class S3Lifecycle(PlatformCheck):
    ID = "PLAT_S3_002"
    NAME = "S3 buckets have a lifecycle configuration"
    RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_lifecycle_configuration")
    CATEGORY = CheckCategories.GENERAL_SECURITY

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_s3_bucket_lifecycle_configuration":
            rules = [r for r in as_list(attrs.get("rule")) if isinstance(r, dict)]
            return PASSED if any(first(r.get("status")) == "Enabled" for r in rules) else FAILED
        inline = [r for r in as_list(attrs.get("lifecycle_rule")) if isinstance(r, dict)]
        if any(truthy(r.get("enabled")) for r in inline):
            return PASSED
        if ctx is None:
            return UNKNOWN_RESULT
        return PASSED if ctx.referrers("aws_s3_bucket_lifecycle_configuration") else FAILED


check = S3Lifecycle()
