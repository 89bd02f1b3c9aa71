"""PLAT_ENC_003: CloudWatch log groups are encrypted with a customer-managed KMS key."""
from compliance.checklib import CheckCategories, PlatformCheck, is_set, require


class LogGroupCustomerManagedKey(PlatformCheck):
    ID = "PLAT_ENC_003"
    NAME = "CloudWatch log groups are encrypted with a customer-managed KMS key"
    RESOURCES = ("aws_cloudwatch_log_group",)
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        return require(is_set(attrs.get("kms_key_id")))


check = LogGroupCustomerManagedKey()
