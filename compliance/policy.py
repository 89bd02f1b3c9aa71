"""Severities the project owns and the per-environment policy that turns a severity into block / warn / info."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent / "policy"
LEVELS = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
RANK = {lvl: i for i, lvl in enumerate(LEVELS)}
STRICTEST_ENV = "prod"


class PolicyError(Exception):
    """A policy/severity file is missing or malformed, or the environment has no policy (CLI exit 2)."""


def _level(value: object, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in RANK:
        raise PolicyError(f"{where}: severity must be one of {', '.join(LEVELS)}, got {value!r}")
    return value.upper()


@dataclass(frozen=True)
class Severities:
    levels: dict[str, str]
    stages: dict[str, frozenset[str]]
    unlisted: str
    source: str
    #: severity -> how many days from today a waiver of a check of that severity may last at most
    waiver_max_days: dict[str, int] = field(default_factory=dict)

    def of(self, check_id: str) -> str:
        return self.levels.get(check_id, self.unlisted)

    def listed(self, check_id: str) -> bool:
        return check_id in self.levels

    def applies(self, check_id: str, stage: str) -> bool:
        st = self.stages.get(check_id)
        return st is None or stage in st


def load_severities(path: Path | None = None) -> Severities:
    path = Path(path or POLICY_DIR / "severities.toml")
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: cannot load severities ({exc})") from None
    levels: dict[str, str] = {}
    stages: dict[str, frozenset[str]] = {}
    for section in ("project", "checkov"):
        for cid, val in (doc.get(section) or {}).items():
            where = f"{path} [{section}] {cid}"
            if isinstance(val, dict):
                levels[cid] = _level(val.get("severity"), where)
                st = val.get("stages")
                if st is not None:
                    if not isinstance(st, list) or not set(st) <= {"static", "plan"}:
                        raise PolicyError(f"{where}: stages must be a list of 'static'/'plan'")
                    stages[cid] = frozenset(st)
            else:
                levels[cid] = _level(val, where)
    max_days: dict[str, int] = {}
    for lvl, days in (doc.get("waiver_max_days") or {}).items():
        where = f"{path} [waiver_max_days] {lvl}"
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise PolicyError(f"{where}: must be a number of days from 1 to 366, got {days!r}")
        max_days[_level(lvl, where)] = days
    return Severities(levels, stages, _level(doc.get("unlisted", "INFO"), f"{path} unlisted"), str(path), max_days)


@dataclass(frozen=True)
class EnvPolicy:
    environment: str
    block_at: str
    warn_at: str
    source: str
    # A protected environment (staging, prod, and no environment): a check that cannot decide (UNKNOWN: the value
    # is only known after apply) blocks like a failure, and a scan that ran fewer scanners than the gate names
    # cannot pass (exit 3). Policy key ``protected``, default true (secure by default); dev sets it false.
    protected: bool = True

    def action(self, severity: str) -> str:
        r = RANK[severity]
        if r >= RANK[self.block_at]:
            return "block"
        if r >= RANK[self.warn_at]:
            return "warn"
        return "info"


def load_policy(environment: str | None, policy_dir: Path | None = None) -> EnvPolicy:
    env = environment or STRICTEST_ENV
    pdir = Path(policy_dir or POLICY_DIR)
    path = pdir / f"{env}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in pdir.glob("*.toml") if p.stem != "severities")
        raise PolicyError(f"no compliance policy for environment {env!r}: expected {path} "
                          f"(known environments: {', '.join(known)})")
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: cannot load policy ({exc})") from None
    protected = doc.get("protected", True)
    if not isinstance(protected, bool):
        raise PolicyError(f"{path}: protected must be true or false, got {protected!r}")
    return EnvPolicy(env, _level(doc.get("block_at"), f"{path} block_at"),
                     _level(doc.get("warn_at", "INFO"), f"{path} warn_at"), str(path), protected)


ORGANISATION_FILE = "organisation.toml"
# AWS tag keys: 1-128 characters, letters, digits, spaces and _ . : / = + - @, no "aws:" prefix
# (https://docs.aws.amazon.com/personalize/latest/dg/personalize-managing-tags.html, "Guidelines and requirements").
_TAG_KEY = re.compile(r"^(?![aA][wW][sS]:)[\w .:/=+@-]{1,128}$")


@dataclass(frozen=True)
class Organisation:
    """The organisation's conventions from ``<policy dir>/organisation.toml`` (``[tags] required``)."""

    required_tags: tuple[str, ...]
    source: str


def load_organisation(policy_dir: Path | None = None) -> Organisation:
    """The conventions of ``policy_dir`` (default: the project's); a folder without the file gets the project's."""
    path = Path(policy_dir or POLICY_DIR) / ORGANISATION_FILE
    if not path.is_file():
        path = POLICY_DIR / ORGANISATION_FILE
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: cannot load the organisation's conventions ({exc})") from None
    tags = (doc.get("tags") or {}).get("required", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and _TAG_KEY.match(t) for t in tags):
        raise PolicyError(f"{path}: [tags] required must be a list of tag keys (1-128 letters, digits, spaces and "
                          f"_ . : / = + - @), got {tags!r}")
    return Organisation(tuple(tags), str(path))
