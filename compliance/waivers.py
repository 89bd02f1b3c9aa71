"""The reviewed waiver file (compliance/waivers.toml by default).

Each ``[[waiver]]`` names ``check``, ``resource`` (Terraform address, shell glob allowed), ``reason``, ``owner``,
``expires`` (YYYY-MM-DD) and optionally ``environments``.  A malformed entry or an expired waiver becomes a
blocking ``PLAT_WAIVER_INVALID`` finding whose message names the file, the entry and the field; it never waives.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WAIVERS = Path(__file__).resolve().parent / "waivers.toml"
REQUIRED = ("check", "resource", "reason", "owner", "expires")


@dataclass(frozen=True)
class Waiver:
    check_id: str
    resource: str
    reason: str
    owner: str
    expires: dt.date
    environments: tuple[str, ...] | None
    source: str          # "file#index"

    def matches(self, check_id: str, address: str, environment: str | None) -> bool:
        if self.check_id != check_id:
            return False
        if self.environments is not None and (environment or "prod") not in self.environments:
            return False
        return address == self.resource or fnmatch.fnmatchcase(address, self.resource)


@dataclass(frozen=True)
class WaiverProblem:
    source: str
    message: str


def load_waivers(path: Path | None, today: dt.date | None = None) -> tuple[list[Waiver], list[WaiverProblem]]:
    """Valid, unexpired waivers and the problems (malformed/expired entries, unreadable file)."""
    path = Path(path) if path is not None else DEFAULT_WAIVERS
    today = today or dt.date.today()
    if not path.exists():
        if path == DEFAULT_WAIVERS:
            return [], []
        return [], [WaiverProblem(str(path), f"{path}: waiver file not found")]
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        return [], [WaiverProblem(str(path), f"{path}: not valid TOML ({exc}); no waiver in it applies")]
    except OSError as exc:
        return [], [WaiverProblem(str(path), f"{path}: cannot read ({exc})")]
    entries = doc.get("waiver", [])
    unknown_top = set(doc) - {"waiver"}
    problems: list[WaiverProblem] = []
    if unknown_top:
        problems.append(WaiverProblem(str(path), f"{path}: unknown top-level key(s) {sorted(unknown_top)}; "
                                                 f"waivers are [[waiver]] tables"))
    if not isinstance(entries, list):
        return [], problems + [WaiverProblem(str(path), f"{path}: `waiver` must be an array of tables ([[waiver]])")]
    waivers: list[Waiver] = []
    for i, e in enumerate(entries, start=1):
        src = f"{path}#waiver[{i}]"
        label = f"{path}: waiver #{i}" + (f" ({e.get('check')} on {e.get('resource')})" if isinstance(e, dict) else "")
        if not isinstance(e, dict):
            problems.append(WaiverProblem(src, f"{label}: must be a table"))
            continue
        bad = [f for f in REQUIRED if f not in e]
        if bad:
            problems.append(WaiverProblem(src, f"{label}: missing field(s) {', '.join(bad)}"))
            continue
        for f in ("check", "resource", "reason", "owner"):
            if not isinstance(e[f], str) or not e[f].strip():
                problems.append(WaiverProblem(src, f"{label}: field `{f}` must be a non-empty string"))
                break
        else:
            exp = e["expires"]
            if isinstance(exp, dt.datetime):
                exp = exp.date()
            if isinstance(exp, str):
                try:
                    exp = dt.date.fromisoformat(exp.strip())
                except ValueError:
                    problems.append(WaiverProblem(src, f"{label}: field `expires` must be a date YYYY-MM-DD, got {exp!r}"))
                    continue
            if not isinstance(exp, dt.date):
                problems.append(WaiverProblem(src, f"{label}: field `expires` must be a date YYYY-MM-DD"))
                continue
            envs = e.get("environments")
            if envs is not None and (not isinstance(envs, list) or not all(isinstance(x, str) for x in envs)):
                problems.append(WaiverProblem(src, f"{label}: field `environments` must be a list of names"))
                continue
            extra = set(e) - set(REQUIRED) - {"environments"}
            if extra:
                problems.append(WaiverProblem(src, f"{label}: unknown field(s) {sorted(extra)}"))
                continue
            if exp <= today:
                problems.append(WaiverProblem(src, f"{label}: field `expires` {exp.isoformat()} has passed; renew it "
                                                   f"after review or fix the finding"))
                continue
            waivers.append(Waiver(e["check"].strip(), e["resource"].strip(), e["reason"].strip(), e["owner"].strip(),
                                  exp, tuple(envs) if envs is not None else None, src))
    return waivers, problems
