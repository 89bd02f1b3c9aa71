"""Issue 17: one repository reference everywhere. pyproject's ``[project.urls]``, SARIF's ``informationUri`` and the
copy-paste snippets other repositories use (docs/adopting-the-gate.md, .pre-commit-hooks.yaml) name the same
repository, the one the platform's own CI deploys from (``security.ci_github_repository``), at the released version;
no placeholder is left for a reader to fill in."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import compliance
from compliance.gate import Gate
from compliance.report import render

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "compliance" / "fixtures"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
TAG = f"v{PROJECT['version']}"


def test_pyproject_urls_and_sarif_information_uri_name_the_project_repository() -> None:
    assert compliance.HOMEPAGE == f"https://github.com/{compliance.REPOSITORY}"
    urls = PROJECT["urls"]
    assert urls["Homepage"] == urls["Source"] == compliance.HOMEPAGE
    assert urls["Documentation"].startswith(compliance.HOMEPAGE + "/blob/main/docs/")
    assert (ROOT / urls["Documentation"].removeprefix(compliance.HOMEPAGE + "/blob/main/")).is_file()
    for env in ("dev", "staging", "prod"):  # the repository whose Actions deploy the platform
        settings = tomllib.loads((ROOT / "envs" / f"{env}.toml").read_text())
        assert settings["security"]["ci_github_repository"] == compliance.REPOSITORY
    result = Gate(None, run_checkov=False).scan_tf_json([FX / "PLAT_SEC_001" / "cdk.tf.json"])
    driver = json.loads(render([result], "sarif"))["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == compliance.HOMEPAGE


def test_adoption_snippets_use_the_real_repository_reference() -> None:
    doc = (ROOT / "docs" / "adopting-the-gate.md").read_text()
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    for text in (doc, hooks):
        assert not re.search(r"<(org|owner|repo)>|\.\.\.'", text), "a placeholder is left in a copy-paste snippet"
    assert f"git+{compliance.HOMEPAGE}@{TAG}'" in doc
    assert f"'platform-iac[generator] @ git+{compliance.HOMEPAGE}@{TAG}'" in doc
    assert doc.count(f"- repo: {compliance.HOMEPAGE}\n    rev: {TAG}\n") == 1
    assert f"#     - repo: {compliance.HOMEPAGE}\n#       rev: {TAG}\n" in hooks
    assert f"uses: {compliance.REPOSITORY}@{TAG}\n" in doc
    assert (ROOT / "action.yml").is_file() and (ROOT / ".pre-commit-hooks.yaml").is_file()  # at the root: usable
