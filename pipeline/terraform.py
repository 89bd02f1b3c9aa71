"""Terraform CLI behind one small interface.

python-terraform builds the command lines (``Terraform.generate_cmd_string``: ``key=IsFlagged``
becomes ``-key``, booleans ``-key=true|false``, dicts for ``backend_config`` repeated
``-backend-config=k=v``). The process itself is run here rather than by ``Terraform.cmd``,
because ``cmd`` always uses ``os.environ`` and cannot take the environment from ``terraform_env``.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from pipeline.tfconfig import find_terraform

#: Longest diagnostics text kept in a TerraformError.
MAX_DIAGNOSTICS = 4000
#: What ``terraform state list`` says before anything was applied.
_NO_STATE = "No state file was found"


class TerraformError(RuntimeError):
    """A Terraform command failed; ``str()`` shows the command and Terraform's diagnostics."""

    def __init__(self, command: str, returncode: int, diagnostics: str) -> None:
        from compliance.secrets import scrub_text

        self.command = command
        self.returncode = returncode
        self.diagnostics = scrub_text(diagnostics)  # printed and recorded in the run log: no credential-shaped text
        super().__init__(f"`{command}` failed with exit code {returncode}:\n{self.diagnostics}")


#: Makes the renderer of one streamed command: ``progress(operation, total)`` (see :mod:`pipeline.progress`).
ProgressFactory = Callable[[str, "int | None"], Any]


class TerraformRunner:
    """Runs Terraform commands in one working directory with a fixed environment.

    ``init``, ``plan``, ``apply`` and ``destroy`` run with ``-json`` (Terraform's machine-readable UI) and their
    messages are streamed, as they arrive, to a renderer made by ``progress`` (live progress, see
    :mod:`pipeline.progress`); without one they are only collected. A failed command's error diagnostics are read
    from those messages."""

    def __init__(self, workdir: Path, env: Mapping[str, str], progress: ProgressFactory | None = None) -> None:
        self.workdir = Path(workdir)
        self.env = dict(env)
        self.progress = progress
        self._tf = Terraform(
            working_dir=str(self.workdir), terraform_bin_path=find_terraform(self.env.get("PATH"))
        )

    def init(self, backend_config: Mapping[str, str] | None = None, reconfigure: bool = True,
             backend: bool = True) -> None:
        """``terraform init``, with ``-backend-config=k=v`` for each item and ``-reconfigure`` by default;
        ``backend=False`` skips the backend (enough for ``validate``)."""
        self._run(
            "init",
            input=False,
            backend_config=dict(backend_config) if backend_config else None,
            reconfigure=IsFlagged if reconfigure and backend else None,
            backend=None if backend else False,
            json=IsFlagged,
            stream="init",
        )

    def validate(self) -> None:
        """``terraform validate -json``; raise TerraformError listing every error diagnostic."""
        result = self._run("validate", json=IsFlagged, ok_codes=(0, 1))
        try:
            report = json.loads(result.stdout)
        except ValueError:
            raise self._error(result) from None
        errors = [d for d in report.get("diagnostics", []) if d.get("severity") == "error"]
        if errors or not report.get("valid", False) or result.returncode != 0:
            raise TerraformError(_command(result), result.returncode, _format_diagnostics(errors) or _trim(result))

    def plan(
        self,
        out: Path,
        *,
        refresh_only: bool = False,
        destroy: bool = False,
        refresh: bool = True,
        lock_timeout: str = "0s",
        lock: bool = True,
    ) -> bool:
        """Save a plan to ``out``; True when it has changes (``-detailed-exitcode`` 2).

        For ``refresh_only`` plans the exit code is unreliable (Terraform reports 2 after any
        invisible state normalisation, hashicorp/terraform#36403), so changes are read from the
        saved plan instead: any resource drift or output change.
        """
        result = self._run(
            "plan",
            input=False,
            detailed_exitcode=IsFlagged,
            out=str(out),
            refresh_only=IsFlagged if refresh_only else None,
            destroy=IsFlagged if destroy else None,
            refresh=None if refresh else False,
            lock=None if lock else False,
            lock_timeout=lock_timeout,
            ok_codes=(0, 2),
            json=IsFlagged,
            stream="plan",
        )
        if refresh_only and result.returncode == 2:
            return _has_drift(self.show_json(out))
        return result.returncode == 2

    def show_json(self, planfile: Path) -> dict[str, Any]:
        """The JSON representation of a saved plan (``show -json``)."""
        return _json_object(self._run("show", str(planfile), json=IsFlagged))

    def apply(self, planfile: Path, lock_timeout: str = "0s", total: int | None = None) -> None:
        """Apply a saved plan (and nothing else); ``total``: its number of resource changes, for the progress."""
        self._run("apply", str(planfile), input=False, lock_timeout=lock_timeout, json=IsFlagged,
                  stream="apply", total=total)

    def destroy(self, lock_timeout: str = "0s") -> None:
        """Destroy everything in the state (``apply -destroy -auto-approve``)."""
        self._run("apply", input=False, destroy=IsFlagged, auto_approve=IsFlagged, lock_timeout=lock_timeout,
                  json=IsFlagged, stream="destroy")

    def state_pull(self) -> dict[str, Any]:
        """The current remote state (``state pull``); ``{}`` when there is none yet."""
        result = self._run("state pull")
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def output_json(self) -> dict[str, Any]:
        """All root outputs as ``{name: {value, type, sensitive}}`` (``output -json``), for printing or recording:
        the value of a ``sensitive`` output, or a secret by name or value, is masked."""
        from compliance.secrets import mask

        outputs = _json_object(self._run("output", json=IsFlagged))
        return {name: {**o, "value": mask(o.get("value"), o.get("sensitive") is True or None, name)}
                if isinstance(o, dict) else o for name, o in outputs.items()}

    def state_list(self) -> list[str]:
        """The resource addresses in the state (empty when there is no state yet)."""
        result = self._run("state list", ok_codes=(0, 1))
        if result.returncode != 0:
            if _NO_STATE in result.stderr:
                return []
            raise self._error(result)
        return result.stdout.split()

    def _run(
        self, command: str, *args: str, ok_codes: tuple[int, ...] = (0,), stream: str | None = None,
        total: int | None = None, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``terraform <command> -no-color [options] [args]``; raise TerraformError outside ``ok_codes``.
        ``stream``: the operation name under which stdout (``-json`` messages) goes line by line to the renderer."""
        argv = self._tf.generate_cmd_string(command, *args, no_color=IsFlagged, **options)
        if stream is None:
            result = subprocess.run(argv, cwd=self.workdir, env=self.env, capture_output=True, text=True,
                                    check=False)
        else:
            result = self._streamed(argv, self.progress(stream, total) if self.progress else None)
        if result.returncode not in ok_codes:
            raise self._error(result)
        return result

    def _streamed(self, argv: list[str], renderer: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv``, handing each stdout line to ``renderer.feed`` as it arrives (``renderer.tick`` every
        second of silence); stdout and stderr are collected whole all the same."""
        lines: queue.Queue[str | None] = queue.Queue()
        out: list[str] = []
        err: list[str] = []
        with subprocess.Popen(argv, cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as process:
            def pump_out() -> None:
                for line in process.stdout:  # type: ignore[union-attr]
                    lines.put(line)
                lines.put(None)

            readers = [threading.Thread(target=pump_out, daemon=True),
                       threading.Thread(target=lambda: err.extend(process.stderr), daemon=True)]  # type: ignore
            for reader in readers:
                reader.start()
            try:
                while True:
                    try:
                        line = lines.get(timeout=1.0)
                    except queue.Empty:
                        if renderer is not None:
                            renderer.tick()
                        continue
                    if line is None:
                        break
                    out.append(line)
                    if renderer is not None:
                        renderer.feed(line)
            finally:
                if renderer is not None:
                    renderer.close()
            for reader in readers:
                reader.join()
            returncode = process.wait()
        return subprocess.CompletedProcess(argv, returncode, "".join(out), "".join(err))

    @staticmethod
    def _error(result: subprocess.CompletedProcess[str]) -> TerraformError:
        """A TerraformError for a finished command."""
        return TerraformError(_command(result), result.returncode, _trim(result))


def _command(result: subprocess.CompletedProcess[str]) -> str:
    """The command line of ``result`` as ``terraform <args>``."""
    return " ".join(["terraform", *map(str, result.args[1:])])


def _json_diagnostics(stdout: str) -> str:
    """The error diagnostics of a ``-json`` message stream, formatted; ``""`` when it holds none."""
    errors = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "diagnostic":
            diagnostic = message.get("diagnostic") or {}
            if diagnostic.get("severity") == "error":
                errors.append(diagnostic)
    return _format_diagnostics(errors, capitalized=True)


def _trim(result: subprocess.CompletedProcess[str]) -> str:
    """The useful part of a failed command's output: its error diagnostics (``-json``), else from the first
    ``Error:`` on; capped in size."""
    diagnostics = _json_diagnostics(result.stdout or "")
    stderr = result.stderr.strip()
    if diagnostics:
        text = diagnostics + (f"\n{stderr}" if "Error" in stderr else "")
    else:
        text = stderr or result.stdout.strip()
    start = text.find("Error:")
    if start > 0:
        text = text[start:]
    text = "\n".join(line.rstrip() for line in text.splitlines())
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    if len(text) > MAX_DIAGNOSTICS:
        text = f"{text[:MAX_DIAGNOSTICS]}\n... ({len(text) - MAX_DIAGNOSTICS} more characters)"
    return text or "(no output)"


def _format_diagnostics(diagnostics: list[dict[str, Any]], capitalized: bool = False) -> str:
    """One block per ``validate -json`` diagnostic: severity, summary, where, detail (``capitalized``: ``Error:``
    as Terraform's own text output starts it)."""
    blocks = []
    for diagnostic in diagnostics:
        where = [diagnostic["address"]] if diagnostic.get("address") else []
        span = diagnostic.get("range")
        if span:
            start = span.get("start", {})
            where.append(f"{span.get('filename', '?')}:{start.get('line', '?')}:{start.get('column', '?')}")
        severity = str(diagnostic.get("severity", "error"))
        head = f"{severity.capitalize() if capitalized else severity}: {diagnostic.get('summary', '')}"
        if where:
            head += f" ({', '.join(where)})"
        detail = diagnostic.get("detail", "").strip()
        blocks.append(f"{head}\n  {detail}" if detail else head)
    return "\n".join(blocks)


def _has_drift(plan: Mapping[str, Any]) -> bool:
    """True if a refresh-only plan found resource drift or changes an output."""
    outputs = plan.get("output_changes", {}).values()
    return bool(plan.get("resource_drift")) or any(c.get("actions") != ["no-op"] for c in outputs)


def _json_object(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Parse a command's stdout as a JSON object, or raise TerraformError."""
    try:
        value = json.loads(result.stdout)
    except ValueError as exc:
        raise TerraformError(_command(result), result.returncode, f"output is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise TerraformError(_command(result), result.returncode, "output is not a JSON object")
    return value
