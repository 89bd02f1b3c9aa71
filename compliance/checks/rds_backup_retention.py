"""PLAT_RDS_003: RDS automated backups are kept at least 7 days (protected environments)."""
from compliance.checklib import (FAILED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first, is_ref,
                                 is_unknown, require, to_int)

MIN_DAYS = 7


class RdsBackupRetention(PlatformCheck):
    ID = "PLAT_RDS_003"
    NAME = f"RDS backup retention is at least {MIN_DAYS} days"
    RESOURCES = ("aws_db_instance", "aws_rds_cluster")
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY

    def evaluate(self, attrs, ctx):
        value = first(attrs.get("backup_retention_period"))
        if is_unknown(value) or is_ref(value):
            return UNKNOWN_RESULT
        days = to_int(value)
        if days is None:
            return FAILED  # provider default: 0 for instances (no backups), 1 for clusters
        return require(days >= MIN_DAYS)


check = RdsBackupRetention()
