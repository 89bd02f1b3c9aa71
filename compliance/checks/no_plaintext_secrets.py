"""PLAT_SEC_001: no plaintext secret in any attribute of any resource.

A secret by name (a literal under a password/secret/token/key-like attribute, map key, ``{"name": "DB_PASSWORD",
"value": ...}`` pair or ``--password VALUE`` argument) or by value (known credential formats, ``NAME=value``
assignments in scripts and commands, high-entropy tokens), judged after decoding base64 (``user_data``,
``*_base64``), URL encoding and JSON documents held in strings (container definitions, policies); see
:mod:`compliance.secrets`.  References (``${...}``), values unknown until apply, ARNs and identifiers pass.
Write-only ``*_wo`` attributes are never stored and pass.  The finding names the attribute path, never the value.
AWS: environment variables of a task definition "are readable by all users and roles that are allowed the
DescribeTaskDefinition action"; keep secrets in Secrets Manager or SSM Parameter Store and pass references
(https://docs.aws.amazon.com/AmazonECS/latest/userguide/taskdef-envfiles.html).
"""
import re

from compliance.checklib import FAILED, PASSED, CheckCategories, PlatformCheck
from compliance.secrets import find_literal_secrets, secret_parts

_SEGMENT = re.compile(r"([^.\[\]]+)")


def safe_path(path: str) -> str:
    """The path with any segment that is itself secret-looking (a map key holding a credential) replaced."""
    return _SEGMENT.sub(lambda m: "(key)" if secret_parts("", m.group(1)) else m.group(1), path)


class NoPlaintextSecrets(PlatformCheck):
    ID = "PLAT_SEC_001"
    NAME = "No plaintext secrets in resource attributes"
    RESOURCES = ("*",)
    CATEGORY = CheckCategories.SECRETS
    GUIDELINE = "https://docs.aws.amazon.com/AmazonECS/latest/userguide/taskdef-envfiles.html"

    def evaluate(self, attrs, ctx):
        for path in find_literal_secrets(attrs):
            if path.split(".")[-1].split("[")[0].endswith("_wo"):
                continue
            self.details = [safe_path(path)]
            return FAILED
        return PASSED


check = NoPlaintextSecrets()
