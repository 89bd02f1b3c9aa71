"""Traces to the X-Ray daemon (or an ADOT collector's X-Ray receiver): one segment per sampled request, sent as a
UDP datagram ``{"format": "json", "version": 1}\\n<segment JSON>`` to ``127.0.0.1:2000``.
https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html (sending segment documents to the daemon)
https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader (trace header)

Sampling: a decision in the incoming ``X-Amzn-Trace-Id`` header (``Sampled=1``/``0``) wins; otherwise one request a
second (the reservoir) and `rate` of the rest, like X-Ray's default rule.
"""
from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

HEADER = b'{"format": "json", "version": 1}\n'


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now if now is not None else time.time()):08x}-{os.urandom(12).hex()}"


def parse_header(value: str | None) -> dict[str, str]:
    """``Root=1-...;Parent=...;Sampled=1`` -> dict (empty for a missing or malformed header)."""
    out: dict[str, str] = {}
    for part in (value or "").split(";"):
        key, sep, val = part.strip().partition("=")
        if sep and key:
            out[key] = val
    return out


@dataclass
class Trace:
    trace_id: str
    parent_id: str | None
    segment_id: str
    sampled: bool

    def header(self) -> str:
        return f"Root={self.trace_id};Parent={self.segment_id};Sampled={1 if self.sampled else 0}"


class Tracer:
    def __init__(self, service_name: str, daemon: str = "127.0.0.1:2000", rate: float = 0.05) -> None:
        host, _, port = daemon.rpartition(":")
        self.service_name, self.address, self.rate = service_name, (host or "127.0.0.1", int(port)), rate
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._lock = threading.Lock()
        self._reservoir_second = -1

    def start(self, incoming: str | None) -> Trace:
        h = parse_header(incoming)
        root = h.get("Root") or new_trace_id()
        if h.get("Sampled") in ("0", "1"):
            sampled = h["Sampled"] == "1"
        else:
            sampled = self._sample()
        return Trace(root, h.get("Parent"), os.urandom(8).hex(), sampled)

    def _sample(self) -> bool:
        second = int(time.time())
        with self._lock:
            if second != self._reservoir_second:
                self._reservoir_second = second
                return True
        return random.random() < self.rate

    def segment(self, trace: Trace, start: float, end: float, method: str, url: str, client_ip: str,
                status: int, subsegments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.service_name, "id": trace.segment_id, "trace_id": trace.trace_id,
            "start_time": start, "end_time": end, "origin": "AWS::EC2::Instance",
            "http": {"request": {"method": method, "url": url, "client_ip": client_ip},
                     "response": {"status": status}},
        }
        if trace.parent_id:
            doc["parent_id"] = trace.parent_id
        if status >= 500:
            doc["fault"] = True
        elif status == 429:
            doc["throttle"] = doc["error"] = True
        elif status >= 400:
            doc["error"] = True
        if subsegments:
            doc["subsegments"] = subsegments
        return doc

    def send(self, trace: Trace, segment: dict[str, Any]) -> None:
        if not trace.sampled:
            return
        try:
            self._sock.sendto(HEADER + json.dumps(segment, separators=(",", ":")).encode(), self.address)
        except OSError:
            pass  # tracing never fails a request
