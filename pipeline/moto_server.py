"""moto server, with requests processed one at a time.

moto's backends are not thread-safe, while its server is threaded: a Terraform apply sends many requests at once
(parallelism 10), and concurrent creates on one backend occasionally produced false "already exists" errors
(e.g. ``NetworkAclEntryAlreadyExists`` for a rule created once, ``EntityAlreadyExists`` for a role created once).
AWS processes each request atomically; so does this server: connections are still accepted concurrently, but the
moto application handles one request at a time. ``python -m pipeline.moto_server -H HOST -p PORT``.

Retries are idempotent, as a client expects when its first attempt was processed but the answer did not reach it: the
AWS SDKs send the same ``amz-sdk-invocation-id`` on every attempt of one call, and a later attempt (``attempt=2`` or
more in ``amz-sdk-request``) of a call this server has already answered with success gets that answer again instead
of running the operation twice (an error answer is not replayed: the retry runs). Without this, a lost answer turned
into a false failure of the retry: a state lock taken by the first attempt and refused to the second
(``ConditionalCheckFailedException``: the run is refused by its own lock, which then stays),
``InvalidPermission.Duplicate`` for a security group rule added once. Each replay is logged to the server's output.

Bucket policies: moto evaluates a statement whose condition it cannot decide (it has no request context) as a
denial, whatever the statement's effect, so a TLS-only bucket (``Deny s3:*`` when ``aws:SecureTransport`` is
``false``, the platform's policy on every bucket) refused every object call. AWS applies a statement only when its
condition holds, and the emulator stands in for AWS's HTTPS endpoints: on this server such a TLS-only statement does
not apply to the request (:func:`tls_endpoint_bucket_policies`). Every other statement is evaluated by moto as
before, so an unconditional Deny still refuses.

With ``PLATFORM_MOTO_TRACE=FILE`` each request appends a line to FILE: seconds waited for the lock, seconds handled,
the service (from the request signature), the operation (``X-Amz-Target`` or ``Action=``), the method and the path,
then the names of the URL's query parameters (``-`` for none; ``+copy`` when an S3 copy source is given) and the
access key id (the account): a profile of where a plan or an apply spends its time on the emulator, and the record
``pipeline/least_privilege.py`` maps to IAM actions.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_KEY = re.compile(r"Credential=([^/]+)/")
_ACTION = re.compile(r"(?:^|&)Action=([A-Za-z0-9]+)")
_ATTEMPT = re.compile(r"attempt=(\d+)")


#: How many answers are kept for replay (the calls of a few minutes of a large apply).
REPLAY_CAPACITY = 5000


class SerializedApp:
    """A WSGI application that runs ``app`` under one lock (moto returns complete responses, never streams) and
    answers a retry of a successfully answered call with the first answer."""

    def __init__(self, app: Callable[..., Iterable[bytes]], trace: str | None = None) -> None:
        self.app, self.lock, self.trace = app, threading.Lock(), trace
        self.answers: OrderedDict[str, tuple[str, list[tuple[str, str]], list[bytes]]] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not self.trace:
            with self.lock:
                return self._handle(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        names = sorted({part.split("=", 1)[0] for part in query.split("&") if part})
        if environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            names.append("+copy")
        key = _KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(data)
            query += "&" + data[:300].decode("utf-8", "replace")
        queued = time.monotonic()
        with self.lock:
            started = time.monotonic()
            body = self._handle(environ, start_response)
            done = time.monotonic()
        service = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        action = environ.get("HTTP_X_AMZ_TARGET") or _ACTION.search(query)
        with open(self.trace, "a") as out:
            out.write(f"{started - queued:.3f} {done - started:.3f} {service.group(1) if service else '-'} "
                      f"{action if isinstance(action, str) else (action.group(1) if action else '-')} "
                      f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '').replace(' ', '%20')} {','.join(names) or '-'} "
                      f"{key.group(1) if key else '-'}\n")
        return body

    def _handle(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Run the call, or replay the answer to an earlier attempt of it (the caller holds the lock)."""
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        attempt = _ATTEMPT.search(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        if invocation and attempt and int(attempt.group(1)) > 1 and invocation in self.answers:
            status, headers, body = self.answers[invocation]
            print(f"replayed the answer ({status}) to attempt {attempt.group(1)} of call {invocation} "
                  f"({environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')})", file=sys.stderr, flush=True)
            start_response(status, headers)
            return body
        seen: list[Any] = []

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, list(headers)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = list(self.app(environ, remember))
        if invocation and seen and int(seen[0].split(" ", 1)[0]) < 400:
            self.answers[invocation] = (seen[0], seen[1], body)
            if len(self.answers) > REPLAY_CAPACITY:
                self.answers.popitem(last=False)
        return body


def _denies_insecure_transport_only(statement: dict[str, Any]) -> bool:
    """A statement that applies to plain-HTTP requests only (``Bool aws:SecureTransport false``)."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or set(condition) != {"Bool"} or not isinstance(condition["Bool"], dict):
        return False
    values = condition["Bool"]
    if set(values) != {"aws:SecureTransport"}:
        return False
    value = values["aws:SecureTransport"]
    return [str(v).lower() for v in (value if isinstance(value, list) else [value])] == ["false"]


def tls_endpoint_bucket_policies() -> None:
    """Evaluate bucket policies as AWS does for a request over HTTPS: TLS-only statements do not apply."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    moto_get_permission = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return moto_get_permission(self, action, resource)
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        statements = doc.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [st for st in statements if not _denies_insecure_transport_only(st)]
        if len(kept) == len(statements):
            return moto_get_permission(self, action, resource)
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    tls_endpoint_bucket_policies()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto.server does
    run_simple(args.host, args.port, SerializedApp(app, os.environ.get("PLATFORM_MOTO_TRACE")), threaded=True,
               use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
