"""The shipped API-key rotation function (modules/integration/rotation/api_key_rotation.py), its four steps run against the
emulator's Secrets Manager with real API calls (GetRandomPassword, PutSecretValue with version stages,
UpdateSecretVersionStage), the way Secrets Manager drives a rotation: createSecret, setSecret, testSecret,
finishSecret with one ClientRequestToken. A partner's key endpoint is a real HTTPS server of the test (self-signed
certificate trusted through SSL_CERT_FILE), so the function's TLS-only calls are exercised as written."""
from __future__ import annotations

import importlib
import json
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from tests.conftest import own_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@pytest.fixture(scope="module")
def secretsmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with own_emulator(tmp_path_factory.mktemp("rotation-emulator")) as emulator:
        yield boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=emulator.endpoint,
                           aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture()
def rotation(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("ROTATION_ENDPOINTS", raising=False)
    import modules.integration.rotation.api_key_rotation as module
    return importlib.reload(module)


def rotate(module: Any, sm: Any, arn: str) -> str:
    token = str(uuid.uuid4())
    for step in STEPS:
        module.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None, sm=sm)
    return token


def new_secret(sm: Any, value: dict[str, Any]) -> str:
    name = f"opstest-prod/integrations/{uuid.uuid4().hex[:8]}"
    return sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]


def current_value(sm: Any, arn: str) -> dict[str, Any]:
    # By stage label, as GetSecretValue's default does on AWS (moto 5.2.5's default ignores a moved AWSCURRENT).
    return json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def stages(sm: Any, arn: str) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=arn)["VersionIdsToStages"]


def test_four_steps_stage_a_new_random_key_and_keep_the_other_fields(secretsmanager: Any, rotation: Any) -> None:
    sm = secretsmanager
    arn = new_secret(sm, {"api_key": "old-key", "account": "acme"})
    before = next(v for v, s in stages(sm, arn).items() if "AWSCURRENT" in s)
    token = rotate(rotation, sm, arn)
    current = current_value(sm, arn)
    assert current["account"] == "acme"
    assert current["api_key"] != "old-key" and len(current["api_key"]) == 40 and current["api_key"].isalnum()
    after = stages(sm, arn)
    assert "AWSCURRENT" in after[token] and "AWSPENDING" not in after[token]
    assert "AWSPREVIOUS" in after[before]
    previous = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"])
    assert previous["api_key"] == "old-key"


def test_create_secret_is_idempotent_and_steps_refuse_an_unstaged_version(secretsmanager: Any,
                                                                           rotation: Any) -> None:
    sm = secretsmanager
    arn = new_secret(sm, {"api_key": "k" * 40})
    token = str(uuid.uuid4())
    event = {"SecretId": arn, "ClientRequestToken": token, "Step": "createSecret"}
    rotation.handler(event, None, sm=sm)
    pending = sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    rotation.handler(event, None, sm=sm)  # Secrets Manager retries a step: same pending key, no new version
    assert sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"] == pending
    assert len(stages(sm, arn)) == 2
    with pytest.raises(rotation.RotationError, match="not staged AWSPENDING"):
        rotation.handler({"SecretId": arn, "ClientRequestToken": str(uuid.uuid4()), "Step": "setSecret"}, None,
                         sm=sm)


def test_a_value_that_is_not_json_fails_create_secret(secretsmanager: Any, rotation: Any) -> None:
    sm = secretsmanager
    name = f"opstest-prod/integrations/{uuid.uuid4().hex[:8]}"
    arn = sm.create_secret(Name=name, SecretString="plain-text-key")["ARN"]
    with pytest.raises(rotation.RotationError, match="not JSON"):
        rotation.handler({"SecretId": arn, "ClientRequestToken": str(uuid.uuid4()), "Step": "createSecret"}, None,
                         sm=sm)
    assert json.dumps(stages(sm, arn)).count("AWSPENDING") == 0


# -- a partner with a documented key endpoint ---------------------------------------------------------------------

class Partner:
    """The partner's API: POST /v1/keys (Bearer <valid key>) registers {"api_key": new}; GET /v1/ping answers 200
    only for a registered key."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.calls: list[tuple[str, str, str, dict[str, Any] | None]] = []
        self.reject_ping = False


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Partner, str, Path]]:
    folder = tmp_path_factory.mktemp("partner")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    state = Partner()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.calls.append(("POST", self.path, bearer, body))
            if self.path != "/v1/keys" or bearer not in state.valid:
                return self._answer(401)
            state.valid.add(body["api_key"])
            self._answer(201)

        def do_GET(self) -> None:  # noqa: N802
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            state.calls.append(("GET", self.path, bearer, None))
            ok = self.path == "/v1/ping" and bearer in state.valid and not state.reject_ping
            self._answer(200 if ok else 403)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def with_endpoint(monkeypatch: pytest.MonkeyPatch, module: Any, sm: Any, arn: str, base: str, cert: Path) -> None:
    name = sm.describe_secret(SecretId=arn)["Name"]
    monkeypatch.setenv("ROTATION_ENDPOINTS", json.dumps({name: {"set": f"{base}/v1/keys", "test": f"{base}/v1/ping",
                                                               "method": "POST"}}))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))


def test_set_and_test_secret_call_the_partner_key_endpoint(secretsmanager: Any, rotation: Any, partner: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sm, (state, base, cert) = secretsmanager, partner
    arn = new_secret(sm, {"api_key": "partner-old-key"})
    state.valid.add("partner-old-key")
    with_endpoint(monkeypatch, rotation, sm, arn, base, cert)
    state.calls.clear()
    rotate(rotation, sm, arn)
    new = current_value(sm, arn)["api_key"]
    assert state.calls == [("POST", "/v1/keys", "partner-old-key", {"api_key": new}),  # registered with the old key
                           ("GET", "/v1/ping", new, None)]                           # tested with the new one
    assert new in state.valid


def test_a_key_the_partner_rejects_never_becomes_current(secretsmanager: Any, rotation: Any, partner: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sm, (state, base, cert) = secretsmanager, partner
    arn = new_secret(sm, {"api_key": "partner-key-2"})
    state.valid.add("partner-key-2")
    with_endpoint(monkeypatch, rotation, sm, arn, base, cert)
    state.reject_ping = True
    token = str(uuid.uuid4())
    try:
        for step in ("createSecret", "setSecret"):
            rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None, sm=sm)
        with pytest.raises(rotation.RotationError, match="rejected the new key"):
            rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": "testSecret"}, None, sm=sm)
    finally:
        state.reject_ping = False
    assert current_value(sm, arn)["api_key"] == "partner-key-2"
    assert "AWSCURRENT" not in stages(sm, arn)[token]


def test_an_unauthorised_registration_fails_set_secret(secretsmanager: Any, rotation: Any, partner: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sm, (state, base, cert) = secretsmanager, partner
    arn = new_secret(sm, {"api_key": "a-key-the-partner-does-not-know"})
    with_endpoint(monkeypatch, rotation, sm, arn, base, cert)
    token = str(uuid.uuid4())
    rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": "createSecret"}, None, sm=sm)
    with pytest.raises(rotation.RotationError, match="HTTP 401"):
        rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": "setSecret"}, None, sm=sm)


def test_keys_are_never_sent_over_plain_http(secretsmanager: Any, rotation: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sm = secretsmanager
    arn = new_secret(sm, {"api_key": "x" * 40})
    name = sm.describe_secret(SecretId=arn)["Name"]
    monkeypatch.setenv("ROTATION_ENDPOINTS", json.dumps({name: {"set": "http://127.0.0.1:9/v1/keys"}}))
    token = str(uuid.uuid4())
    rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": "createSecret"}, None, sm=sm)
    with pytest.raises(rotation.RotationError, match="not https"):
        rotation.handler({"SecretId": arn, "ClientRequestToken": token, "Step": "setSecret"}, None, sm=sm)
