"""Run Checkov once over many files and parse its JSON report.

Checkov is ``python -m compliance.checkov_main`` (stock ``checkov.main`` with a faster, equivalent JSON loader; see
that module) with ``-o json --soft-fail --skip-download --compact``, without ``--quiet`` (passed checks are needed
for the counts), in a fork of this interpreter where possible, else a fresh ``python`` (:class:`CheckovJob`).  With
``--soft-fail`` a non-zero exit code can only mean Checkov itself failed.  Every way this can go wrong (missing,
non-zero exit, timeout, unparsable output, parsing errors, nothing scanned of a non-empty input) becomes an error
string, never a pass.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from compliance.checklib import address_type


@dataclass(frozen=True, slots=True)
class CheckovResult:
    check_id: str
    title: str
    result: str            # PASSED | FAILED | SKIPPED
    resource: str          # Terraform address (mapped)
    file: str
    guideline: str | None


@dataclass(slots=True)
class CheckovRun:
    results: list[CheckovResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    resources_scanned: int = 0      # resources Checkov reported on, or its summary's resource_count if larger
    version: str | None = None
    seconds: float = 0.0


def checkov_resource_types() -> frozenset[str]:
    """Resource types Checkov has at least one resource check for (its registry, loaded in-process with the base
    check class the project's checks derive from).  Resources of other types get no Checkov result, so they are not
    counted when the gate checks that Checkov scanned every resource of the input."""
    from checkov.terraform.checks.resource.registry import resource_registry
    import checkov.terraform.checks.resource.aws  # noqa: F401  (registers the AWS checks)

    # the project's own checks register in the same registry when imported: they are not Checkov's
    return frozenset(t for t, checks in resource_registry.checks.items()
                     if any(not str(getattr(c, "id", "")).startswith("PLAT_") for c in checks))


ENTRY = "compliance.checkov_main"   # ``python -m checkov.main`` with a faster JSON loader (see that module)


def checkov_command(framework: str, files: Sequence[Path], extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", ENTRY, *checkov_args(framework, files, extra)]


def checkov_args(framework: str, files: Sequence[Path], extra: Sequence[str] = ()) -> list[str]:
    args = ["--framework", framework, "-o", "json", "--soft-fail", "--skip-download", "--compact"]
    for f in files:
        args += ["-f", str(f)]
    return args + list(extra)


CHECKOV_DEFAULT_ENV = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}  # unless set
CHECKOV_ENV = {"LOG_LEVEL": "ERROR", "PYTHONWARNINGS": "ignore"}


class CheckovJob:
    """One Checkov process, started; :meth:`finish` waits for it (with the timeout) and parses its report.

    When the command is the gate's own entry (``checkov_command``), this interpreter, on POSIX and in its main
    thread, forks and the child runs it: the child inherits the Checkov modules the gate has already imported for
    its own checks (about 1.3 s of CPU a fresh interpreter would import again) and starts from the parent's state as
    it was, so every scan starts clean.  The child unregisters the project's checks first (they derive from
    Checkov's base class and register in its registries when imported; a fresh ``checkov`` has only its own), so it
    runs exactly the checks a fresh ``checkov`` process runs (``tests/compliance/test_checkov_entry.py``).  Any
    other command (tests replace it with fakes) or platform runs as a subprocess; both end in the same parsing."""

    def __init__(self, framework: str, files: Sequence[Path], *, timeout: float = 600,
                 extra_args: Sequence[str] = (), fork: bool = True) -> None:
        import tempfile
        import threading
        import time

        self.framework, self.files, self.timeout = framework, list(files), timeout
        self.errors: list[str] = []
        self.pid: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.t0 = time.perf_counter()
        cmd = checkov_command(framework, files, extra_args)
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        env = {**CHECKOV_DEFAULT_ENV, **os.environ, **CHECKOV_ENV}
        can_fork = (fork and hasattr(os, "fork") and cmd[:3] == [sys.executable, "-m", ENTRY]
                    and threading.current_thread() is threading.main_thread())
        try:
            if can_fork:
                self.pid = _fork_entry(cmd[3:], env, self._out.fileno(), self._err.fileno())
            else:
                self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, env=env)
        except OSError as exc:
            self.errors.append(f"checkov ({framework}) could not start: {exc}")

    def _wait(self) -> int | None:
        """The exit code, or None after killing it at the timeout."""
        import time

        if self.proc is not None:
            try:
                return self.proc.wait(timeout=max(0.0, self.timeout - (time.perf_counter() - self.t0)))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        assert self.pid is not None
        delay = 0.005
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if time.perf_counter() - self.t0 > self.timeout:
                import signal

                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def finish(self, *, resource_index: dict[str, dict[str, list[tuple[str, str]]]] | None = None,
               expect_resources: int = 0) -> CheckovRun:
        import time

        run = CheckovRun()
        if self.errors:
            run.errors += self.errors
            return run
        code = self._wait()
        run.seconds = time.perf_counter() - self.t0
        self._out.seek(0)
        self._err.seek(0)
        stdout = self._out.read().decode("utf-8", "replace")
        stderr = self._err.read().decode("utf-8", "replace")
        self._out.close()
        self._err.close()
        if code is None:
            run.errors.append(f"checkov ({self.framework}) timed out after {self.timeout:g}s over "
                              f"{len(self.files)} file(s)")
            return run
        return parse_report(run, self.framework, self.files, code, stdout, stderr, resource_index=resource_index,
                            expect_resources=expect_resources)


def _fork_entry(argv: list[str], env: dict[str, str], out_fd: int, err_fd: int) -> int:
    """Fork; the child runs ``compliance.checkov_main`` on ``argv`` with stdout/stderr on the given files and
    leaves with ``os._exit`` (no parent atexit handler, no parent buffer, runs in it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        sys.stdout = open(1, "w", closefd=False)  # fresh streams: nothing of the parent's buffers
        sys.stderr = open(2, "w", closefd=False)
        sys.stdin = open(os.devnull)
        os.environ.clear()
        os.environ.update(env)
        from checkov.common.util.env_vars_config import env_vars_config

        env_vars_config.__init__()  # type: ignore[misc]  # read at the parent's import: read this environment
        import logging
        import warnings

        warnings.simplefilter("ignore")
        logging.getLogger().setLevel(logging.ERROR)
        for h in list(logging.getLogger().handlers):  # the parent's handlers (pytest's, the CLI's) are not ours
            logging.getLogger().removeHandler(h)
        logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
        _only_checkovs_own_checks()
        sys.argv = ["checkov", *argv]
        from compliance import checkov_main

        code = checkov_main.run(argv)
    except BaseException:  # noqa: BLE001  (the child must reach os._exit whatever happens)
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if 0 <= code < 256 else 1)


def _only_checkovs_own_checks() -> None:
    """Drop every check that is not Checkov's own from the registries this process has loaded (the project's checks
    register there when imported): what is left is what a fresh ``checkov`` process has."""
    def own(check: Any) -> bool:
        return type(check).__module__.startswith("checkov.")

    for name, mod in list(sys.modules.items()):
        if not name.startswith("checkov.terraform.checks.") or not name.endswith(".registry"):
            continue
        for reg in vars(mod).values():
            checks = getattr(reg, "checks", None)
            if not isinstance(checks, dict) or not hasattr(reg, "wildcard_checks"):
                continue
            for key in list(checks):
                checks[key] = [c for c in checks[key] if own(c)]
                if not checks[key]:
                    del checks[key]
            for key in list(reg.wildcard_checks):
                reg.wildcard_checks[key] = [c for c in reg.wildcard_checks[key] if own(c)]
                if not reg.wildcard_checks[key]:
                    del reg.wildcard_checks[key]


def run_checkov(framework: str, files: Sequence[Path], *, timeout: float = 600,
                resource_index: dict[str, dict[str, list[tuple[str, str]]]] | None = None,
                expect_resources: int = 0, extra_args: Sequence[str] = (), fork: bool = True) -> CheckovRun:
    """Run Checkov once over ``files``.  ``resource_index`` maps file -> resource name -> [(type, address)] to
    resolve the ``resource.NAME`` ids Checkov emits for Terraform JSON; ``expect_resources`` is how many resources
    the gate itself found in the input (0: an empty scan is fine)."""
    if not files:
        return CheckovRun()
    return CheckovJob(framework, files, timeout=timeout, extra_args=extra_args, fork=fork).finish(
        resource_index=resource_index, expect_resources=expect_resources)


def parse_report(run: CheckovRun, framework: str, files: Sequence[Path], returncode: int, stdout: str, stderr: str,
                 *, resource_index: dict[str, dict[str, list[tuple[str, str]]]] | None = None,
                 expect_resources: int = 0) -> CheckovRun:
    if returncode != 0:
        tail = _tail(stderr) or _tail(stdout)
        run.errors.append(f"checkov ({framework}) exited with code {returncode}: {tail}")
        return run
    try:
        reports = _parse_json(stdout)
    except ValueError as exc:
        run.errors.append(f"checkov ({framework}) printed no parsable JSON report ({exc}); stderr: {_tail(stderr)}")
        return run
    seen: set[tuple[str, str]] = set()
    counted = 0
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        ctype = rep.get("check_type")
        if ctype not in (None, framework):
            continue
        summary = rep.get("summary") or {}
        run.version = summary.get("checkov_version") or run.version
        rc = summary.get("resource_count")
        if isinstance(rc, int) and not isinstance(rc, bool):
            counted += rc
        perr = summary.get("parsing_errors") or 0
        results = rep.get("results") or {}
        if perr:
            bad = results.get("parsing_errors") or []
            run.errors.append(f"checkov ({framework}) could not parse {perr} file(s): "
                              + ", ".join(str(b) for b in bad[:5]))
        for key, status in (("failed_checks", "FAILED"), ("passed_checks", "PASSED"), ("skipped_checks", "SKIPPED")):
            for item in results.get(key) or ():
                file = os.path.abspath(item.get("file_abs_path") or item.get("file_path") or "")
                addr = _map_address(item, file, resource_index)
                run.results.append(CheckovResult(
                    check_id=item.get("check_id", "?"), title=item.get("check_name") or "",
                    result=status, resource=addr, file=file, guideline=item.get("guideline")))
                if not addr.startswith("provider."):
                    seen.add((file, addr))
    run.resources_scanned = max(len(seen), counted)
    if expect_resources and run.resources_scanned < expect_resources and not run.errors:
        # Counted against the input's own list (the plan's resource_changes / the JSON's resource blocks), never
        # against what Checkov chose to return: a scanner that silently skipped resources did not pass them.
        run.errors.append(f"checkov ({framework}) scanned {run.resources_scanned} of the {expect_resources} "
                          f"resources the input holds (of the types Checkov has checks for: "
                          f"{', '.join(str(f) for f in files[:5])}); a scan that misses resources cannot pass")
    return run


def _tail(text: str, n: int = 600) -> str:
    text = (text or "").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-n:]


def _parse_json(stdout: str) -> list[Any]:
    text = stdout.strip()
    if not text:
        raise ValueError("empty output")
    starts = [i for i in (text.find("["), text.find("{")) if i >= 0]
    if not starts:
        raise ValueError("no JSON found")
    doc = json.JSONDecoder().raw_decode(text[min(starts):])[0]
    return doc if isinstance(doc, list) else [doc]


_STATIC_ID = re.compile(r"^resource\.(.+)$")


def _map_address(item: dict, file: str, index: dict | None) -> str:
    addr = item.get("resource_address") or item.get("resource") or ""
    m = _STATIC_ID.match(addr)
    if m and index is not None:
        name = m.group(1)
        cands = index.get(file, {}).get(name, [])
        if len(cands) == 1:
            return cands[0][1]
        if len(cands) > 1:
            return _by_lines(file, name, cands, item.get("file_line_range") or [0, 0])
    return addr


_LINE_CACHE: dict[str, list[str]] = {}


def _by_lines(file: str, name: str, cands: list[tuple[str, str]], lines: list[int]) -> str:
    """Several types share this resource name: find the ``"TYPE": {`` key that precedes the reported line."""
    text = _LINE_CACHE.get(file)
    if text is None:
        try:
            text = Path(file).read_text().splitlines()
        except OSError:
            return cands[0][1]
        _LINE_CACHE[file] = text
    start = max(1, int(lines[0]))
    types = {t: a for t, a in cands}
    for ln in range(min(start, len(text)), 0, -1):
        s = text[ln - 1].strip()
        for t, a in types.items():
            if s.startswith(f'"{t}"'):
                return a
    return cands[0][1]


def index_for(resources) -> dict[str, dict[str, list[tuple[str, str]]]]:
    idx: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for r in resources:
        name = r.address.split(".", 1)[1] if "." in r.address else r.address
        idx.setdefault(os.path.abspath(r.file), {}).setdefault(name, []).append((address_type(r.address), r.address))
    return idx
