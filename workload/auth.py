"""IAM authentication tokens for the database (RDS Proxy) and the cache (ElastiCache), generated offline by signing.

Both are SigV4 presigned requests that never leave the process: the token is the signed URL without its scheme,
valid 15 minutes, passed as the password.

- RDS / RDS Proxy: ``rds.generate_db_auth_token`` signs ``GET https://<host>:<port>/?Action=connect&DBUser=<user>``
  for the service ``rds-db``; the role needs ``rds-db:connect`` on
  ``arn:aws:rds-db:<region>:<account>:dbuser:<prx-id>/<user>`` for a proxy.
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connecting.html
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.Python.html
- ElastiCache (Valkey / Redis OSS 7+): a presigned ``GET http://<cache-name>/?Action=connect&User=<user-id>``
  for the service ``elasticache``, the cache name and user id in lowercase, expiry 900 s; the role needs
  ``elasticache:Connect`` on the replication group and the user. The token goes into ``AUTH <user-id> <token>``.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html
"""
from __future__ import annotations

from typing import Any

TOKEN_EXPIRY_SECONDS = 900


def rds_token(session: Any, host: str, port: int, user: str, region: str) -> str:
    """An RDS IAM authentication token for ``user`` at ``host:port`` (a proxy or instance endpoint)."""
    return session.client("rds", region_name=region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region)


def elasticache_token(session: Any, cache_name: str, user_id: str, region: str,
                      serverless: bool = False) -> str:
    """An ElastiCache IAM authentication token for ``user_id`` on the replication group (or serverless cache)
    ``cache_name``."""
    from botocore.model import ServiceId
    from botocore.signers import RequestSigner

    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the ElastiCache IAM token with")
    query = f"Action=connect&User={user_id.lower()}" + ("&ResourceType=ServerlessCache" if serverless else "")
    signer = RequestSigner(ServiceId("elasticache"), region, "elasticache", "v4", credentials, session.events)
    url = signer.generate_presigned_url(
        {"method": "GET", "url": f"http://{cache_name.lower()}/?{query}", "body": {}, "headers": {},
         "context": {}},
        operation_name="connect", expires_in=TOKEN_EXPIRY_SECONDS, region_name=region)
    return url.removeprefix("http://")
