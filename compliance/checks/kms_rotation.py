"""PLAT_KMS_001: symmetric customer-managed KMS keys have automatic rotation enabled."""
from compliance.checklib import PASSED, CheckCategories, PlatformCheck, first, require, truthy


class KmsRotation(PlatformCheck):
    ID = "PLAT_KMS_001"
    NAME = "KMS keys have automatic rotation enabled"
    RESOURCES = ("aws_kms_key",)
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        spec = first(attrs.get("customer_master_key_spec"))
        usage = first(attrs.get("key_usage"))
        if isinstance(spec, str) and spec not in ("SYMMETRIC_DEFAULT", "true_after_unknown"):
            return PASSED  # rotation is only available for symmetric encryption keys
        if usage not in (None, "ENCRYPT_DECRYPT", "true_after_unknown"):
            return PASSED
        return require(truthy(attrs.get("enable_key_rotation")))


check = KmsRotation()
