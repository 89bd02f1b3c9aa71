"""PLAT_AWS_002: a trail encrypted with a customer-managed key: the key policy lets ``cloudtrail.amazonaws.com``
generate data keys (``kms:GenerateDataKey*``) and describe the key; otherwise CloudTrail refuses the trail
(InsufficientEncryptionPolicyException) or stops delivering logs."""
from compliance.awsrules import allows, customer_key, key_statements
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck


class CloudTrailKmsKey(PlatformCheck):
    ID = "PLAT_AWS_002"
    NAME = "CloudTrail CMK: the key policy admits cloudtrail.amazonaws.com (GenerateDataKey*, DescribeKey)"
    RESOURCES = ("aws_cloudtrail",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"

    def evaluate(self, attrs, ctx):
        verdict, n, key = customer_key(ctx, "kms_key_id")
        if verdict is not None:
            return verdict
        st = key_statements(key)
        if st is None:
            return UNKNOWN_RESULT
        ok = allows(st, actions=["kms:GenerateDataKey", "kms:DescribeKey"], service="cloudtrail.amazonaws.com")
        return PASSED if ok else FAILED


check = CloudTrailKmsKey()
