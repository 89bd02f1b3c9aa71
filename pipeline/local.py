"""The local AWS emulator: a detached moto server on 127.0.0.1, tracked by a state folder.

``state_dir/moto.json`` records ``{pid, port, endpoint}`` of the running server and
``state_dir/moto.log`` holds its output, so ``local up|down|status`` work across processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"
STATE_FILE = "moto.json"
LOG_FILE = "moto.log"
_INSTALL_HINT = "moto[server] is not installed: pip install -e '.[dev]'"


class EmulatorError(RuntimeError):
    """The emulator could not be started, reached or stopped."""


@dataclass(frozen=True)
class Emulator:
    """A running moto server."""

    endpoint: str
    port: int
    pid: int


def default_state_dir() -> Path:
    """Where ``local up`` records the emulator it started (pid, port) and its log: ``<build dir>/local``."""
    from .run import default_build_dir

    return default_build_dir() / "local"


def shared_target():  # -> envs.target.Target
    """The local target of the commands: the emulator of :func:`default_state_dir`, started when it is not running."""
    from envs.target import Target

    return Target(kind="local", endpoint=start(default_state_dir()).endpoint)


def start(state_dir: Path, port: int | None = None, timeout: float = 20) -> Emulator:
    """Start moto server (or return the one already recorded in ``state_dir``).

    A free port is picked when ``port`` is None. Raises EmulatorError with the tail of
    ``moto.log`` when the server does not answer on ``/moto-api/`` within ``timeout`` seconds.
    """
    state_dir = Path(state_dir)
    running = status(state_dir)
    if running is not None:
        if port is not None and port != running.port:
            raise EmulatorError(
                f"the emulator recorded in {state_dir / STATE_FILE} already runs on port {running.port}, "
                f"not {port}: stop it first"
            )
        return running
    _require_moto()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port if port is not None else _free_port()
    endpoint = f"http://{HOST}:{port}"
    log_path = state_dir / LOG_FILE
    # The server module is this project's: importable from any working directory, installed or not.
    project = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
           "PYTHONPATH": os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH")) if p)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.moto_server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    emulator = Emulator(endpoint=endpoint, port=port, pid=process.pid)
    (state_dir / STATE_FILE).write_text(json.dumps(asdict(emulator)))
    deadline = time.monotonic() + timeout
    while not _answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            reason = (
                f"exited with code {process.returncode}"
                if process.returncode is not None
                else f"did not answer within {timeout:g}s"
            )
            stop(state_dir)
            raise EmulatorError(
                f"moto server on {endpoint} {reason}; last lines of {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(0.1)
    return emulator


def status(state_dir: Path) -> Emulator | None:
    """Return the emulator recorded in ``state_dir`` if its process is alive and answers."""
    emulator = _read_state(Path(state_dir))
    if emulator is None or not _is_moto_process(emulator.pid) or not _answers(emulator.endpoint):
        return None
    return emulator


def stop(state_dir: Path) -> bool:
    """Stop the recorded emulator (SIGTERM, then SIGKILL) and forget it.

    Returns True if a process was stopped. Only the recorded pid is signalled, and only while
    it still is a moto server.
    """
    state_dir = Path(state_dir)
    emulator = _read_state(state_dir)
    stopped = False
    if emulator is not None and _is_moto_process(emulator.pid):
        stopped = _terminate(emulator.pid)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


def reset(endpoint: str) -> None:
    """Empty every service of the emulator at ``endpoint`` (``POST /moto-api/reset``)."""
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/moto-api/reset", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise EmulatorError(f"could not reset the emulator at {endpoint}: {exc}") from exc


def _require_moto() -> None:
    """Raise EmulatorError unless moto and its server extras can be imported."""
    if any(importlib.util.find_spec(name) is None for name in ("moto", "flask", "flask_cors")):
        raise EmulatorError(_INSTALL_HINT)


def _free_port() -> int:
    """Ask the OS for a currently free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(endpoint: str) -> bool:
    """True when ``/moto-api/`` answers with any HTTP response."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as response:
            response.read(0)
        return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _read_state(state_dir: Path) -> Emulator | None:
    """The emulator recorded in ``state_dir/moto.json``, or None if absent or unreadable."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
        return Emulator(endpoint=str(data["endpoint"]), port=int(data["port"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_alive(pid: int) -> bool:
    """True while ``pid`` runs (reaping it first if it is our own exited child)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_moto_process(pid: int) -> bool:
    """True if ``pid`` is alive and (where /proc exists) runs a moto server, so a recycled pid is never signalled."""
    if not _is_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self/cmdline").exists():
        return True
    try:
        return any(name in cmdline.read_bytes() for name in (b"moto.server", b"pipeline.moto_server"))
    except OSError:
        return False


def _terminate(pid: int, grace: float = 5) -> bool:
    """SIGTERM ``pid``, SIGKILL it after ``grace`` seconds; True if it was signalled."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while _is_alive(pid):
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
        time.sleep(0.05)
    return True


def _tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path`` (empty if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
