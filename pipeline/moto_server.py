"""moto server, with requests processed one at a time.

moto's backends are not thread-safe, while its server is threaded: a Terraform apply sends many requests at once
(parallelism 10), and concurrent creates on one backend occasionally produced false "already exists" errors
(e.g. ``NetworkAclEntryAlreadyExists`` for a rule created once, ``EntityAlreadyExists`` for a role created once).
AWS processes each request atomically; so does this server: connections are still accepted concurrently, but the
moto application handles one request at a time. ``python -m pipeline.moto_server -H HOST -p PORT``.
"""
from __future__ import annotations

import argparse
import os
import threading
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class SerializedApp:
    """A WSGI application that runs ``app`` under one lock (moto returns complete responses, never streams)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto.server does
    run_simple(args.host, args.port, SerializedApp(app), threaded=True, use_reloader=False,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
