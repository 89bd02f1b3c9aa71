"""PLAT_RDS_004: RDS master passwords are managed by Secrets Manager (``manage_master_user_password``), never a
``password``/``master_password`` in the configuration.  Instances restored from a snapshot or cluster members
inherit the credentials and are not checked."""
from compliance.checklib import (PASSED, CheckCategories, PlatformCheck, combine, is_set, require, truthy)


class RdsManagedMasterPassword(PlatformCheck):
    ID = "PLAT_RDS_004"
    NAME = "RDS master password is managed by Secrets Manager"
    RESOURCES = ("aws_db_instance", "aws_rds_cluster")
    CATEGORY = CheckCategories.SECRETS

    def evaluate(self, attrs, ctx):
        if is_set(attrs.get("replicate_source_db")) or is_set(attrs.get("snapshot_identifier")):
            return PASSED
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_db_instance" and is_set(attrs.get("cluster_identifier")):
            return PASSED
        pw = "password" if rtype == "aws_db_instance" else "master_password"
        plain = is_set(attrs.get(pw))
        return combine([require(truthy(attrs.get("manage_master_user_password"))),
                        require(None if plain is None else not plain)])


check = RdsManagedMasterPassword()
