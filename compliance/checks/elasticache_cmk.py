"""PLAT_ENC_005: ElastiCache replication groups / serverless caches: at-rest encryption with a customer-managed
KMS key and in-transit encryption."""
from compliance.checklib import CheckCategories, PlatformCheck, combine, is_set, require, truthy


class ElastiCacheCustomerManagedKey(PlatformCheck):
    ID = "PLAT_ENC_005"
    NAME = "ElastiCache encrypts at rest with a customer-managed KMS key and in transit"
    RESOURCES = ("aws_elasticache_replication_group", "aws_elasticache_serverless_cache")
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_elasticache_serverless_cache":
            return require(is_set(attrs.get("kms_key_id")))
        return combine([
            require(truthy(attrs.get("at_rest_encryption_enabled"))),
            require(is_set(attrs.get("kms_key_id"))),
            require(truthy(attrs.get("transit_encryption_enabled"))),
        ])


check = ElastiCacheCustomerManagedKey()
