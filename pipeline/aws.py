"""boto3 clients for the real AWS account or the local emulator."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

#: Credentials the local emulator (moto server) accepts; never valid on real AWS.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(service: str, region: str, endpoint: str | None = None) -> Any:
    """Return a boto3 client for ``service`` in ``region``.

    With ``endpoint`` (the local emulator) the client uses the fixed "test" credentials, that
    endpoint URL and path-style S3 addressing; without it, the normal AWS credential chain.
    """
    if endpoint is None:
        return boto3.session.Session().client(service, region_name=region)
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"})
    return boto3.session.Session(**EMULATOR_CREDENTIALS).client(
        service, region_name=region, endpoint_url=endpoint, config=config
    )
