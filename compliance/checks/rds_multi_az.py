"""PLAT_RDS_001: RDS instances run Multi-AZ (protected environments; severity HIGH so dev only warns).

Cluster members (``aws_db_instance`` with ``cluster_identifier`` are not in this set; ``aws_rds_cluster`` has
Multi-AZ by spreading instances) so only standalone instances are checked."""
from compliance.checklib import CheckCategories, PlatformCheck, require, truthy


class RdsMultiAz(PlatformCheck):
    ID = "PLAT_RDS_001"
    NAME = "RDS instances are Multi-AZ"
    RESOURCES = ("aws_db_instance",)
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def evaluate(self, attrs, ctx):
        return require(truthy(attrs.get("multi_az")))


check = RdsMultiAz()
