"""The reviewed waiver file (compliance/waivers.toml by default).

Each ``[[waiver]]`` names ``check``, ``resource``, ``reason``, ``owner``, ``expires`` (YYYY-MM-DD) and optionally
``environments``.  Rules (docs/compliance.md, "Waivers"):

- ``resource`` is a Terraform address; a glob (``*``, ``?``, ``[``) is allowed only below a prefix that names a
  module (``module.logs.*``, ``module.logs.aws_s3_bucket.*``) or a resource type and at least
  :data:`MIN_NAME_PREFIX` characters of a name (``aws_s3_bucket.app_lb_logs_*``); ``*`` or ``aws_s3_bucket.*``
  (a whole type) is refused;
- ``reason`` of substance: at least :data:`MIN_REASON` characters, several words, not a placeholder (TODO, TBD, n/a,
  temp, test, ...);
- ``owner``: an email address or a team-like handle (``platform-team``, ``@org/team``), not ``me``/``admin``/``tbd``;
- ``expires`` after today and at most the window the policy sets for the check's severity
  (``[waiver_max_days]`` in compliance/policy/severities.toml, e.g. CRITICAL 30, HIGH 90, MEDIUM 180, LOW 365 days);
- a CRITICAL check is never waived in prod: such a waiver must list ``environments`` without ``prod`` (a waiver
  without ``environments`` applies everywhere, prod included).

A malformed or expired entry becomes a blocking ``PLAT_WAIVER_INVALID`` finding whose message names the file, the
entry and every field at fault; it never waives.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_WAIVERS = Path(__file__).resolve().parent / "waivers.toml"
REQUIRED = ("check", "resource", "reason", "owner", "expires")
MIN_REASON = 20
MIN_NAME_PREFIX = 3
PROTECTED_FROM_CRITICAL_WAIVERS = "prod"
#: Used when the severity file has no ``[waiver_max_days]`` table.
DEFAULT_MAX_DAYS = {"CRITICAL": 30, "HIGH": 90, "MEDIUM": 180, "LOW": 365, "INFO": 365}

_GLOB = re.compile(r"[*?\[]")
# what must precede the first glob character: module.NAME. (possibly nested, with an index) or TYPE.NAME_PREFIX
_GLOB_PREFIX = re.compile(r"^(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.)+"
                          r"|^(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.)*(?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\."
                          rf"[A-Za-z0-9_-]{{{MIN_NAME_PREFIX},}}")
_ADDRESS = re.compile(r"^(?:module\.[A-Za-z0-9_*?-]+(?:\[[^\]]*\])?\.)*(?:data\.)?[a-z][a-z0-9]*_[a-z0-9_*?]+\."
                      r"[A-Za-z0-9_*?\[\]-]+(?:\[[^\]]*\])?$|^module\.[A-Za-z0-9_-]+.*\*$|^provider\.[a-z0-9_.]+$")
_PLACEHOLDER = re.compile(r"^\W*(todo|tbd|tba|fixme|xxx+|n/?a|none|nothing|null|placeholder|temp(orary)?|test(ing)?|"
                          r"wip|later|fix later|see (the )?ticket|because|reason|no reason|ok|fine|whatever|"
                          r"lorem ipsum)\b|lorem ipsum|^(.)\3*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_TEAM = re.compile(r"^(@[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+|[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+)$")
_NOT_AN_OWNER = {"me", "myself", "admin", "administrator", "root", "nobody", "none", "unknown", "tbd", "todo", "n/a",
                 "na", "someone", "owner", "team", "test", "user"}


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


def resource_problem(resource: str) -> str | None:
    """Why ``resource`` is not an acceptable waiver target, or None."""
    if any(c.isspace() for c in resource):
        return f"`resource` {resource!r} contains whitespace; give a Terraform address"
    m = _GLOB.search(resource)
    if m is None:
        return None
    prefix = resource[:m.start()]
    if not _GLOB_PREFIX.match(prefix):
        return (f"`resource` {resource!r} is too wide: a glob is allowed only below a module "
                f"(module.NAME.*) or after a resource type and at least {MIN_NAME_PREFIX} characters of a name "
                f"(aws_s3_bucket.app_logs_*); name the resources")
    return None


def reason_problem(reason: str) -> str | None:
    r = reason.strip()
    words = re.findall(r"[A-Za-z]{2,}", r)
    if len(r) < MIN_REASON:
        return f"`reason` must say why the finding is accepted (at least {MIN_REASON} characters, got {len(r)})"
    if _PLACEHOLDER.search(r) or len(words) < 3 or len(set(r.lower()) - set(" .,;:-_")) < 6:
        return f"`reason` {r!r} is a placeholder; say why the finding is accepted and what limits the risk"
    return None


def owner_problem(owner: str) -> str | None:
    o = owner.strip()
    if o.lower() in _NOT_AN_OWNER or not (_EMAIL.match(o) or _TEAM.match(o)):
        return (f"`owner` {o!r} is not an email address or a team handle (platform-team, @org/team); name who "
                f"answers for the waiver")
    return None


def _max_days(severities: Any) -> dict[str, int]:
    days = dict(DEFAULT_MAX_DAYS)
    days.update(getattr(severities, "waiver_max_days", None) or {})
    return days


def load_waivers(path: Path | None, today: dt.date | None = None,
                 severities: Any = None) -> tuple[list[Waiver], list[WaiverProblem]]:
    """Valid, unexpired waivers and the problems (malformed/expired/too wide entries, unreadable file).

    ``severities`` (:class:`compliance.policy.Severities`) gives each check's severity and the expiry window per
    severity; default: compliance/policy/severities.toml."""
    if severities is None:
        from compliance.policy import load_severities

        severities = load_severities()
    max_days = _max_days(severities)
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
        faults: list[str] = []
        for f in ("check", "resource", "reason", "owner"):
            if not isinstance(e[f], str) or not e[f].strip():
                faults.append(f"field `{f}` must be a non-empty string")
        extra = set(e) - set(REQUIRED) - {"environments"}
        if extra:
            faults.append(f"unknown field(s) {sorted(extra)}")
        envs = e.get("environments")
        if envs is not None and (not isinstance(envs, list) or not envs or not all(isinstance(x, str) and x
                                                                                   for x in envs)):
            faults.append("field `environments` must be a non-empty list of environment names")
            envs = None
        exp = e["expires"]
        if isinstance(exp, dt.datetime):
            exp = exp.date()
        if isinstance(exp, str):
            try:
                exp = dt.date.fromisoformat(exp.strip())
            except ValueError:
                faults.append(f"field `expires` must be a date YYYY-MM-DD, got {exp!r}")
                exp = None
        elif not isinstance(exp, dt.date):
            faults.append("field `expires` must be a date YYYY-MM-DD")
            exp = None
        check = e["check"].strip() if isinstance(e["check"], str) else ""
        severity = severities.of(check) if check else "INFO"
        if isinstance(e["resource"], str) and e["resource"].strip():
            p = resource_problem(e["resource"].strip())
            if p:
                faults.append(f"field {p}")
        if isinstance(e["reason"], str) and e["reason"].strip():
            p = reason_problem(e["reason"])
            if p:
                faults.append(f"field {p}")
        if isinstance(e["owner"], str) and e["owner"].strip():
            p = owner_problem(e["owner"])
            if p:
                faults.append(f"field {p}")
        if isinstance(exp, dt.date):
            limit = max_days.get(severity, max_days["INFO"])
            if exp <= today:
                faults.append(f"field `expires` {exp.isoformat()} has passed; renew it after review or fix the "
                              f"finding")
            elif (exp - today).days > limit:
                faults.append(f"field `expires` {exp.isoformat()} is {(exp - today).days} days away; a waiver of a "
                              f"{severity} check may last at most {limit} days (until "
                              f"{(today + dt.timedelta(days=limit)).isoformat()}, [waiver_max_days] in "
                              f"{getattr(severities, 'source', 'severities.toml')})")
        if severity == "CRITICAL" and (envs is None or PROTECTED_FROM_CRITICAL_WAIVERS in envs) and not any(
                "environments" in f for f in faults):
            faults.append(f"{check} is CRITICAL and cannot be waived in {PROTECTED_FROM_CRITICAL_WAIVERS}: fix the "
                          f"finding there, or set field `environments` to the other environments only")
        if faults:
            problems.append(WaiverProblem(src, f"{label}: " + "; ".join(faults)))
            continue
        waivers.append(Waiver(check, e["resource"].strip(), e["reason"].strip(), e["owner"].strip(),
                              exp, tuple(envs) if envs is not None else None, src))
    return waivers, problems
