"""The reference workload: a small HTTP service that proves the platform serves.

Endpoints:
- ``GET /health``: liveness. 200 ``{"status": "ok"}`` while the process serves (503 once it is draining). This is
  the load balancer's health check path: it never touches a dependency, so a slow database does not make the Auto
  Scaling group replace healthy instances.
- ``GET /ready``: readiness. 200 when every configured dependency answers, else 503, with one entry per check:
  ``database`` (``SELECT 1`` through RDS Proxy, IAM token or password), ``cache`` (``PING`` with IAM auth or a
  password, TLS), ``bucket`` (``HeadBucket`` on its S3 bucket), ``secret`` (``GetSecretValue`` of its secret).
- ``GET /``: what runs (name, version).

Logs: one JSON object per line. The access log (``<log dir>/access.log``, shipped to ``/app/<prefix>/access``) has
``status``, ``latency_ms``, ``path``, ``method``: the project's metric filters (``{ $.status = * }``,
``{ $.status >= 500 }``, ``{ $.latency_ms >= 0 }``) and Logs Insights queries read those fields. The application
log (``<log dir>/application.log`` -> ``/app/<prefix>/application``) has ``level``; failures are logged at
``ERROR``, the term the error metric filter counts; nothing else writes that word.

Traces: one X-Ray segment per sampled request to the daemon (``workload.xray``).

Shutdown: on SIGTERM (systemd stop, after the load balancer deregistered the instance) the listening socket is
closed at once (new connections are refused), requests in flight finish, and the process exits 0 within
``APP_SHUTDOWN_GRACE_SECONDS`` (the target group's deregistration delay), exit 1 if some did not finish.

Configuration: environment variables (``APP_PORT``, ``APP_CONFIG_FILE``, ``APP_LOG_DIR``, ``APP_VERSION``,
``APP_SHUTDOWN_GRACE_SECONDS``, ``AWS_REGION``) and the JSON file ``APP_CONFIG_FILE`` (written by the instance's
user data from the SSM parameter ``/<prefix>/workload/config``), see :class:`Config`.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, TextIO

from . import auth
from .xray import Tracer

NAME = "reference-workload"
CHECK_TIMEOUT_SECONDS = 3


# -- configuration ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """What the service runs with. ``database``/``cache``/``bucket``/``secret_arn`` absent: that check is skipped
    (reported ``"configured": false``) — an environment without a cache is ready without one.

    ``database``: ``host``, ``port``, ``name``, ``user``, ``auth`` (``iam``: an RDS IAM token, the default;
    ``password``: the ``password`` of the JSON secret ``secret_arn``), ``sslmode`` (default ``require``),
    ``sslrootcert`` (``system``: the operating system's trust store, which verifies RDS Proxy's ACM certificate).
    ``cache``: ``host``, ``port``, ``user``, ``cache_name`` (replication group id, signs the IAM token), ``auth``
    (``iam`` default, or ``password`` from ``secret_arn``), ``tls`` (default true).
    """

    port: int = 8080
    region: str = "us-east-1"
    version: str = "unknown"
    log_dir: str | None = None
    shutdown_grace_seconds: float = 60.0
    database: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    bucket: str | None = None
    secret_arn: str | None = None
    xray: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> "Config":
        env = dict(os.environ if environ is None else environ)
        doc: dict[str, Any] = {}
        if env.get("APP_CONFIG_FILE"):
            path = Path(env["APP_CONFIG_FILE"])
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise SystemExit(f"{NAME}: cannot read APP_CONFIG_FILE {path}: {exc}") from None
        return cls(
            port=int(env.get("APP_PORT", doc.get("port", 8080))),
            region=env.get("AWS_REGION") or doc.get("region") or "us-east-1",
            version=env.get("APP_VERSION", doc.get("version", "unknown")),
            log_dir=env.get("APP_LOG_DIR") or None,
            shutdown_grace_seconds=float(env.get("APP_SHUTDOWN_GRACE_SECONDS", doc.get("shutdown_grace_seconds", 60))),
            database=doc.get("database") or None, cache=doc.get("cache") or None, bucket=doc.get("bucket") or None,
            secret_arn=doc.get("secret_arn") or None, xray=doc.get("xray") or {})


# -- logs ------------------------------------------------------------------------------------------------------

class JsonLog:
    """One JSON object per line, to a file (appended) or a stream; thread-safe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.lock = stream, threading.Lock()

    @classmethod
    def open(cls, log_dir: str | None, name: str) -> "JsonLog":
        if log_dir is None:
            return cls(sys.stdout)
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        return cls(open(Path(log_dir) / f"{name}.log", "a", buffering=1, encoding="utf-8"))

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record},
                          separators=(",", ":"), default=str)
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class AppLog:
    def __init__(self, log: JsonLog, version: str) -> None:
        self.log, self.version = log, version

    def info(self, message: str, **fields: Any) -> None:
        self.log.write({"level": "INFO", "logger": NAME, "version": self.version, "message": message, **fields})

    def error(self, message: str, **fields: Any) -> None:
        self.log.write({"level": "ERROR", "logger": NAME, "version": self.version, "message": message, **fields})


# -- readiness checks ------------------------------------------------------------------------------------------

class Checks:
    """The dependencies of ``/ready``; each check returns ``{"ok": bool, "latency_ms": n, ...}``."""

    def __init__(self, config: Config) -> None:
        import boto3

        self.config = config
        self.session = boto3.session.Session(region_name=config.region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        from botocore.config import Config as BotoConfig

        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session.client(service, config=BotoConfig(
                    connect_timeout=CHECK_TIMEOUT_SECONDS, read_timeout=CHECK_TIMEOUT_SECONDS,
                    retries={"max_attempts": 1}))
            return self._clients[service]

    def _secret_json(self, arn: str) -> dict[str, Any]:
        return json.loads(self.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])

    def run(self) -> dict[str, dict[str, Any]]:
        c = self.config
        checks: dict[str, Callable[[], str | None] | None] = {
            "database": self.database if c.database else None, "cache": self.cache if c.cache else None,
            "bucket": self.bucket if c.bucket else None, "secret": self.secret if c.secret_arn else None}
        results: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            if check is None:
                results[name] = {"ok": True, "configured": False}
                continue
            started = time.monotonic()
            try:
                detail = check()
                results[name] = {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}
                if detail:
                    results[name]["detail"] = detail
            except Exception as exc:  # a failed dependency is a result, not a crash
                results[name] = {"ok": False, "latency_ms": round((time.monotonic() - started) * 1000, 1),
                                 "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}
        return results

    def database_password(self) -> str:
        db = self.config.database or {}
        if db.get("auth", "iam") == "iam":
            return auth.rds_token(self.session, db["host"], int(db.get("port", 5432)), db["user"], self.config.region)
        return self._secret_json(db["secret_arn"])["password"]

    def database(self) -> str | None:
        import psycopg

        db = self.config.database or {}
        with psycopg.connect(host=db["host"], port=int(db.get("port", 5432)), dbname=db.get("name", "postgres"),
                             user=db["user"], password=self.database_password(),
                             sslmode=db.get("sslmode", "require"), connect_timeout=CHECK_TIMEOUT_SECONDS,
                             **({"sslrootcert": db["sslrootcert"]} if db.get("sslrootcert") else {}),
                             application_name=NAME) as conn:
            conn.execute("SELECT 1").fetchone()
        return None

    def cache_password(self) -> str:
        cache = self.config.cache or {}
        if cache.get("auth", "iam") == "iam":
            return auth.elasticache_token(self.session, cache["cache_name"], cache["user"], self.config.region)
        return self._secret_json(cache["secret_arn"])["password"]

    def cache(self) -> str | None:
        import redis

        cache = self.config.cache or {}
        client = redis.Redis(host=cache["host"], port=int(cache.get("port", 6379)), username=cache["user"],
                             password=self.cache_password(), ssl=bool(cache.get("tls", True)),
                             socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
        try:
            if client.ping() is not True:
                raise RuntimeError("PING did not answer PONG")
        finally:
            client.close()
        return None

    def bucket(self) -> str | None:
        self.client("s3").head_bucket(Bucket=self.config.bucket)
        return None

    def secret(self) -> str | None:
        sm = self.client("secretsmanager")
        try:
            sm.get_secret_value(SecretId=self.config.secret_arn)
        except sm.exceptions.ResourceNotFoundException as exc:
            # Authorised (IAM is evaluated first) but no value was put yet: readable once one is.
            if "secret value" in str(exc):
                return "no value set yet"
            raise
        return None


# -- HTTP ------------------------------------------------------------------------------------------------------

class Service:
    def __init__(self, config: Config, checks: Checks | None = None) -> None:
        self.config = config
        self.access = JsonLog.open(config.log_dir, "access")
        self.app = AppLog(JsonLog.open(config.log_dir, "application"), config.version)
        self.checks = checks or Checks(config)
        x = config.xray
        self.tracer = Tracer(x.get("service_name", NAME), x.get("daemon", "127.0.0.1:2000"),
                             float(x.get("sample_rate", 0.05)))
        self.draining = threading.Event()
        self.in_flight = 0
        self._cv = threading.Condition()
        self.server = ThreadingHTTPServer(("0.0.0.0", config.port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = NAME
            # Longer than the load balancer's idle timeout (60 s), so the load balancer closes idle connections.
            timeout = 65

            def log_message(self, format: str, *args: Any) -> None:  # the access log replaces stderr lines
                return

            def do_GET(self) -> None:
                service.handle(self)

            def do_HEAD(self) -> None:
                service.handle(self)

        return Handler

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        with self._cv:
            self.in_flight += 1
        started_wall, started = time.time(), time.monotonic()
        trace = self.tracer.start(req.headers.get("X-Amzn-Trace-Id"))
        path = req.path.split("?", 1)[0]
        try:
            status, body = self.route(path)
        except Exception as exc:  # never leave a request unanswered
            self.app.error("request failed", path=path, reason=f"{type(exc).__name__}: {exc}")
            status, body = 500, {"status": "error"}
        payload = (json.dumps(body) + "\n").encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(payload)))
        req.send_header("X-Amzn-Trace-Id", trace.header())
        if self.draining.is_set():
            req.send_header("Connection", "close")
            req.close_connection = True
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(payload)
        latency_ms = round((time.monotonic() - started) * 1000, 3)
        self.access.write({"level": "INFO", "type": "access", "method": req.command, "path": path, "status": status,
                           "latency_ms": latency_ms, "bytes": len(payload), "trace_id": trace.trace_id,
                           "request_id": req.headers.get("X-Request-Id") or uuid.uuid4().hex,
                           "remote": req.client_address[0], "user_agent": req.headers.get("User-Agent", ""),
                           "version": self.config.version})
        self.tracer.send(trace, self.tracer.segment(trace, started_wall, time.time(), req.command, req.path,
                                                    req.client_address[0], status))
        with self._cv:
            self.in_flight -= 1
            self._cv.notify_all()

    def route(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/health":
            if self.draining.is_set():
                return 503, {"status": "draining"}
            return 200, {"status": "ok", "version": self.config.version}
        if path == "/ready":
            results = self.checks.run()
            ready = all(r["ok"] for r in results.values())
            if not ready:
                failed = sorted(k for k, r in results.items() if not r["ok"])
                self.app.error("readiness check failed", failed=failed,
                               reasons={k: results[k]["reason"] for k in failed})
            return (200 if ready else 503), {"status": "ready" if ready else "not ready", "checks": results,
                                             "version": self.config.version}
        if path == "/":
            return 200, {"name": NAME, "version": self.config.version}
        return 404, {"status": "not found"}

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> int:
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        self.app.info("serving", port=self.port)
        stop.wait()
        return self.drain()

    def drain(self) -> int:
        """Stop accepting, let requests in flight finish within the grace period; 0 when all finished."""
        self.draining.set()
        self.server.shutdown()
        self.server.server_close()
        self.app.info("draining", in_flight=self.in_flight, grace_seconds=self.config.shutdown_grace_seconds)
        deadline = time.monotonic() + self.config.shutdown_grace_seconds
        with self._cv:
            while self.in_flight and time.monotonic() < deadline:
                self._cv.wait(timeout=max(0.0, deadline - time.monotonic()))
            left = self.in_flight
        if left:
            self.app.error("shutdown grace period over with requests in flight", in_flight=left)
            return 1
        self.app.info("stopped")
        return 0


def main() -> int:
    config = Config.load()
    service = Service(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return service.serve(stop)


if __name__ == "__main__":
    sys.exit(main())
