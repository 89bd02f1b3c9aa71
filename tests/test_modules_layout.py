"""The import and layering rules of ``modules/`` (docs/modules.md, "Layers and rules"), read from the source.

- Every construct lives in a tier package (``modules/<tier>/``); only the package plumbing sits at the top.
- Only the stack layer (``modules/stack/``) reads the environment settings: the other files import nothing of
  ``envs`` but the contract (``envs.contract``: names both sides must agree on) and, in ``modules/core/base.py``
  alone, the target type of the context.
- Constructs never import ``compliance/`` or ``pipeline/``, and never take the stack (``stack: Any``,
  ``getattr(stack, ...)``) or import a sibling under ``try/except ImportError``.
- Not even the stack layer passes the stack around untyped: no function under ``modules/`` takes ``stack: Any`` (or
  an unannotated ``stack``) and no ``getattr(stack, ...)`` remains; composition functions take ``TierRefs``
  (``modules/stack/refs.py``).
- One alarm-topic interface: a construct field or parameter about topics is ``AlarmTopics``
  (``modules/core/alarms.py``) or one topic ARN (``str``), never a tuple / mapping / list of ARNs; and no construct
  takes (or imports) the alerting construct: only the stack layer turns it into ``AlarmTopics``.
- No construct decides on the target: ``is_local`` / ``target.supports(...)`` / ``target.lifecycle(...)`` appear
  only in the stack layer (``modules/stack/``: the local variant, and the settings it hands the tiers), except the
  decisions listed in ``TARGET_DECISIONS_LEFT`` (empty since the cache's moved to ``data_tier_variant`` in the
  local variant; the list may only shrink, and a stale entry fails too).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
TIERS = {"core", "stack", "network", "app", "data", "security", "observability", "integration"}
#: Files allowed directly under modules/: the package plumbing (the provider import trick, the cdktf seam).
TOP_LEVEL = {"__init__.py", "_fastimport.py", "cdk.py"}
#: envs modules a construct may import: the shared names (the contract); the target type only for the context.
ENVS_ALLOWED = {"envs.contract"}
ENVS_TARGET_ALLOWED_IN = {"modules/core/base.py"}
#: Target decisions still inside constructs, file -> count (issue 15 item 2; why each stays: docs/modules.md).
TARGET_DECISIONS_LEFT: dict[str, int] = {}
TARGET_DECISION = re.compile(r"\bis_local\b|\.supports\(|\.lifecycle\(")


def _construct_files() -> list[Path]:
    return sorted(p for p in MODULES.rglob("*.py") if p.relative_to(MODULES).parts[0] != "stack")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_every_construct_file_lives_in_a_tier_package() -> None:
    strays = [p.name for p in MODULES.glob("*.py") if p.name not in TOP_LEVEL]
    assert strays == [], f"construct files directly under modules/: {strays}; move them into a tier package " \
                         f"({', '.join(sorted(TIERS))}), see docs/modules.md"
    packages = {p.name for p in MODULES.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == TIERS, f"tier packages differ from docs/modules.md: {sorted(packages ^ TIERS)}"


def test_only_the_stack_layer_reads_the_environment_settings() -> None:
    offenders = []
    for path in _construct_files():
        for module in _imports(path):
            if module == "envs" or module.startswith("envs."):
                allowed = module in ENVS_ALLOWED or (module == "envs.target" and _rel(path) in ENVS_TARGET_ALLOWED_IN)
                if not allowed:
                    offenders.append(f"{_rel(path)} imports {module}")
    assert offenders == [], "only modules/stack/ maps the environment settings onto constructs:\n" + "\n".join(offenders)


def test_constructs_never_import_the_gate_or_the_pipeline() -> None:
    offenders = [f"{_rel(p)} imports {m}" for p in sorted(MODULES.rglob("*.py")) for m in _imports(p)
                 if m.split(".")[0] in {"compliance", "pipeline"}]
    assert offenders == []


def test_constructs_take_typed_references_not_the_stack() -> None:
    offenders = []
    for path in _construct_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.arg) and node.arg == "stack":
                offenders.append(f"{_rel(path)}:{node.lineno} takes `stack`")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "stack"):
                offenders.append(f"{_rel(path)}:{node.lineno} getattr(stack, ...)")
            if isinstance(node, ast.Try) and any(isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                                                 for h in node.handlers):
                offenders.append(f"{_rel(path)}:{node.lineno} try/except ImportError")
    assert offenders == [], "\n".join(offenders)


def _untyped_stack(path: Path, rel: str) -> list[str]:
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.arg) and node.arg == "stack" and (
                node.annotation is None or ast.unparse(node.annotation).strip("'\"") == "Any"):
            offenders.append(f"{rel}:{node.lineno} takes `stack` untyped; take TierRefs (modules/stack/refs.py)")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "stack"):
            offenders.append(f"{rel}:{node.lineno} getattr(stack, ...): use the typed references")
    return offenders


def test_no_untyped_stack_anywhere_under_modules() -> None:
    offenders = [o for p in sorted(MODULES.rglob("*.py")) for o in _untyped_stack(p, _rel(p))]
    assert offenders == [], "\n".join(offenders)


#: Annotations a topic field or parameter may have: the one interface, or a single topic ARN (an event target).
TOPIC_ANNOTATIONS = {"AlarmTopics", "str", "str | None"}


def _topic_offenders(path: Path, rel: str) -> list[str]:
    """Fields of construct classes and parameters of functions named ``*topic*`` not typed as :data:`TOPIC_ANNOTATIONS`,
    and anything annotated with the alerting construct."""
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        items: list[tuple[str, ast.expr, int]] = []
        if isinstance(node, ast.ClassDef):
            items = [(b.target.id, b.annotation, b.lineno) for b in node.body
                     if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            items = [(a.arg, a.annotation, a.lineno) for a in args if a.annotation is not None]
        for name, annotation, line in items:
            text = ast.unparse(annotation).strip("'\"")
            if re.search(r"\bAlerting\b", text):
                offenders.append(f"{rel}:{line} `{name}: {text}` takes the alerting construct; take AlarmTopics")
            elif "topic" in name.lower() and text not in TOPIC_ANNOTATIONS:
                offenders.append(f"{rel}:{line} `{name}: {text}`: alarm topics are AlarmTopics "
                                 "(modules/core/alarms.py), a single topic a str")
    return offenders


def test_one_alarm_topic_interface() -> None:
    offenders = []
    for path in _construct_files():
        rel = _rel(path)
        if rel == "modules/observability/alerting.py":
            continue
        offenders += _topic_offenders(path, rel)
        offenders += [f"{rel} imports {m}: only the stack layer reads the alerting construct" for m in _imports(path)
                      if m == "modules.observability.alerting"]
    assert offenders == [], "\n".join(offenders)


def test_no_new_target_decision_inside_a_construct() -> None:
    found = {}
    for path in _construct_files():
        if path.name == "_fastimport.py":
            continue
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
        count = len(TARGET_DECISION.findall(code))
        if count:
            found[_rel(path)] = count
    grown = {f: n for f, n in found.items() if n > TARGET_DECISIONS_LEFT.get(f, 0)}
    assert grown == {}, f"a construct decides on the target: {grown}; the local variant is the stack layer's " \
                        "(docs/modules.md, 'The local target')"
    stale = {f: n for f, n in TARGET_DECISIONS_LEFT.items() if found.get(f, 0) < n}
    assert stale == {}, f"fewer target decisions than listed, shrink TARGET_DECISIONS_LEFT: {stale}"


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    """The readers above see what they are meant to see (a test that could not fail proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from envs.schema import EnvironmentSettings\nimport pipeline.release\n"
                   "def build(stack):\n    return getattr(stack, 'app', None)\n"
                   "try:\n    import modules.x\nexcept ImportError:\n    pass\n")
    assert {"envs.schema", "pipeline.release", "modules.x"} <= _imports(bad)
    assert TARGET_DECISION.search("if ctx.target.is_local:") and TARGET_DECISION.search("t.supports('x')")
    topics = tmp_path / "topics.py"
    topics.write_text("from dataclasses import dataclass\nfrom typing import Mapping\n@dataclass\nclass S:\n"
                      "    alarm_topic_arns: tuple[str, ...] = ()\n    topics: Mapping[str, str] | None = None\n"
                      "    critical_topic_arn: str = ''\n    alarm_topics: AlarmTopics = AlarmTopics()\n"
                      "def f(scope, alerting: Alerting | None, topic_arns: Sequence[str] = ()): pass\n")
    stack = tmp_path / "stack.py"
    stack.write_text("from typing import Any\ndef a(stack: Any): pass\ndef b(stack): pass\n"
                     "def c(stack: 'Any'): return getattr(stack, 'app')\ndef d(stack: PlatformStack): pass\n")
    assert [o.split()[0] for o in _untyped_stack(stack, "stack.py")] == ["stack.py:2", "stack.py:3", "stack.py:4",
                                                                        "stack.py:4"]
    found = _topic_offenders(topics, "topics.py")
    assert [line.split()[0] for line in found] == ["topics.py:5", "topics.py:6", "topics.py:9", "topics.py:9"], found
