"""PLAT_AWS_005: a backup vault encrypted with a customer-managed key: the key policy lets AWS Backup use it (the
account's principals through ``backup.<region>.amazonaws.com``, the account's plain IAM delegation, or the
``backup.amazonaws.com`` principal) for kms:CreateGrant, kms:GenerateDataKey and kms:Decrypt; otherwise backup and
copy jobs fail."""
from compliance.awsrules import allows, key_of, key_statements, node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck

ACTIONS = ("kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt")


class BackupVaultKmsKey(PlatformCheck):
    ID = "PLAT_AWS_005"
    NAME = "Backup vault CMK: the key policy lets AWS Backup create grants and use the key"
    RESOURCES = ("aws_backup_vault", "aws_backup_logically_air_gapped_vault")
    CATEGORY = CheckCategories.BACKUP_AND_RECOVERY
    GUIDELINE = "https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html"

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        kind, key = key_of(n, "kms_key_arn")
        if kind in ("none", "aws-managed"):
            return PASSED
        if kind != "cmk":
            return UNKNOWN_RESULT
        region = n.region()
        st = key_statements(key)
        if st is None or region is None:
            return UNKNOWN_RESULT
        ok = all(allows(st, actions=[a], via_service=f"backup.{region}.amazonaws.com")
                 or allows(st, actions=[a], service="backup.amazonaws.com") for a in ACTIONS)
        return PASSED if ok else FAILED


check = BackupVaultKmsKey()
