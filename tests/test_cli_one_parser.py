"""One command line (issue 15, item 4): every subcommand is declared once (``compliance.cli.Command``: arguments and
handler) by its command module, ``pipeline/cli.py`` collects them into the one parser of ``platform-iac`` /
``python main.py``, and ``platform-gate`` (the gate alone, no cdktf) builds its parser from the same ``check`` and
``review`` declarations without importing the pipeline or the generator. The README's command table and the parser
agree, option by option."""
from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import main
from compliance import cli as gate_cli
from pipeline import cli as iac_cli

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = ROOT / "tests" / "fixtures" / "foreign"


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def signature(parser: argparse.ArgumentParser) -> list[tuple]:
    """What a user can type: every argument's flags, destination, choices, arity and default."""
    return sorted((tuple(a.option_strings), a.dest, tuple(a.choices or ()), str(a.nargs), repr(a.default))
                  for a in parser._actions if not isinstance(a, argparse._HelpAction))


def test_platform_gate_and_platform_iac_take_the_same_check_and_review() -> None:
    gate = subparsers(gate_cli.build_gate_parser("platform-gate"))
    iac = subparsers(main.build_parser("platform-iac"))
    assert set(gate) == {"check", "review"}
    for name in gate:
        assert signature(gate[name]) == signature(iac[name]), name
    flags = {f for a in gate["check"]._actions for f in a.option_strings}
    assert {"--env", "--plan", "--tf-json", "--format", "--output", "--waivers", "--approve", "--policy-dir",
            "--verbose"} <= flags


def test_the_gate_parser_needs_neither_the_pipeline_nor_the_generator() -> None:
    probe = ("import sys, json\nimport compliance.cli as c\n"
             "c.build_gate_parser('platform-gate').parse_args(['check', 'a.tf.json', '--env', 'prod'])\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'pipeline', 'envs', 'modules', 'workload', 'cdktf', 'jsii', 'constructs', 'pydantic', 'checkov'})))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []  # not even Checkov: a broken scanner is exit 3 at run time, not at parse


def test_every_command_module_is_collected_and_every_command_is_in_the_parser() -> None:
    declaring = set()
    for path in sorted((ROOT / "pipeline").glob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMMANDS" for t in node.targets)
               for node in tree.body):
            declaring.add(f"pipeline.{path.stem}")
    assert declaring == {m.__name__ for m in iac_cli.COMMAND_MODULES}
    names = [c.name for c in iac_cli.all_commands()]
    assert list(subparsers(main.build_parser())) == names and len(set(names)) == len(names)
    assert {"synth", "check", "plan", "review", "deploy", "drift", "destroy", "rollback", "promote", "approve",
            "bootstrap", "local", "ci", "pr-plan", "env", "cleanup", "release", "runbook", "dr", "sla", "cost"} == set(names)
    # each parsed command carries its own handler: one dispatch, no table of names to keep in step
    args = main.build_parser().parse_args(["sla", "report", "--env", "dev"])
    assert args.handler.__module__ == "pipeline.sla" and args.json_result is False
    assert main.build_parser().parse_args(["deploy", "--env", "dev"]).json_result is True


def test_a_command_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice: check"):
        gate_cli.build_parser("x", "", "x 0", (gate_cli.CHECK, gate_cli.REVIEW, gate_cli.CHECK))


def test_check_formats_are_the_report_formats() -> None:
    from compliance.report import FORMATS

    assert gate_cli.CHECK_FORMATS == FORMATS


def test_a_parse_error_says_how_to_get_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        gate_cli.build_gate_parser("platform-gate").parse_args(["check", "--format", "xml"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'xml'" in err and "Run 'platform-gate check --help' for the options." in err


def _table_rows() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Command line"):text.index("### Progress, summaries")]
    return [m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", section, re.M)]


def test_the_readme_command_table_and_the_parser_agree() -> None:
    commands = subparsers(main.build_parser())
    seen = set()
    rows = _table_rows()
    assert len(rows) >= 20
    for row in rows:
        words = row.split()
        parser = commands[words[0]]
        seen.add(words[0])
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:  # `ci role ...`
            parser = nested[0].choices[words[1]]
        declared = {f for a in parser._actions for f in a.option_strings}
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", row):
            assert flag in declared, f"README `{row}`: {flag} is not an option of {words[0]}"
    assert seen == set(commands), set(commands) - seen


def test_platform_iac_check_scans_named_files_under_a_policy_folder(capsys) -> None:
    """The gate's options work in ``python main.py check`` too: files named positionally (a plan read as a plan) and
    another organisation's policy folder."""
    code = main.cli(["check", str(FOREIGN / "main.tf.json"), str(FOREIGN / "plan.json"), "--env", "prod",
                     "--policy-dir", str(FOREIGN / "policy")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("PASSED: static gate, environment prod") and "PASSED: plan gate" in out


def test_the_gate_alone_refuses_a_malformed_approval_like_platform_iac(capsys, tmp_path: Path) -> None:
    tf = tmp_path / "one.tf.json"
    tf.write_text(json.dumps({"resource": {}}))
    assert gate_cli.main(["check", str(tf), "--approve", "the database"]) == 2
    assert "is not a Terraform resource address" in capsys.readouterr().err
    assert gate_cli.main(["check", str(tf), "--waivers", str(tmp_path / "none.toml")]) == 2
    assert "--waivers" in capsys.readouterr().err


def test_the_full_parser_imports_no_construct_or_provider() -> None:
    """Collecting every command module's declarations loads no construct, provider binding or scanner: the provider
    is first imported through ``modules/__init__`` (its fast import, tests/test_fastimport.py) when a command
    synthesizes."""
    probe = ("import sys, json\nimport main\nmain.build_parser().parse_args(['synth'])\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'modules', 'cdktf', 'cdktf_cdktf_provider_aws', 'jsii', 'constructs', 'checkov'})))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
