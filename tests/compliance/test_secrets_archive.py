"""Binary payloads in Terraform (``content_base64`` of an artifact): judged by what they hold, not by the entropy of
their base64 text. A gzipped tarball's text members are read (within bounds) and judged by the known credential
formats; code that computes a credential (``password=self.password()``) is not one."""
from __future__ import annotations

import base64
import io
import os
import tarfile

import pytest

from compliance.secrets import find_literal_secrets


def _tarball(files: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buf.getvalue()).decode()


CODE = (b"def connect(self):\n    return psycopg.connect(user=db['user'], password=self.database_password(),\n"
        b"                           sslmode='verify-full')\n" + os.urandom(0) + b"# padding\n" * 40)


def test_a_tarball_of_code_is_not_a_secret():
    assert list(find_literal_secrets({"content_base64": _tarball({"app/service.py": CODE})})) == []


def test_random_binary_is_not_a_secret_by_entropy():
    blob = base64.b64encode(os.urandom(4096)).decode()
    assert list(find_literal_secrets({"content_base64": blob})) == []


@pytest.mark.parametrize("secret", [
    b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
    b'PASSWORD = "hunter2hunter2"\n',
    b"key=AKIAIOSFODNN7EXAMPLE\n",
])
def test_a_credential_inside_a_tarball_is_found(secret):
    blob = _tarball({"app/service.py": CODE, "app/.env": secret + b"# padding\n" * 40})
    assert list(find_literal_secrets({"content_base64": blob})) == ["content_base64"]


def test_a_short_random_key_is_still_judged_by_entropy():
    key = base64.b64encode(os.urandom(30)).decode()   # 40 characters, the shape of a secret access key
    assert list(find_literal_secrets({"value": key})) == ["value"]
