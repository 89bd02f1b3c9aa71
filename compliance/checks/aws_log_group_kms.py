"""PLAT_AWS_003: a CloudWatch Logs log group encrypted with a customer-managed key: the key lives in the log
group's region and its policy admits ``logs.<region>.amazonaws.com`` (Encrypt, Decrypt, GenerateDataKey); otherwise
CreateLogGroup/AssociateKmsKey fails with AccessDeniedException ("The specified KMS key does not exist or is not
allowed to be used")."""
from compliance.awsrules import allows, customer_key, key_statements
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck


class LogGroupKmsKey(PlatformCheck):
    ID = "PLAT_AWS_003"
    NAME = "Log group CMK: same region, and the key policy admits logs.<region>.amazonaws.com"
    RESOURCES = ("aws_cloudwatch_log_group",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"

    def evaluate(self, attrs, ctx):
        verdict, n, key = customer_key(ctx, "kms_key_id")
        if verdict is not None:
            return verdict
        region, key_region = n.region(), key.region()
        if region is None or key_region is None:
            return UNKNOWN_RESULT
        if region != key_region:
            self.details.append(f"key {key.address} is in {key_region}, the log group in {region}")
            return FAILED
        st = key_statements(key)
        if st is None:
            return UNKNOWN_RESULT
        ok = allows(st, actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                    service=f"logs.{region}.amazonaws.com")
        return PASSED if ok else FAILED


check = LogGroupKmsKey()
