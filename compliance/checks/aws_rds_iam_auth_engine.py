"""PLAT_AWS_011: IAM database authentication only on engines that support it (MariaDB, MySQL, PostgreSQL and their
Aurora editions); RDS refuses it for Oracle, SQL Server and Db2 (InvalidParameterCombination)."""
from compliance.awsrules import literal
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, truthy

SUPPORTED = ("mysql", "mariadb", "postgres", "aurora", "aurora-mysql", "aurora-postgresql")


class RdsIamAuthEngine(PlatformCheck):
    ID = "PLAT_AWS_011"
    NAME = "RDS IAM database authentication only on engines that support it"
    RESOURCES = ("aws_db_instance", "aws_rds_cluster")
    CATEGORY = CheckCategories.IAM
    GUIDELINE = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html"

    def evaluate(self, attrs, ctx):
        enabled = truthy(attrs.get("iam_database_authentication_enabled"))
        if enabled is None:
            return UNKNOWN_RESULT
        if not enabled:
            return PASSED
        engine = literal(attrs.get("engine"))
        if engine is None:
            # a replica inherits its source's engine; a restore takes the snapshot's
            return UNKNOWN_RESULT if attrs.get("engine") is not None else PASSED
        return PASSED if engine.lower() in SUPPORTED else FAILED


check = RdsIamAuthEngine()
