"""Secrets Manager rotation function for the generic API-key integration secret (shipped by platform-iac).

The secret's value is JSON with the key under ``KEY_FIELD`` (default ``api_key``); other fields are kept. Secrets
Manager calls the function four times per rotation, with ``Step`` = createSecret, setSecret, testSecret and
finishSecret, the secret's ARN and a ``ClientRequestToken`` (the new version's id). "How rotation works":
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html; the function contract:
https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html

- createSecret: unless a version with the token already carries AWSPENDING, a new random key
  (``GetRandomPassword``) staged as AWSPENDING with the token as version id.
- setSecret: when the integration names a key endpoint (``ROTATION_ENDPOINTS``: secret name -> {"set": url,
  "test": url, "method": "POST"|"PUT"}), the pending key is registered with the partner there, authenticated with the
  current key (``Authorization: Bearer <current>``, body ``{"<KEY_FIELD>": "<pending>"}``). Without an endpoint the
  key is the platform's own (the partner reads it from the secret): nothing to set.
- testSecret: with an endpoint, a GET of the test URL authenticated with the pending key must answer 2xx; without,
  the pending value must be JSON holding a key of ``KEY_LENGTH`` characters.
- finishSecret: AWSCURRENT moves to the token's version (the old one gets AWSPREVIOUS) and the version
  loses AWSPENDING.

Only the standard library and boto3 (present in the Lambda Python runtime).
"""
from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)

KEY_FIELD = os.environ.get("KEY_FIELD", "api_key")
KEY_LENGTH = int(os.environ.get("KEY_LENGTH", "40"))
HTTP_TIMEOUT_SECONDS = 10


class RotationError(Exception):
    """A step cannot complete; Secrets Manager retries the rotation and reports it failed."""


def endpoints() -> dict[str, dict[str, str]]:
    return json.loads(os.environ.get("ROTATION_ENDPOINTS", "{}") or "{}")


def client() -> Any:
    return boto3.client("secretsmanager", endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT") or None)


def handler(event: dict[str, Any], context: Any = None, sm: Any = None) -> None:
    sm = sm or client()
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    meta = sm.describe_secret(SecretId=arn)
    versions = meta.get("VersionIdsToStages", {})
    if token in versions and "AWSCURRENT" in versions[token]:
        log.info("version %s of %s is already AWSCURRENT", token, arn)
        return
    # createSecret makes the token's version; every later step needs it staged AWSPENDING.
    if step != "createSecret" and "AWSPENDING" not in versions.get(token, []):
        raise RotationError(f"version {token} of {arn} is not staged AWSPENDING")
    endpoint = endpoints().get(meta["Name"])
    if step == "createSecret":
        create_secret(sm, arn, token)
    elif step == "setSecret":
        set_secret(sm, arn, token, endpoint)
    elif step == "testSecret":
        test_secret(sm, arn, token, endpoint)
    elif step == "finishSecret":
        finish_secret(sm, arn, token)
    else:
        raise RotationError(f"unknown step {step!r}")


def _value(sm: Any, arn: str, **version: str) -> dict[str, Any]:
    text = sm.get_secret_value(SecretId=arn, **version)["SecretString"]
    try:
        value = json.loads(text)
    except ValueError:
        raise RotationError(f"the value of {arn} is not JSON; store {{\"{KEY_FIELD}\": \"...\"}}") from None
    if not isinstance(value, dict):
        raise RotationError(f"the value of {arn} is not a JSON object")
    return value


def create_secret(sm: Any, arn: str, token: str) -> None:
    current = _value(sm, arn, VersionStage="AWSCURRENT")
    try:
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        log.info("createSecret: %s already has a pending version %s", arn, token)
        return
    except sm.exceptions.ResourceNotFoundException:
        pass
    key = sm.get_random_password(PasswordLength=KEY_LENGTH, ExcludePunctuation=True)["RandomPassword"]
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps({**current, KEY_FIELD: key}),
                        VersionStages=["AWSPENDING"])
    log.info("createSecret: staged a new key as version %s of %s", token, arn)


def _call(url: str, method: str, key: str, body: dict[str, Any] | None = None) -> int:
    if not url.startswith("https://"):
        raise RotationError(f"refusing to send a key to {url}: not https")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 (https only)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def set_secret(sm: Any, arn: str, token: str, endpoint: dict[str, str] | None) -> None:
    if not endpoint:
        log.info("setSecret: %s has no partner key endpoint; the new key is the platform's own", arn)
        return
    current = _value(sm, arn, VersionStage="AWSCURRENT")[KEY_FIELD]
    pending = _value(sm, arn, VersionId=token, VersionStage="AWSPENDING")[KEY_FIELD]
    status = _call(endpoint["set"], endpoint.get("method", "POST"), current, {KEY_FIELD: pending})
    if not 200 <= status < 300:
        raise RotationError(f"setSecret: the partner key endpoint answered HTTP {status}")
    log.info("setSecret: registered version %s of %s with the partner", token, arn)


def test_secret(sm: Any, arn: str, token: str, endpoint: dict[str, str] | None) -> None:
    pending = _value(sm, arn, VersionId=token, VersionStage="AWSPENDING").get(KEY_FIELD)
    if not isinstance(pending, str) or len(pending) != KEY_LENGTH:
        raise RotationError(f"testSecret: version {token} of {arn} holds no {KEY_LENGTH}-character {KEY_FIELD}")
    if endpoint:
        status = _call(endpoint.get("test") or endpoint["set"], "GET", pending)
        if not 200 <= status < 300:
            raise RotationError(f"testSecret: the partner rejected the new key (HTTP {status})")
    log.info("testSecret: version %s of %s works", token, arn)


def finish_secret(sm: Any, arn: str, token: str) -> None:
    versions = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=current)
    # The rotation is complete: the version is no longer pending (a later rotation starts from a clean state).
    if "AWSPENDING" in versions.get(token, []):
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    log.info("finishSecret: version %s of %s is AWSCURRENT (was %s)", token, arn, current)
