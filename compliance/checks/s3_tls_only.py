"""PLAT_S3_004: S3 buckets have a bucket policy denying requests without TLS
(``Deny`` on ``*`` principal with ``Bool aws:SecureTransport = false``)."""
import json

from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 first, is_ref, is_unknown)


def _denies_insecure(policy):
    if isinstance(policy, str):
        if is_unknown(policy):
            return None
        try:  # a JSON document with ${...} interpolations inside its strings still parses
            policy = json.loads(policy)
        except ValueError:
            return None if is_ref(policy) else False
    if not isinstance(policy, dict):
        return False
    for st in as_list(policy.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        cond = st.get("Condition") or {}
        for op in ("Bool", "BoolIfExists"):
            val = (cond.get(op) or {}).get("aws:SecureTransport")
            if str(first(val) if isinstance(val, list) else val).lower() == "false":
                return True
    return False


class S3TlsOnlyPolicy(PlatformCheck):
    ID = "PLAT_S3_004"
    NAME = "S3 bucket policies deny requests that are not sent over TLS"
    RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_policy")
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_s3_bucket_policy":
            ok = _denies_insecure(first(attrs.get("policy")))
            return UNKNOWN_RESULT if ok is None else (PASSED if ok else FAILED)
        inline = first(attrs.get("policy"))
        if inline:
            ok = _denies_insecure(inline)
            if ok:
                return PASSED
        if ctx is None:
            return UNKNOWN_RESULT
        return PASSED if ctx.referrers("aws_s3_bucket_policy") else FAILED


check = S3TlsOnlyPolicy()
