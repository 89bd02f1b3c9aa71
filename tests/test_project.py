"""Project rules: who may import whom (DESIGN.md), the README's generated parts are current, CI runs the README's
test command."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "envs": {"modules", "compliance", "pipeline", "cdktf", "cdktf_cdktf_provider_aws", "constructs"},
    "modules": {"compliance", "pipeline"},
    "compliance": {"cdktf", "cdktf_cdktf_provider_aws", "constructs", "modules", "envs", "pipeline"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_rules(package: str) -> None:
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_readme_settings_reference_is_current() -> None:
    from pipeline.settings_doc import replace_in

    text = (ROOT / "README.md").read_text()
    assert replace_in(text) == text, "run: python -m pipeline.settings_doc --write README.md"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test   #" in readme and "make demo   #" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_cdktf_json_runs_the_app() -> None:
    import json

    config = json.loads((ROOT / "cdktf.json").read_text())
    assert config["language"] == "python" and config["app"] == "python main.py"


def test_pins_are_exact() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"cdktf==0.21.0"' in text and '"cdktf-cdktf-provider-aws==20.1.0"' in text
