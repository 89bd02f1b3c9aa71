"""PLAT_RDS_002: RDS instances and clusters have deletion protection (protected environments)."""
from compliance.checklib import CheckCategories, PlatformCheck, require, truthy


class RdsDeletionProtection(PlatformCheck):
    ID = "PLAT_RDS_002"
    NAME = "RDS instances and clusters have deletion protection"
    RESOURCES = ("aws_db_instance", "aws_rds_cluster")
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def evaluate(self, attrs, ctx):
        return require(truthy(attrs.get("deletion_protection")))


check = RdsDeletionProtection()
