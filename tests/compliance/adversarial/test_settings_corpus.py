"""The settings part of the adversarial corpus (``cases/settings-*``): each case is a settings file with the verdict
``synth`` must give it (/work/notes/corpus.md: ``kind = "settings"``).

Every case is judged in-process by the loader the CLI itself calls (``pipeline.synth.load_settings``), whose
problems are the CLI's message lines; one subprocess per exit code proves the CLI prints them with that exit code.
The cases that must synthesize (exit 0: expression syntax in fields that allow it) are synthesized together, once,
and their JSON must hold the payloads only as Terraform literals.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from envs import EnvironmentSettings, SettingsError
from pipeline.synth import load_settings

ROOT = Path(__file__).resolve().parents[3]
CASES_DIR = Path(__file__).resolve().parent / "cases"
CASES = sorted(p for p in CASES_DIR.glob("settings-*") if p.is_dir())


def expectation(case: Path) -> dict[str, Any]:
    expect = tomllib.loads((case / "expect.toml").read_text())
    assert expect["kind"] == "settings" and (case / "settings.toml").is_file()
    return expect


def stage(case: Path, where: Path) -> Path:
    """The case's settings file as ``<where>/<env>.toml``; returns the settings folder."""
    folder = where / case.name
    folder.mkdir(parents=True)
    shutil.copyfile(case / "settings.toml", folder / f"{expectation(case)['env']}.toml")
    return folder


def verdict(case: Path, where: Path) -> tuple[int, list[str], EnvironmentSettings | None]:
    """(exit code, message lines, settings) as ``synth --env`` gives them, without a process."""
    env = expectation(case)["env"]
    try:
        return 0, [], load_settings([env], stage(case, where))[env]
    except SettingsError as exc:
        return 2, [str(p) for p in exc.problems], None


def test_corpus_is_there() -> None:
    assert len(CASES) >= 15
    kinds = {c.name.split("-")[1] for c in CASES}
    assert {"inject", "tag", "vpc", "unknown", "bool", "undecodable"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_settings_case_verdict(case: Path, tmp_path: Path) -> None:
    expect = expectation(case)
    code, lines, _ = verdict(case, tmp_path)
    assert code == expect["exit"], (expect["description"], lines)
    text = "\n".join(lines)
    for phrase in expect.get("message", ()):
        assert phrase in text, (phrase, text)
    if code == 2:  # the usual message: the file, then the field, then the fix
        assert all(line.startswith(str(tmp_path / case.name / f"{expect['env']}.toml") + ": ") for line in lines)
        assert all(line.count(": ") >= 2 for line in lines), text


@pytest.mark.parametrize("name", ["settings-inject-tags-owner", "settings-undecodable-bytes"])
def test_cli_prints_the_same_verdict(name: str, tmp_path: Path) -> None:
    case = CASES_DIR / name
    code, lines, _ = verdict(case, tmp_path / "in-process")
    folder = stage(case, tmp_path / "cli")
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--envs-dir", str(folder), "synth", "--env",
                           expectation(case)["env"], "--outdir", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == code == expectation(case)["exit"]
    assert "Traceback" not in proc.stderr
    for line in lines:
        assert line.replace(str(tmp_path / "in-process"), str(tmp_path / "cli")) in proc.stderr
    assert not (tmp_path / "out").exists(), "refused settings must synthesize nothing"


def _interpolations(text: str) -> list[int]:
    """Positions where Terraform's template scanner starts ``${`` or ``%{`` (``$${``/``%%{`` are literals)."""
    found, i = [], 0
    while i < len(text) - 1:
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            found.append(i)
            i += 2
        else:
            i += 1
    return found


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_accepted_injections_synthesize_as_literals(tmp_path: Path) -> None:
    from envs.target import AWS
    from pipeline.synth import synthesize

    accepted: dict[str, EnvironmentSettings] = {}
    for index, case in enumerate(c for c in CASES if expectation(c)["exit"] == 0):
        code, lines, settings = verdict(case, tmp_path / "envs")
        assert code == 0 and settings is not None, lines
        accepted[f"case{index}"] = settings.model_copy(update={"name": f"case{index}"})  # one stack id per case
    assert len(accepted) >= 3
    stacks = synthesize(accepted, AWS, tmp_path / "out", commit="corpus000000").stacks
    for name, path in stacks.items():
        doc = json.loads(path.read_text())
        leaks = [s for s in _strings(doc) for i in _interpolations(s)
                 if s.startswith(("${file(", "${k}", "%{"), i)]
        assert not leaks, (name, leaks[:3])
        text = path.read_text()
        assert '$${file(' in text or "%%{ for k" in text, f"{name}: the payload did not reach the JSON as a literal"
