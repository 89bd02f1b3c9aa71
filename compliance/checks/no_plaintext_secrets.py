"""PLAT_SEC_001: no plaintext secret-looking value in any attribute of any resource (a literal under a
password/secret/token/key-like name, or a value shaped like an AWS key, private key or token).  References
(``${...}``), values unknown until apply and ARNs pass.  Write-only ``*_wo`` attributes are never stored and pass."""
from compliance.checklib import FAILED, PASSED, CheckCategories, PlatformCheck
from compliance.secrets import find_literal_secrets


class NoPlaintextSecrets(PlatformCheck):
    ID = "PLAT_SEC_001"
    NAME = "No plaintext secrets in resource attributes"
    RESOURCES = ("*",)
    CATEGORY = CheckCategories.SECRETS

    def evaluate(self, attrs, ctx):
        for path in find_literal_secrets(attrs):
            if path.endswith("_wo"):
                continue
            self.details = [path]
            return FAILED
        return PASSED


check = NoPlaintextSecrets()
