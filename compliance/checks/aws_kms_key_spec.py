"""PLAT_AWS_019: KMS key spec, usage and rotation combinations KMS accepts: automatic rotation only for symmetric
encryption keys (SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT); ECC and ML-DSA keys only sign; HMAC keys only
generate/verify MACs; SYMMETRIC_DEFAULT only encrypts. CreateKey/EnableKeyRotation refuse anything else
(ValidationException / UnsupportedOperationException)."""
from compliance.awsrules import literal
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, truthy


def _usages(spec):
    if spec == "SYMMETRIC_DEFAULT":
        return {"ENCRYPT_DECRYPT"}
    if spec.startswith("HMAC_"):
        return {"GENERATE_VERIFY_MAC"}
    if spec.startswith("RSA_"):
        return {"ENCRYPT_DECRYPT", "SIGN_VERIFY"}
    if spec == "SM2":
        return {"ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"}
    if spec.startswith("ECC_"):
        return {"SIGN_VERIFY", "KEY_AGREEMENT"}
    if spec.startswith("ML_DSA_"):
        return {"SIGN_VERIFY"}
    return None


class KmsKeySpecUsage(PlatformCheck):
    ID = "PLAT_AWS_019"
    NAME = "KMS key spec, usage and rotation are a combination KMS accepts"
    RESOURCES = ("aws_kms_key",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html"

    def evaluate(self, attrs, ctx):
        spec = literal(attrs.get("customer_master_key_spec")) if attrs.get("customer_master_key_spec") else \
            "SYMMETRIC_DEFAULT"
        usage = literal(attrs.get("key_usage")) if attrs.get("key_usage") else "ENCRYPT_DECRYPT"
        if spec is None or usage is None:
            return UNKNOWN_RESULT
        allowed = _usages(spec)
        if allowed is not None and usage not in allowed:
            self.details.append(f"{spec} cannot be used for {usage}")
            return FAILED
        rotation = truthy(attrs.get("enable_key_rotation"))
        if rotation and (spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT"):
            self.details.append("automatic rotation is only for symmetric encryption keys")
            return FAILED
        return PASSED if rotation is not None else UNKNOWN_RESULT


check = KmsKeySpecUsage()
