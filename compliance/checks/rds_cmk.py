"""PLAT_ENC_001: RDS instances and clusters are encrypted with a customer-managed KMS key."""
from compliance.checklib import CheckCategories, PlatformCheck, combine, is_set, require, truthy


class RdsCustomerManagedKey(PlatformCheck):
    ID = "PLAT_ENC_001"
    NAME = "RDS storage is encrypted with a customer-managed KMS key"
    RESOURCES = ("aws_db_instance", "aws_rds_cluster")
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        return combine([require(truthy(attrs.get("storage_encrypted"))), require(is_set(attrs.get("kms_key_id")))])


check = RdsCustomerManagedKey()
