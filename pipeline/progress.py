"""Live progress of a Terraform command, rendered from its machine-readable UI (``-json``).

Terraform's ``plan``, ``apply`` and ``init`` with ``-json`` write one JSON message per line: ``version``, ``log``,
``init_output``, ``planned_change``, ``refresh_start``/``refresh_complete``, ``resource_drift``, ``apply_start``,
``apply_progress`` (every ~10 s while a resource is in progress), ``apply_complete``, ``apply_errored``,
``provision_*``, ``change_summary``, ``diagnostic`` and ``outputs`` (reference:
https://developer.hashicorp.com/terraform/internals/v1.11.x/machine-readable-ui). Unknown message types and fields are
ignored, as that page asks of a consumer of UI version 1.x.

:class:`ProgressRenderer` turns that stream into lines people read:

- one line when a resource starts and one when it completes, with its elapsed time and the count done/total;
- a failed resource's line is followed at once by its error (the ``diagnostic`` naming it), scrubbed of secrets;
- on a terminal, one compact live line at the bottom (done/total, what is in progress and for how long), redrawn in
  place; in CI (no terminal), a plain heartbeat line every ``heartbeat`` seconds while resources are in progress;
- the plan's and the apply's ``change_summary``.

Output values (``outputs``) are never printed: they may be sensitive.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

#: Seconds between two heartbeat lines in CI (no terminal).
HEARTBEAT_SECONDS = 30.0

#: action -> (verb while running, verb when done)
_VERBS = {
    "create": ("creating", "created"),
    "update": ("updating", "updated"),
    "delete": ("destroying", "destroyed"),
    "replace": ("replacing", "replaced"),
    "read": ("reading", "read"),
    "import": ("importing", "imported"),
    "move": ("moving", "moved"),
    "remove": ("forgetting", "forgotten"),
    "noop": ("checking", "checked"),
}
_CLEAR = "\r\x1b[K"


def duration(seconds: float) -> str:
    """``7s``, ``1m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _timestamp(message: dict[str, Any]) -> float | None:
    raw = message.get("@timestamp")
    if not isinstance(raw, str):
        return None
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _scrub(text: str) -> str:
    from compliance.secrets import scrub_text

    return scrub_text(text)


@dataclass
class _Running:
    action: str
    since: float
    elapsed: float = 0.0


@dataclass
class ProgressRenderer:
    """Renders one Terraform command's ``-json`` stream; feed it lines with :meth:`feed`, then call :meth:`close`.

    ``say`` receives every permanent line; ``live`` draws the compact live line on ``stream`` (default: when
    ``stream`` is a terminal); ``total`` is the number of resource changes expected (the saved plan's), else it is
    counted from ``planned_change`` messages; ``clock`` gives the time for :meth:`tick` (epoch seconds, like the
    messages' ``@timestamp``)."""

    say: Callable[[str], None] = print
    operation: str = "apply"
    total: int | None = None
    live: bool | None = None
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    heartbeat: float = HEARTBEAT_SECONDS
    clock: Callable[[], float] = time.time
    indent: str = "  "

    def __post_init__(self) -> None:
        if self.live is None:
            isatty = getattr(self.stream, "isatty", None)
            self.live = bool(isatty and isatty())
        self.running: dict[str, _Running] = {}
        self.done = 0
        self.failed: list[str] = []
        self.refreshed = 0
        self.planned = 0
        self.errors: list[str] = []
        self.summary: dict[str, Any] | None = None
        self.started: float | None = None
        self.now = 0.0
        self._last_beat: float | None = None
        self._live_drawn = False
        self._output: dict[str, list[str]] = {}

    # -- input ---------------------------------------------------------------------------------------------------

    def feed(self, line: str) -> None:
        """One line of Terraform's stdout (a JSON message; other text is shown as is)."""
        line = line.rstrip("\n")
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            self._print(_scrub(line))
            return
        if isinstance(message, dict):
            self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        at = _timestamp(message)
        self.now = at if at is not None else self.clock()
        if self.started is None:
            self.started = self.now
        kind = message.get("type")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(message)
        self._pulse()

    def tick(self) -> None:
        """Called while Terraform is silent: keeps the live line's clocks and the CI heartbeat going."""
        self.now = self.clock()
        if self.started is None:
            self.started = self.now
        self._pulse()

    def close(self) -> None:
        """Clear the live line (the permanent lines stay)."""
        self._clear_live()

    # -- message types -------------------------------------------------------------------------------------------

    def _on_init_output(self, message: dict[str, Any]) -> None:
        text = str(message.get("@message", "")).strip()
        if text and "\n" not in text:  # the multi-line advice after success is noise here
            self._print(text)

    def _on_log(self, message: dict[str, Any]) -> None:
        if self.operation == "init" and message.get("@level") == "info":
            text = str(message.get("@message", "")).strip()
            if text.startswith(("Installing", "Installed", "Using previously-installed", "Reusing")):
                self._print(text)

    def _on_planned_change(self, message: dict[str, Any]) -> None:
        if (message.get("change") or {}).get("action") not in (None, "noop", "read"):
            self.planned += 1

    def _on_refresh_start(self, message: dict[str, Any]) -> None:
        address = _address(message)
        if address:
            self.running[address] = _Running("refresh", self.now)

    def _on_refresh_complete(self, message: dict[str, Any]) -> None:
        if self.running.pop(_address(message), None) is not None or _address(message):
            self.refreshed += 1

    def _on_resource_drift(self, message: dict[str, Any]) -> None:
        change = message.get("change") or {}
        address = (change.get("resource") or {}).get("addr", "?")
        self._print(f"drifted   {address} (changed outside Terraform: {change.get('action', '?')})")

    def _on_apply_start(self, message: dict[str, Any]) -> None:
        address, action = _address(message), _action(message)
        self.running[address] = _Running(action, self.now)
        self._print(f"{_VERBS.get(action, (action, action))[0]:<11}{address}")

    def _on_apply_progress(self, message: dict[str, Any]) -> None:
        address = _address(message)
        running = self.running.setdefault(address, _Running(_action(message), self.now))
        running.elapsed = float((message.get("hook") or {}).get("elapsed_seconds") or 0)

    def _on_apply_complete(self, message: dict[str, Any]) -> None:
        address, action = _address(message), _action(message)
        elapsed = self._elapsed(address, message)
        self.done += 1
        self._print(f"{_VERBS.get(action, (action, action))[1]:<11}{address} ({duration(elapsed)}){self._count()}")

    def _on_apply_errored(self, message: dict[str, Any]) -> None:
        address, action = _address(message), _action(message)
        elapsed = self._elapsed(address, message)
        self.done += 1
        self.failed.append(address)
        self._print(f"{'FAILED':<11}{address}: {action} failed after {duration(elapsed)}{self._count()}")
        for text in self._output.pop(address, []):  # a provisioner's last words, where it failed
            self._print(f"{'':<13}{_scrub(text)}")
        # the provider's error message itself: Terraform sends it as a diagnostic once the run ends (below)

    def _on_provision_progress(self, message: dict[str, Any]) -> None:
        output = str((message.get("hook") or {}).get("output", "")).strip()
        if output:
            kept = self._output.setdefault(_address(message), [])
            kept[:] = (kept + [output])[-3:]

    def _on_provision_errored(self, message: dict[str, Any]) -> None:
        hook = message.get("hook") or {}
        self._print(f"{'':<11}provisioner {hook.get('provisioner', '?')} of {_address(message)} failed")

    def _on_diagnostic(self, message: dict[str, Any]) -> None:
        diagnostic = message.get("diagnostic") or {}
        severity = diagnostic.get("severity", "error")
        summary = str(diagnostic.get("summary", "")).strip()
        address = diagnostic.get("address")
        if severity != "error":
            self._print(f"warning:  {summary}" + (f" ({address})" if address else ""))
            return
        detail = str(diagnostic.get("detail", "")).strip()
        lines = [f"{'Error':<11}{address + ': ' if address else ''}{summary}"]
        lines += [f"{'':<13}{text}" for text in detail.splitlines()[:12] if text.strip()]
        block = _scrub("\n".join(lines))
        self.errors.append(block)
        for text in block.splitlines():
            self._print(text)

    def _on_change_summary(self, message: dict[str, Any]) -> None:
        self.summary = message.get("changes") or {}
        if self.summary.get("operation") == "plan" and self.total is None:
            self.total = self.planned
        text = str(message.get("@message", "")).strip()
        if text:
            spent = f" ({duration(self.now - self.started)})" if self.started is not None else ""
            self._print(text + spent)

    # -- rendering -----------------------------------------------------------------------------------------------

    def _elapsed(self, address: str, message: dict[str, Any]) -> float:
        running = self.running.pop(address, None)
        reported = (message.get("hook") or {}).get("elapsed_seconds")
        if isinstance(reported, (int, float)):
            return float(reported)
        return self.now - running.since if running else 0.0

    def _count(self) -> str:
        total = self.total if self.total is not None else (self.planned or None)
        return f" [{self.done}/{total}]" if total else f" [{self.done} done]"

    def status(self) -> str:
        """The compact status: counts, what is in progress (longest first) and the time spent."""
        applying = {a: r for a, r in self.running.items() if r.action != "refresh"}
        spent = duration(self.now - self.started) if self.started is not None else "0s"
        if applying:
            total = self.total if self.total is not None else (self.planned or "?")
            oldest = sorted(applying.items(), key=lambda item: item[1].since)
            shown = ", ".join(f"{address} {duration(max(r.elapsed, self.now - r.since))}"
                              for address, r in oldest[:2])
            more = f" +{len(oldest) - 2} more" if len(oldest) > 2 else ""
            return f"{self.done}/{total} done, {len(applying)} in progress: {shown}{more} ({spent} elapsed)"
        if self.operation == "plan" or self.refreshed or self.running:
            return f"refreshed {self.refreshed} resources, {len(self.running)} in progress ({spent} elapsed)"
        return f"{self.operation}: {spent} elapsed"

    def _pulse(self) -> None:
        if self.live:
            self._draw_live()
            return
        if self._last_beat is None:
            self._last_beat = self.now
            return
        if self.now - self._last_beat >= self.heartbeat:
            self._last_beat = self.now
            if self.running:
                self._print(f"{'...':<11}{self.status()}", beat=False)

    def _print(self, text: str, beat: bool = True) -> None:
        self._clear_live()
        self.say(f"{self.indent}{text}")
        if beat and not self.live:
            self._last_beat = self.now
        if self.live:
            self._draw_live()

    def _draw_live(self) -> None:
        width = 120
        line = f"{self.indent}{self.status()}"[:width]
        self.stream.write(_CLEAR + line)
        self.stream.flush()
        self._live_drawn = True

    def _clear_live(self) -> None:
        if self._live_drawn:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._live_drawn = False


def _address(message: dict[str, Any]) -> str:
    return str(((message.get("hook") or {}).get("resource") or {}).get("addr", "?"))


def _action(message: dict[str, Any]) -> str:
    return str((message.get("hook") or {}).get("action", "?"))
