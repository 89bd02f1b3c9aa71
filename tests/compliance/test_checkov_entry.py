"""The gate's Checkov (compliance/checkov_main.py, run by compliance/checkov_runner.CheckovJob in a fork of the
gate's interpreter) reports exactly what stock ``python -m checkov.main`` reports on the same files and arguments:
the faster JSON loader gives the same parsed documents, and the fork runs Checkov's own checks, all of them and only
them (docs/compliance.md, "How Checkov is run")."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from compliance import checkov_main, engine
from compliance.checkov_runner import CHECKOV_DEFAULT_ENV, CHECKOV_ENV, CheckovJob, CheckovRun, checkov_args, \
    parse_report

ROOT = Path(__file__).resolve().parents[2]
TF_JSON = sorted(p for p in ROOT.glob("tests/**/*.tf.json"))
TF_JSON += sorted((ROOT / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))   # the real stacks when synthesized


def _stock_loads(text: str):
    from checkov.common.parsers.yaml import loader
    return loader.loads(text)


def _fast_loads(text: str):
    assert checkov_main.install_fast_json_loader(), "PyYAML without libyaml: the gate keeps Checkov's own loader"
    from checkov.terraform_json import parser
    return parser.loader.loads(text)


def test_every_terraform_json_in_the_repository_parses_the_same() -> None:
    assert len(TF_JSON) >= 40
    for f in TF_JSON:
        text = f.read_text()
        assert _fast_loads(text) == _stock_loads(text), f


@pytest.mark.parametrize("text", [
    '{"resource": {"aws_s3_bucket": {"b": {"bucket": "x", "tags": {"a": "yes", "b": "on", "c": "true"}}}}}',
    '{\n\t"resource": {\n\t\t"aws_s3_bucket": {"b": {"bucket": "tab-indented"}}\n\t}\n}\n',   # Checkov's own path
    '{"a": "\\u2028 line sep \\/ slash \\ud83d\\ude00 \\t tab", "b": 1e400, "c": -0.0, "d": 12345678901234567890}',
    '{"a": [1, 2.5, true, false, null, {"x": {}}, []],\r\n "b": "crlf"}\r\n',
    '', '   ', '[]', '{"unterminated": ', '{"dup": 1, "dup": 2}', 'not json: [',
    '{"resource": {"aws_instance": {"i": {"user_data": "#!/bin/sh\\necho ${var.x} %{ if true }y%{ endif }"}}}}',
    '{"ctl": "a\x01b"}', '{"del": "a\x7fb"}', '\ufeff{"bom": 1}', '{"nel": "a\x85b", "nbsp": "\xa0"}',
    '{"a": 1}\n---\n{"b": 2}', '{"x": "tab\tinside a string"}', '{ "k" : [ 1 , 2 ] , "l" : { } }',
    '{"long": "' + "y" * 200000 + '"}',
])
def test_edge_inputs_parse_the_same(text: str) -> None:
    assert _fast_loads(text) == _stock_loads(text)


def _stock(framework: str, files: list[Path]) -> CheckovRun:
    """The reference: a fresh ``python -m checkov.main`` with the gate's arguments and environment."""
    import os
    env = {**CHECKOV_DEFAULT_ENV, **os.environ, **CHECKOV_ENV}
    proc = subprocess.run([sys.executable, "-m", "checkov.main", *checkov_args(framework, files)], env=env,
                          capture_output=True, text=True, timeout=600)
    return parse_report(CheckovRun(), framework, files, proc.returncode, proc.stdout, proc.stderr)


def _key(run: CheckovRun) -> Counter:
    return Counter((r.check_id, r.title, r.result, r.resource, r.file, r.guideline) for r in run.results)


@pytest.mark.slow
@pytest.mark.parametrize("framework, pattern", [("terraform_json", "*/cdk.tf.json"), ("terraform_plan", "*/tfplan.json")])
def test_the_gates_checkov_reports_what_stock_checkov_reports(framework: str, pattern: str) -> None:
    files = sorted((ROOT / "tests" / "compliance" / "fixtures").glob(pattern))
    files = files if framework == "terraform_json" else files[::4]   # the registries are the same: a sample of plans
    engine.project_checks()   # the gate's process has the project's checks registered in Checkov's registries
    job = CheckovJob(framework, files)
    assert job.pid is not None, "the gate forks its Checkov from this interpreter (POSIX, main thread)"
    stock = _stock(framework, files)   # runs while the forked child works
    ours = job.finish()
    assert not ours.errors and not stock.errors, (ours.errors, stock.errors)
    assert len(ours.results) > 100 and ours.version == stock.version
    assert not [r for r in ours.results if not r.check_id.startswith(("CKV_", "CKV2_"))]   # no PLAT_* run twice
    assert _key(ours) == _key(stock)
    assert {r.check_id for r in ours.results} == {r.check_id for r in stock.results}


def test_a_checkov_that_cannot_start_checks_is_an_error_not_a_pass(tmp_path: Path) -> None:
    """The forked child's failures surface as the subprocess's did: exit code and stderr tail, exit 3 in the gate."""
    bad = tmp_path / "broken.tf.json"
    bad.write_text(json.dumps({"resource": {"aws_s3_bucket": {"b": {"bucket": "x"}}}}))
    job = CheckovJob("terraform_json", [bad], extra_args=["--no-such-checkov-flag"])
    run = job.finish()
    assert run.errors and "exited with code 2" in run.errors[0]
