"""PLAT_S3_001: S3 buckets are versioned (``aws_s3_bucket_versioning`` with status Enabled, or legacy inline
``versioning.enabled``).  A bucket without a versioning resource fails when the gate has context."""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first,
                                 is_unknown, require, truthy)


class S3Versioning(PlatformCheck):
    ID = "PLAT_S3_001"
    NAME = "S3 buckets have versioning enabled"
    RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_versioning")
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_s3_bucket_versioning":
            conf = first(attrs.get("versioning_configuration"))
            status = first(conf.get("status")) if isinstance(conf, dict) else None
            if is_unknown(status):
                return UNKNOWN_RESULT
            return require(status == "Enabled")
        inline = first(attrs.get("versioning"))
        if isinstance(inline, dict) and truthy(inline.get("enabled")):
            return PASSED
        if ctx is None:
            return UNKNOWN_RESULT
        return PASSED if ctx.referrers("aws_s3_bucket_versioning") else FAILED


check = S3Versioning()
