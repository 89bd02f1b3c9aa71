"""The one import seam between the project and its CDK: which package backs the ``cdktf`` and
``cdktf_cdktf_provider_aws`` namespaces the construct files import (``constructs`` is the same package for both).

- **CDKTF** (default; HashiCorp's, archived upstream, 0.21.0 final): nothing is aliased, the stock packages load.
- **CDK Terrain** (``cdktn``, the community fork; docs/cdk-terrain.md): ``cdktf`` is ``cdktn`` and
  ``cdktf_cdktf_provider_aws`` is the AWS provider bindings named by ``PLATFORM_CDKTN_AWS`` (default ``imports.aws``:
  what ``cdktn get`` writes for ``hashicorp/aws@=5.100.0`` with ``"codeMakerOutput": "imports"``; the published
  ``cdktn-provider-aws`` tracks AWS provider 6 and would change the synthesized JSON).

Selection, read once when ``modules`` is first imported (``modules/__init__.py`` imports this module before anything
else): ``PLATFORM_CDK=cdktf`` or ``PLATFORM_CDK=cdktn``; unset, CDK Terrain is chosen only where cdktf is not installed
and cdktn is. Aliases are a meta-path finder that hands out the real module objects (``cdktf.App is cdktn.App``), so
no construct file changes its imports. A selection that cannot load says which variable to fix and exits 2.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

SELECT_ENV = "PLATFORM_CDK"
AWS_BINDINGS_ENV = "PLATFORM_CDKTN_AWS"
DEFAULT_AWS_BINDINGS = "imports.aws"
BACKENDS = ("cdktf", "cdktn")

CDK = "cdktf"
PROVIDER = "cdktf_cdktf_provider_aws"

_finder: "_AliasFinder | None" = None
backend: str | None = None
"""The CDK in force once :func:`install` ran: ``cdktf`` or ``cdktn``."""


def _installed(name: str) -> bool:
    return importlib.machinery.PathFinder.find_spec(name) is not None


def choose(environ: "os._Environ[str] | dict[str, str] | None" = None,
           installed=_installed) -> str:
    """``cdktf`` or ``cdktn`` (see the module doc); raises ValueError on an unknown ``PLATFORM_CDK``."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(SELECT_ENV, "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise ValueError(f"{SELECT_ENV}={chosen!r} is not one of {', '.join(BACKENDS)}; unset it for the default "
                             "(cdktf when installed)")
        return chosen
    return "cdktn" if not installed(CDK) and installed("cdktn") else "cdktf"


def aliases(chosen: str, environ: "os._Environ[str] | dict[str, str] | None" = None) -> dict[str, str]:
    """The module names the project imports -> the modules that back them (empty for stock CDKTF)."""
    environ = os.environ if environ is None else environ
    if chosen == "cdktf":
        return {}
    return {CDK: "cdktn", PROVIDER: environ.get(AWS_BINDINGS_ENV, "").strip() or DEFAULT_AWS_BINDINGS}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real: str) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.real)
        spec.loader_state = module.__spec__  # importlib sets module.__spec__ to the alias's spec next ...
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = module.__spec__.loader_state  # ... so the real module gets its own spec back


class _AliasFinder(importlib.abc.MetaPathFinder):
    """``alias`` and ``alias.sub`` import as ``real`` and ``real.sub``: the same module objects under both names."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def find_spec(self, fullname, path=None, target=None):
        for alias, real in self.table.items():
            if fullname == alias or fullname.startswith(alias + "."):
                return importlib.util.spec_from_loader(fullname, _AliasLoader(real + fullname[len(alias):]))
        return None


def install() -> str:
    """Apply the selection (idempotent); returns the CDK in force. Exits 2 with the fix when it cannot load."""
    global _finder, backend
    if backend is not None:
        return backend
    try:
        chosen = choose()
    except ValueError as exc:
        _refuse(str(exc))
    table = aliases(chosen)
    if table:
        for alias in table:
            if alias in sys.modules:
                _refuse(f"{SELECT_ENV}={chosen}: {alias} was imported before modules/ selected the CDK; import "
                        "modules (or modules.cdk) first")
        for alias, real in table.items():
            if importlib.util.find_spec(real.split(".")[0]) is None or importlib.util.find_spec(real) is None:
                fix = ("pip install cdktn==0.24.0" if alias == CDK else
                       f"generate the AWS 5.100.0 bindings with `cdktn get` (docs/cdk-terrain.md) and put the folder "
                       f"holding {real.replace('.', '/')}/ on PYTHONPATH, or name their module in {AWS_BINDINGS_ENV}")
                _refuse(f"{SELECT_ENV}={chosen}: {real} (what backs {alias}) is not importable: {fix}")
        _finder = _AliasFinder(table)
        sys.meta_path.insert(0, _finder)
    backend = chosen
    return chosen


def _refuse(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
