"""PLAT_SEC_001 on an update plan judges the code under review, not what the provider read back: an API key AWS
generated (``aws_api_gateway_usage_plan_key.value``, not configured), ARNs of Secrets Manager secrets
(``…:secret:name-AbCdEf``) and documents assembled from references are not plaintext secrets in code; a literal the
configuration sets still is. (Found on the emulator: every update plan of dev was blocked.)"""
from __future__ import annotations

from compliance.checks.no_plaintext_secrets import check, code_values
from compliance.checklib import FAILED, PASSED, CheckContext

API_KEY = "LYGTVS0FbgAqHM84Ii6en9ukaJs35KomBD7Eypc1"


def _ctx(expressions):
    return CheckContext("aws_x.y", "aws_x", stage="plan", expressions=expressions)


def test_a_generated_api_key_is_the_providers_not_code():
    attrs = {"key_id": "abc123", "key_type": "API_KEY", "usage_plan_id": "u1", "value": API_KEY}
    exprs = {"key_id": {"references": ["aws_api_gateway_api_key.k.id"]}, "key_type": {"constant_value": "API_KEY"},
             "usage_plan_id": {"references": ["aws_api_gateway_usage_plan.p.id"]}}
    assert check.evaluate(attrs, _ctx(exprs)) == PASSED
    assert "value" not in code_values(attrs, exprs)


def test_a_configured_literal_is_still_judged():
    attrs = {"value": API_KEY, "name": "k"}
    exprs = {"value": {"constant_value": API_KEY}, "name": {"constant_value": "k"}}
    assert check.evaluate(attrs, _ctx(exprs)) == FAILED


def test_secret_arns_and_reference_documents_pass():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webplatform-dev/app/runtime-NkDrjW"
    attrs = {"arn": arn, "id": arn, "name": "webplatform-dev/app/runtime",
             "policy": '{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"%s"}]}'
             % arn}
    exprs = {"name": {"constant_value": "webplatform-dev/app/runtime"},
             "policy": {"references": ["aws_secretsmanager_secret.s.arn"]}}
    assert check.evaluate(attrs, _ctx(exprs)) == PASSED
    # without configuration expressions everything is judged, and an ARN is still no secret
    assert check.evaluate({"arn": arn, "policy": attrs["policy"]}, _ctx({})) == PASSED


def test_without_configuration_every_attribute_is_judged():
    assert check.evaluate({"value": API_KEY}, _ctx({})) == FAILED
