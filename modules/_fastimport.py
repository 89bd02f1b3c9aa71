"""Load only the AWS provider submodules a stack actually uses.

The trick: ``cdktf_cdktf_provider_aws/__init__.py`` (20.1.0, final release) is a
header (imports, ``check_type``, ``from ._jsii import *`` which loads the jsii
assembly, ``__all__``, ``publication.publish()``) followed by 2,135
``from . import <submodule>`` lines that cost ~6 s.  ``install()`` puts a
meta-path finder in front of the stock one for that single package name; its
loader executes the package's own ``__init__.py`` source with exactly those
``from . import`` lines removed (everything else runs unchanged, so the
assembly is loaded the stock way), then gives the published module a PEP 562
``__getattr__`` that imports a submodule on first attribute access.  It also
registers the jsii FQN -> Python module map (``securityGroup`` ->
``security_group``) so the jsii runtime (>= 1.1xx, lazy-loading aware) can
import a submodule on demand if the kernel ever returns a type from one that
was not imported.  If the source does not have the expected shape, nothing is
installed and the stock import is used.  ``PLATFORM_STOCK_PROVIDER_IMPORT=1``
disables it.

``fast_exit(code)`` skips the slow interpreter teardown after a successful run:
it flushes stdio, stops the jsii node process (graceful request, then
SIGTERM/SIGKILL if it lingers), removes the jsii runtime temp dir, then
``os._exit(code)``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import types
from typing import NoReturn

PACKAGE = "cdktf_cdktf_provider_aws"
JSII_ASSEMBLY = "@cdktf/provider-aws"
STOCK_ENV = "PLATFORM_STOCK_PROVIDER_IMPORT"

_IMPORT_LINE = re.compile(r"^from \. import ([a-z0-9_]+)[ \t]*$", re.MULTILINE)
_ALL_BLOCK = re.compile(r"^__all__ = \[\n((?:    \"[a-z0-9_]+\",\n)*)\]\n", re.MULTILINE)
_REQUIRED_HEADER = ("from ._jsii import *", "publication.publish()")

_finder: "_ProviderFinder | None" = None


def _stock_requested() -> bool:
    return os.environ.get(STOCK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _prepare(spec: importlib.machinery.ModuleSpec) -> tuple[str, tuple[str, ...]] | None:
    """Return (trimmed source, submodule names) or None if the layout is unexpected."""
    if not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
        return None
    if not spec.origin or not spec.submodule_search_locations:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            source = fh.read()
    except OSError:
        return None
    imported = _IMPORT_LINE.findall(source)
    all_blocks = _ALL_BLOCK.findall(source)
    if len(imported) < 100 or len(all_blocks) != 1:
        return None
    names = tuple(re.findall(r'"([a-z0-9_]+)"', all_blocks[0]))
    if sorted(names) != sorted(imported) or len(set(names)) != len(names):
        return None
    trimmed = _IMPORT_LINE.sub("", source)
    if any(h not in trimmed for h in _REQUIRED_HEADER) or "from . import" in trimmed:
        return None
    # Every submodule must be a package directory next to __init__.py.
    base = os.path.dirname(spec.origin)
    for probe in (names[0], names[len(names) // 2], names[-1]):
        if not os.path.isfile(os.path.join(base, probe, "__init__.py")):
            return None
    return trimmed, names


class _ProviderLoader(importlib.machinery.SourceFileLoader):
    """Stock source loader whose code is the trimmed ``__init__`` source."""

    def __init__(self, fullname: str, path: str, source: str, names: tuple[str, ...]):
        super().__init__(fullname, path)
        self._source = source
        self._names = frozenset(names)

    def get_code(self, fullname):  # noqa: D401 - importlib API
        return compile(self._source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        # publication.publish() replaced sys.modules[PACKAGE] with a public copy.
        public = sys.modules[module.__name__]
        names = self._names
        pkg = module.__name__

        def __getattr__(attr: str):
            if attr in names:
                return importlib.import_module(f"{pkg}.{attr}")
            raise AttributeError(f"module {pkg!r} has no attribute {attr!r}")

        def __dir__():
            return sorted(set(public.__dict__) | names)

        public.__getattr__ = __getattr__
        public.__dir__ = __dir__
        _register_fqn_map(pkg, names)


def _register_fqn_map(pkg: str, names) -> None:
    try:
        from jsii import _reference_map as refmap
    except Exception:  # pragma: no cover - jsii layout changed: stay correct-but-eager-free
        return
    fqn_map = getattr(refmap, "_submodule_fqn_map", None)
    if isinstance(fqn_map, dict):
        for name in names:
            fqn_map.setdefault(f"{JSII_ASSEMBLY}.{_camel(name)}", f"{pkg}.{name}")


class _ProviderFinder:
    """Meta-path finder that only answers for the provider package itself."""

    def __init__(self, spec: importlib.machinery.ModuleSpec, source: str, names):
        self._spec = spec
        self._source = source
        self._names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PACKAGE:
            return None
        stock = self._spec
        loader = _ProviderLoader(fullname, stock.origin, self._source, self._names)
        spec = importlib.util.spec_from_file_location(
            fullname,
            stock.origin,
            loader=loader,
            submodule_search_locations=list(stock.submodule_search_locations),
        )
        return spec

    def invalidate_caches(self):
        pass


def is_active() -> bool:
    """True if the provider package is (or will be) loaded through the fast path."""
    mod = sys.modules.get(PACKAGE)
    if mod is not None:
        spec = getattr(mod, "__spec__", None)
        return isinstance(getattr(spec, "loader", None), _ProviderLoader)
    return _finder is not None and _finder in sys.meta_path


def install() -> bool:
    """Install the lazy provider import. Returns True if the fast path is in effect.

    Returns False (and changes nothing) when ``PLATFORM_STOCK_PROVIDER_IMPORT=1``,
    when the package was already imported the stock way, or when the installed
    package does not have the expected layout. Idempotent.
    """
    global _finder
    if _stock_requested():
        return False
    if PACKAGE in sys.modules or is_active():
        return is_active()
    try:
        spec = importlib.machinery.PathFinder.find_spec(PACKAGE)
    except Exception:
        return False
    if spec is None:
        return False
    prepared = _prepare(spec)
    if prepared is None:
        return False
    source, names = prepared
    _finder = _ProviderFinder(spec, source, names)
    sys.meta_path.insert(0, _finder)
    return True


def _node_process():
    """Return the jsii kernel's ``_NodeProcess`` if one was started, else None.

    Raises LookupError if jsii is loaded but its internals are not as expected.
    """
    if "jsii._runtime" not in sys.modules:
        return None
    from jsii._kernel.providers import process as jproc
    from jsii._runtime import kernel

    prop = jproc.ProcessProvider.__dict__.get("_process")
    fget = getattr(prop, "fget", None)
    # memoized_property keeps the started process in a closure cell named "stored";
    # reading the property itself would *start* a node process.
    try:
        cells = dict(zip(fget.__code__.co_freevars, fget.__closure__ or ()))
        stored = cells["stored"].cell_contents
    except Exception as exc:
        raise LookupError("unexpected jsii kernel layout") from exc
    if not isinstance(stored, list) or not isinstance(getattr(kernel, "provider", None), jproc.ProcessProvider):
        raise LookupError("unexpected jsii kernel layout")
    if not stored:
        return None
    node = stored[0]
    if not hasattr(node, "_process") or not hasattr(node, "stop"):
        raise LookupError("unexpected jsii kernel layout")
    return node


def _stop_jsii_kernel(timeout: float = 2.0) -> None:
    """Stop the jsii node process like its atexit hook does, but with short waits."""
    node = _node_process()
    if node is None:
        return
    import atexit

    atexit.unregister(node.stop)
    popen = node._process
    try:
        if popen.stdin and not popen.stdin.closed:
            popen.stdin.write(b'{"exit":0}\n')
            popen.stdin.close()
    except OSError:
        pass
    try:
        popen.wait(timeout=timeout)
    except Exception:
        popen.kill()
        popen.wait(timeout=timeout)
    try:
        node._ctx_stack.close()  # removes the extracted jsii runtime temp dir
    except Exception:
        pass


def fast_exit(code: int = 0) -> NoReturn:
    """Flush stdio, stop the jsii kernel, and leave without interpreter teardown.

    Only call this after all output is written (files closed). Atexit handlers and
    finalizers of *other* libraries do not run.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        _stop_jsii_kernel()
    except LookupError:
        # jsii internals not as expected: take the normal (slow but clean) exit.
        sys.exit(code)
    os._exit(code)
