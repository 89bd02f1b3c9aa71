"""PLAT_ENC_002: S3 default encryption uses SSE-KMS with a customer-managed key.

Checked on ``aws_s3_bucket_server_side_encryption_configuration`` and on a bucket's legacy inline
``server_side_encryption_configuration``; with the gate's context a bucket without any SSE configuration fails.
"""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 combine, first, is_set, is_unknown, require)


def _rules_ok(rules):
    results = []
    for rule in rules:
        d = first(rule.get("apply_server_side_encryption_by_default")) if isinstance(rule, dict) else None
        if not isinstance(d, dict):
            results.append(FAILED)
            continue
        algo = first(d.get("sse_algorithm"))
        if is_unknown(algo):
            results.append(UNKNOWN_RESULT)
            continue
        results.append(combine([require(algo in ("aws:kms", "aws:kms:dsse")),
                                require(is_set(d.get("kms_master_key_id")))]))
    return combine(results) if results else FAILED


class S3CustomerManagedKey(PlatformCheck):
    ID = "PLAT_ENC_002"
    NAME = "S3 buckets use SSE-KMS with a customer-managed key"
    RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_server_side_encryption_configuration")
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_s3_bucket_server_side_encryption_configuration":
            return _rules_ok(as_list(attrs.get("rule")))
        inline = first(attrs.get("server_side_encryption_configuration"))
        if isinstance(inline, dict) and inline.get("rule"):
            return _rules_ok(as_list(inline.get("rule")))
        if ctx is None:
            return UNKNOWN_RESULT  # the separate configuration resource is not visible to bare Checkov
        return PASSED if ctx.referrers("aws_s3_bucket_server_side_encryption_configuration") else FAILED


check = S3CustomerManagedKey()
