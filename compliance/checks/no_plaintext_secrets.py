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


def code_values(attrs: dict, expressions: dict | None) -> dict:
    """The attributes of a plan resource that the code under review sets, when the plan's configuration says which:
    an attribute the configuration does not set is the provider's (an API key AWS generated, an ARN read back) and
    lives in state, not in the code; one set only by references (``value = aws_x.y.arn``) holds what other resources
    computed. Constant parts of a template are still judged here (``constant_value``) and in Terraform JSON at the
    static stage. Without configuration expressions (a plan without its ``configuration`` section) every attribute
    is judged."""
    if not expressions:
        return attrs
    out = {}
    for key, value in attrs.items():
        expr = expressions.get(key)
        if expr is None:
            continue
        if isinstance(expr, dict) and "constant_value" not in expr and expr.get("references"):
            continue
        out[key] = value
    return out


class NoPlaintextSecrets(PlatformCheck):
    ID = "PLAT_SEC_001"
    NAME = "No plaintext secrets in resource attributes"
    RESOURCES = ("*",)
    CATEGORY = CheckCategories.SECRETS
    GUIDELINE = "https://docs.aws.amazon.com/AmazonECS/latest/userguide/taskdef-envfiles.html"

    def evaluate(self, attrs, ctx):
        if getattr(ctx, "stage", "static") == "plan" and isinstance(attrs, dict):
            attrs = code_values(attrs, getattr(ctx, "expressions", None))
        for path in find_literal_secrets(attrs):
            if path.split(".")[-1].split("[")[0].endswith("_wo"):
                continue
            self.details = [safe_path(path)]
            return FAILED
        return PASSED


check = NoPlaintextSecrets()
