"""The wheel in a fresh virtualenv, for the packaging tests (tests/test_installed_wheel.py, tests/test_gate_package.py).

The wheel is built from a copy of the checkout (build isolation from the machine's local package index), installed
with ``--no-deps`` into a new virtualenv, and the dependencies it needs (as installed here, resolved from the
distributions' metadata, nothing else) are linked into it through a ``.pth`` file: offline, and the checkout is not on
``sys.path``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def closure(roots: list[str]) -> list[metadata.Distribution]:
    """The distributions ``roots`` require (with the extras they name), as installed here; never the project."""
    seen: dict[tuple[str, tuple[str, ...]], metadata.Distribution] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        if name == "platform-iac":
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen[key] = dist
        for spec in dist.requires or []:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                todo.append(sub)
    return list({d.metadata["Name"]: d for d in seen.values()}.values())


def link_dependencies(target: Path, roots: list[str]) -> None:
    """Symlink the top-level modules and metadata of the dependency closure of ``roots`` into ``target``."""
    target.mkdir()
    for dist in closure(roots):
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if top in ("bin", "__pycache__") or not source.exists() or (target / top).exists():
                continue
            (target / top).symlink_to(source)


def install_wheel(work: Path, *, packages: tuple[str, ...], dependencies: list[str], env: dict[str, str],
                  pth_name: str, timeout: int = 120) -> tuple[Path, Path]:
    """Build the wheel of ``packages`` (with pyproject.toml, README.md, main.py) under ``work``, install it into
    ``work/venv`` with ``env`` as the installer's environment, and link the closure of ``dependencies`` in through
    ``pth_name``. Returns (the virtualenv, the wheel)."""
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "main.py"):
        shutil.copy2(ROOT / name, src / name)
    for package in packages:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(src)],
                           capture_output=True, text=True, timeout=timeout)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("platform_iac-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    installed = subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=timeout, env=env,
                               cwd=work)
    assert installed.returncode == 0, installed.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    link_dependencies(work / "deps", dependencies)
    (site / pth_name).write_text(str(work / "deps") + "\n")
    return venv, wheel
