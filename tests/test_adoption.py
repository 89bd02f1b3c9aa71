"""What another repository references: the pre-commit hook (.pre-commit-hooks.yaml) and the composite GitHub Action
(action.yml). The hook's command line runs for real on the foreign fixture, files passed as pre-commit passes them."""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from compliance import cli

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = ROOT / "tests" / "fixtures" / "foreign"


def test_pre_commit_hook_runs_the_gate_on_the_files_pre_commit_passes(capsys) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "platform-gate" and hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("infra/cdktf.out/stacks/prod/cdk.tf.json") and files.search("plans/tfplan.json")
    assert not files.search("package.json") and not files.search("main.tf")
    program, *entry = shlex.split(hook["entry"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[program] == "compliance.cli:main"  # the console script the base (gate-only) install provides
    args = [*entry, "--env", "prod", "--policy-dir", str(FOREIGN / "policy")]
    assert cli.main([*args, str(FOREIGN / "main.tf.json"), str(FOREIGN / "plan.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASSED: static gate") and "PASSED: plan gate" in out  # the plan file was read as a plan
    # under the default policy (this project's tag names) the same files block
    assert cli.main([*entry, str(FOREIGN / "main.tf.json")]) == 1


def test_action_is_composite_and_runs_check_review_and_upserts_one_comment() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"tf-json", "plan", "env", "policy-dir", "waivers", "comment"} <= set(action["inputs"])
    steps = {s.get("id") or s.get("name"): s for s in action["runs"]["steps"]}
    assert 'pip install --quiet "${{ github.action_path }}"' in steps["Install the gate alone (Checkov, no cdktf)"]["run"]
    script = steps["gate"]["run"]
    assert 'platform-gate check "${args[@]}" --format sarif' in script and "platform-gate \"${review[@]}\"" in script
    # every option the script passes exists in the gate's command line
    declared = (ROOT / "compliance" / "cli.py").read_text()
    for option in set(re.findall(r"(--[a-z][a-z-]+)", script)) - {"--quiet"}:
        assert f'"{option}"' in declared, option  # an add_argument of compliance.cli
    comment = steps["Upsert the pull-request comment"]["with"]["script"]
    assert "updateComment" in comment and "createComment" in comment and "platform-gate:" in comment
    assert steps["Verdict"]["run"] == "exit ${{ steps.gate.outputs.exit-code }}"
