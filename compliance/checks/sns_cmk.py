"""PLAT_ENC_004: SNS topics are encrypted with a customer-managed KMS key (not the AWS-managed alias/aws/sns)."""
from compliance.checklib import FAILED, CheckCategories, PlatformCheck, first, is_set, require


class SnsCustomerManagedKey(PlatformCheck):
    ID = "PLAT_ENC_004"
    NAME = "SNS topics are encrypted with a customer-managed KMS key"
    RESOURCES = ("aws_sns_topic",)
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        key = first(attrs.get("kms_master_key_id"))
        if isinstance(key, str) and key.strip().endswith("alias/aws/sns"):
            return FAILED
        return require(is_set(key))


check = SnsCustomerManagedKey()
