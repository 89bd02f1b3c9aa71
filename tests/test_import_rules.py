"""The project's import rules, read statically from the source (``ast``; imports inside functions count too, and so do
``__import__("x")`` / ``importlib.import_module("x")`` with a literal name), so a rule breaks here before it breaks an
install or a start-up:

- no import circle anywhere in the project (``main.py``, ``envs/``, ``modules/``, ``compliance/``, ``pipeline/``,
  ``workload/``, ``tools/``); the circles inside ``modules/`` are a separate assertion (the constructs' own layering);
- the layers (DESIGN.md): ``compliance/`` (the gate, installable alone) imports nothing of cdktf, the generator
  extra, ``modules/``, ``pipeline/``, ``envs/`` or ``workload/``; ``envs/`` (the settings) imports nothing of
  ``modules/``, ``pipeline/``, ``compliance/`` or cdktf; ``modules/`` (the constructs) imports nothing of
  ``pipeline/`` or ``compliance/``;
- no command module imports the command-line dispatcher (``pipeline/cli.py``) or ``main.py``.

The graph builder is tested on a small synthetic tree, so a rule cannot pass because the builder sees nothing.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "modules", "compliance", "pipeline", "workload", "tools")
#: Distributions of the ``generator`` extra (pyproject.toml) by their import names: the gate alone has none of them.
GENERATOR_ONLY = ("cdktf", "cdktf_cdktf_provider_aws", "constructs", "jsii", "python_terraform", "moto", "cfnlint",
                  "pydantic")
LAYERS = {
    "compliance": ("modules", "pipeline", "envs", "workload", *GENERATOR_ONLY),
    "envs": ("modules", "pipeline", "compliance", "cdktf", "cdktf_cdktf_provider_aws", "constructs", "jsii"),
    "modules": ("pipeline", "compliance"),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    files = {"main": root / "main.py"} if (root / "main.py").is_file() else {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "node_modules" not in path.parts and "__pycache__" not in path.parts:
                files[module_name(path, root)] = path
    return files


def _imported_names(tree: ast.AST, name: str, is_package: bool) -> list[tuple[str, tuple[str, ...] | None]]:
    """Every import in ``tree``: ``(module, None)`` for ``import module`` (and ``__import__("module")``),
    ``(module, names)`` for ``from module import names`` (relative imports made absolute)."""
    found: list[tuple[str, tuple[str, ...] | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.append((source, tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in ("__import__", "import_module"):
                found.append((node.args[0].value, None))
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(project edges, external top-level names)`` by module: an edge to every project module an import executes
    (the module itself and the packages above it, except the packages above the importer: they ran before it, unless
    the statement takes a name from one of them, ``from pkg import NAME`` inside ``pkg.mod``)."""
    files = project_files(root, packages)
    edges: dict[str, set[str]] = {m: set() for m in files}
    external: dict[str, set[str]] = {m: set() for m in files}

    def add(importer: str, module: str, explicit: bool) -> None:
        parts = module.split(".")
        found = [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in files]
        if not found:
            if parts[0] and parts[0] not in packages:
                external[importer].add(parts[0])
            return
        for target in found:
            above = importer.startswith(target + ".")
            if target != importer and (not above or (explicit and target == found[-1])):
                edges[importer].add(target)

    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for source, names in _imported_names(tree, name, path.name == "__init__.py"):
            if names is None:
                add(name, source, explicit=True)
                continue
            submodules = [n for n in names if f"{source}.{n}" in files]
            for n in submodules:
                add(name, f"{source}.{n}", explicit=True)
            add(name, source, explicit=len(submodules) < len(names))
    return edges, external


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found, key=lambda c: (-len(c), c))


def one_path(edges: dict[str, set[str]], component: list[str]) -> str:
    """A readable circle inside ``component``: ``a -> b -> ... -> a``."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(edges[path[-1]] & members)
        back = start if start in nxt else None
        if back and len(path) > 1:
            return " -> ".join(path + [start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return " -> ".join(path + [nxt[0]]) if nxt else " -> ".join(path)
        path.append(fresh[0])
        seen.add(fresh[0])


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    return import_graph(ROOT)


def _describe(edges: dict[str, set[str]], found: list[list[str]]) -> str:
    return "\n".join(f"  circle of {len(c)}: {one_path(edges, c)}\n    members: {', '.join(c)}" for c in found)


def test_the_builder_sees_imports_at_every_level_and_finds_a_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pipeline"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "c.py").write_text("def g():\n    return __import__('pipeline.a', fromlist=['x'])\n")
    (pkg / "d.py").write_text("import cdktf\nfrom pipeline.c import g\n")
    edges, external = import_graph(tmp_path, ("pipeline",))
    assert edges["pipeline.a"] == {"pipeline.b"} and edges["pipeline.b"] == {"pipeline.c"}
    assert edges["pipeline.c"] == {"pipeline.a"} and edges["pipeline.d"] == {"pipeline.c"}
    assert external["pipeline.d"] == {"cdktf"}
    assert cycles(edges) == [["pipeline.a", "pipeline.b", "pipeline.c"]]
    assert one_path(edges, ["pipeline.a", "pipeline.b", "pipeline.c"]) == \
        "pipeline.a -> pipeline.b -> pipeline.c -> pipeline.a"
    # a package's own __init__: a name taken from it inside the package is a circle, a submodule taken is not
    (pkg / "__init__.py").write_text("from .e import thing\n")
    (pkg / "e.py").write_text("from pipeline import other\nthing = 1\n")
    (pkg / "f.py").write_text("from pipeline import e\n")
    edges, _ = import_graph(tmp_path, ("pipeline",))
    assert edges["pipeline"] == {"pipeline.e"} and edges["pipeline.e"] == {"pipeline"}
    assert edges["pipeline.f"] == {"pipeline.e"}
    assert ["pipeline", "pipeline.e"] in cycles(edges)


def test_the_graph_covers_the_project(graph) -> None:
    edges, _ = graph
    for package in ("main", "envs", "modules", "compliance", "pipeline", "workload", "tools.gen_resource_classes"):
        assert any(m == package or m.startswith(package + ".") for m in edges), package
    assert "pipeline.cli" in edges["main"] and "compliance.cli" in edges["pipeline.cli"]
    inside_modules = sum(1 for m in edges if m.startswith("modules.") for t in edges[m] if t.startswith("modules."))
    assert inside_modules > 30, inside_modules  # the constructs' own imports are seen (function-level ones too)


def test_no_import_circle_outside_modules(graph) -> None:
    """Circles through the CLI, the pipeline, the gate, the settings, the workload and the tools."""
    edges, _ = graph
    found = [c for c in cycles(edges) if not all(m.startswith("modules.") or m == "modules" for m in c)]
    assert not found, "import circles:\n" + _describe(edges, found)


def test_no_import_circle_inside_modules(graph) -> None:
    """The constructs' own layering (modules/ is restructured in its own issue, #15 item 6): no circle among them."""
    edges, _ = graph
    found = [c for c in cycles(edges) if all(m.startswith("modules.") or m == "modules" for m in c)]
    assert not found, "import circles inside modules/:\n" + _describe(edges, found)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports(graph, layer: str) -> None:
    edges, external = graph
    forbidden = LAYERS[layer]
    broken = []
    for module in sorted(edges):
        if module == layer or module.startswith(layer + "."):
            names = {m.split(".")[0] for m in edges[module]} | external[module]
            broken += [f"{module} imports {name}" for name in sorted(names & set(forbidden))]
    assert not broken, f"{layer}/ must import nothing of {', '.join(forbidden)}:\n  " + "\n  ".join(broken)


def test_no_command_module_imports_the_dispatcher(graph) -> None:
    edges, _ = graph
    importers = sorted(m for m, targets in edges.items() if targets & {"pipeline.cli", "main"} and m != "main")
    assert importers == [], importers
