"""Where in Python each Terraform resource of a synthesized stack was created.

While the app is built, :func:`recording` wraps ``jsii.create`` (every cdktf construct, provider resources
included, is created through it) and remembers, for each resource and data source, the innermost frame of the
project's own code (``modules/``, ``envs/``, ``main.py``) that created it. :func:`write` then stores, next to each
stack's ``cdk.tf.json`` (which stays byte-for-byte what cdktf wrote), ``cdk.tf.sources.json``:
``{"<terraform address>": {"file": "modules/data.py", "line": 123}}``, which the SARIF report uses to put a finding on
the line that created the resource (``compliance/report.py``).
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator

SIDE_FILE = "cdk.tf.sources.json"
ROOT = Path(__file__).resolve().parents[1]
_OWN = tuple(str(ROOT / part) for part in ("modules", "envs", "main.py"))


def _creator() -> tuple[str, int] | None:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_OWN):
            return Path(name).relative_to(ROOT).as_posix(), frame.f_lineno
        frame = frame.f_back
    return None


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[Any, tuple[str, int]]]]:
    """Record the creating line of every Terraform resource and data source built inside the block."""
    import jsii
    from cdktf import TerraformDataSource, TerraformResource

    seen: list[tuple[Any, tuple[str, int]]] = []
    original = jsii.create

    def create(*args: Any, **kw: Any) -> Any:
        result = original(*args, **kw)
        obj = args[1] if len(args) > 1 else kw.get("obj")
        if isinstance(obj, (TerraformResource, TerraformDataSource)):
            where = _creator()
            if where is not None:
                seen.append((obj, where))
        return result

    jsii.create = create
    try:
        yield seen
    finally:
        jsii.create = original


def write(seen: list[tuple[Any, tuple[str, int]]], stack_dirs: dict[str, Path]) -> None:
    """One side file per stack folder (``stack_dirs``: stack name -> folder of its cdk.tf.json)."""
    from cdktf import TerraformDataSource, TerraformStack

    by_stack: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in stack_dirs}
    for obj, (file, line) in seen:
        stack = TerraformStack.of(obj)
        name = stack.node.id
        if name not in by_stack:
            continue
        address = f"{obj.terraform_resource_type}.{stack.get_logical_id(obj)}"
        if isinstance(obj, TerraformDataSource):
            address = f"data.{address}"
        by_stack[name][address] = {"file": file, "line": line}
    for name, folder in stack_dirs.items():
        (folder / SIDE_FILE).write_text(json.dumps(by_stack[name], indent=1, sort_keys=True) + "\n")
