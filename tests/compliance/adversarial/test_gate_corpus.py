"""The gate's adversarial corpus: every ``cases/gate-*`` case gets the verdict its ``expect.toml`` names.

Format: /work/notes/corpus.md (one input + ``expect.toml``: env, exit, blocking check ids, message substrings).
Cost: at most two Checkov processes for the whole corpus.  The gate judges each file under its own environment's
policy inside one scan (``Gate(file_environments=...)``), so every case that the gate judges (exit 0/1) shares ONE
Checkov run; the cases that must end in a scanner failure (exit 3) share a second one (a scanner failure is a property
of the whole scan); the cases refused for their shape (exit 2) never reach Checkov and go through the real ``check``
command in-process.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from compliance.gate import Gate
from compliance.report import FORMATS, render

CASES_DIR = Path(__file__).resolve().parent / "cases"
CASES = sorted(d for d in CASES_DIR.iterdir() if d.is_dir() and d.name.startswith("gate-"))


def _expect(case: Path) -> dict:
    return tomllib.loads((case / "expect.toml").read_text())


def _input(case: Path) -> Path:
    return case / "plan.json"


def _env(e: dict) -> str | None:
    return None if e.get("env", "none") == "none" else e["env"]


BY_EXIT = {code: [c for c in CASES if _expect(c)["exit"] == code] for code in (0, 1, 2, 3)}


def _batch(cases: list[Path]):
    envs = {str(_input(c)): _env(_expect(c)) for c in cases}
    return Gate(None, file_environments={f: e for f, e in envs.items() if e is not None}).scan_plan(
        [_input(c) for c in cases])


@pytest.fixture(scope="module")
def judged():
    """ONE Checkov process over every case the gate must judge (exit 0 or 1)."""
    return _batch(BY_EXIT[0] + BY_EXIT[1])


@pytest.fixture(scope="module")
def failed_scans():
    """The second (and last) Checkov process: cases whose scan must fail (exit 3)."""
    return _batch(BY_EXIT[3])


def test_corpus_size_and_format():
    assert len(CASES) >= 30
    for c in CASES:
        e = _expect(c)
        assert e["kind"] == "plan" and _input(c).is_file(), c.name
        assert e["description"] and e["exit"] in (0, 1, 2, 3), c.name
        assert set(e) <= {"description", "kind", "env", "exit", "blocking", "never_print", "message"}, c.name
    # every class of the issue is in the corpus, with benign look-alikes that must pass
    names = " ".join(c.name for c in CASES)
    for part in ("gate-net-", "gate-iam-", "gate-shape-", "gate-scan-", "-pass", "-real"):
        assert part in names


@pytest.mark.parametrize("case", BY_EXIT[0] + BY_EXIT[1], ids=lambda c: c.name)
def test_judged_case(case, judged):
    e = _expect(case)
    assert judged.errors == (), judged.errors
    mine = [f for f in judged.findings if Path(f.file).resolve() == _input(case).resolve()]
    blocking = {f.check_id for f in mine if f.blocking}
    got_exit = 1 if blocking else 0
    assert got_exit == e["exit"], (case.name, sorted(blocking), [(f.check_id, f.resource, f.detail) for f in mine])
    assert set(e.get("blocking", [])) <= blocking, (case.name, sorted(blocking))


@pytest.mark.parametrize("case", BY_EXIT[3], ids=lambda c: c.name)
def test_failed_scan_case(case, failed_scans):
    e = _expect(case)
    assert failed_scans.exit_code == 3 and failed_scans.verdict == "ERROR"
    text = " ".join(failed_scans.errors)
    for m in e.get("message", []):
        assert m in text, (case.name, text)


@pytest.mark.parametrize("case", BY_EXIT[2], ids=lambda c: c.name)
def test_refused_case(case, capsys):
    from compliance.cli import check_command

    e = _expect(case)
    code = check_command(None, [_input(case)], _env(e))
    err = capsys.readouterr().err
    assert code == 2, (case.name, err)
    assert str(_input(case)) in err and "Traceback" not in err
    for m in e.get("message", []):
        assert m in err, (case.name, err)


def test_no_output_prints_what_a_case_forbids(judged, failed_scans):
    forbidden = {s for c in CASES for s in _expect(c).get("never_print", [])}
    for fmt in FORMATS:
        out = render([judged, failed_scans], fmt)
        assert not [s for s in forbidden if s in out], fmt
        if fmt in ("text", "json", "markdown"):
            assert "UNKNOWN until apply" in out   # an undecidable check is named as such in the reports
