"""PLAT_AWS_006: a Macie classification job over buckets encrypted with a customer-managed key: the key policy
admits Macie's service-linked role (``AWSServiceRoleForAmazonMacie``) for kms:Decrypt, or a KMS grant gives it
Decrypt; otherwise Macie cannot analyse the objects (it reports them as unclassifiable)."""
from compliance.awsrules import allows, bucket_sse, key_grants, key_statements, node, service_linked_role
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, combine

MACIE_ROLE = service_linked_role("macie.amazonaws.com", "AWSServiceRoleForAmazonMacie")


class MacieKmsKey(PlatformCheck):
    ID = "PLAT_AWS_006"
    NAME = "Macie jobs over CMK-encrypted buckets: the key admits AWSServiceRoleForAmazonMacie (policy or grant)"
    RESOURCES = ("aws_macie2_classification_job",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/macie/latest/user/discovery-supported-encryption-types.html"

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        results = []
        for bucket in n.refs("s3_job_definition", rtype="aws_s3_bucket"):
            kind, key = bucket_sse(bucket)
            if kind != "cmk":
                results.append(UNKNOWN_RESULT if kind == "unknown" else PASSED)
                continue
            if any(isinstance(g.attrs.get("grantee_principal"), str)
                   and g.attrs["grantee_principal"].endswith(MACIE_ROLE.rsplit("/", 1)[-1])
                   and "Decrypt" in as_list(g.attrs.get("operations")) for g in key_grants(key)):
                results.append(PASSED)
                continue
            st = key_statements(key)
            if st is None:
                results.append(UNKNOWN_RESULT)
            elif allows(st, actions=["kms:Decrypt"], aws_suffix=MACIE_ROLE):
                results.append(PASSED)
            else:
                self.details.append(f"bucket {bucket.address}: key {key.address}")
                results.append(FAILED)
        return combine(results) if results else PASSED


check = MacieKmsKey()
