"""What a rule *means*: normalised network exposure and effective IAM grants, for the project's checks.

Checks judge meaning, not spelling: ``0.0.0.0/1`` + ``128.0.0.0/1`` is the internet, ``10.1.2.3/0`` is too, protocol
``-1`` opens every port, ``NotAction: iam:PassRole`` on ``*`` grants everything else, and AdministratorAccess is admin
whichever partition its ARN names.  Values known only after apply are :data:`compliance.checklib.UNKNOWN`; every
function here answers True / False / None (None = cannot decide: the caller reports UNKNOWN).

References:
- security group rules, protocol ``-1`` = all protocols and ports:
  https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
- policy grammar (Action/NotAction/Resource/NotResource, wildcards):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
- AWS managed policies for job functions (AdministratorAccess, PowerUserAccess):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html
"""
from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Any, Iterable

from compliance.checklib import UNKNOWN, as_list, is_ref, is_unknown

# ------------------------------------------------------------------------------------------------- network
WORLD4 = ipaddress.ip_network("0.0.0.0/0")
WORLD6 = ipaddress.ip_network("::/0")
SENSITIVE_PORTS = {22: "SSH", 3389: "RDP", 3306: "MySQL", 5432: "PostgreSQL", 1433: "SQL Server", 1521: "Oracle",
                   27017: "MongoDB", 6379: "Redis", 11211: "Memcached", 9200: "Elasticsearch", 5439: "Redshift",
                   2049: "NFS", 445: "SMB", 23: "Telnet"}
_PROTO = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6",
          "58": "icmpv6", "-1": "all", "all": "all"}


def norm_protocol(value: Any) -> str | None:
    """``tcp``/``udp``/``icmp``/``icmpv6``/``all`` or the protocol number as a string; None when unknown."""
    if value is None:
        return None
    if is_unknown(value) or is_ref(value):
        return None
    s = str(value).strip().lower()
    return _PROTO.get(s, s)


@lru_cache(maxsize=4096)
def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR denotes, host bits ignored (``10.1.2.3/0`` is the internet); None when not a CIDR."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def cidr_interval(value: str) -> tuple[int, int, int, bool] | None:
    """``(ip version, first address, last address, private)`` of a CIDR string (host bits ignored), or None."""
    n = parse_cidr(value)
    if n is None:
        return None
    return n.version, int(n.network_address), int(n.broadcast_address), n.is_private


_TOP = {4: 2 ** 32 - 1, 6: 2 ** 128 - 1}


def covers_world(nets: Iterable[Any]) -> bool:
    """Whether the union of ``nets`` (networks, or ``cidr_interval`` tuples) is all of IPv4 (0.0.0.0/0) or all of
    IPv6 (::/0)."""
    ivs = sorted((n if isinstance(n, tuple) else (n.version, int(n.network_address), int(n.broadcast_address)))[:3]
                 for n in nets)
    for version in (4, 6):
        reach = -1
        for v, lo, hi in ivs:
            if v != version:
                continue
            if lo > reach + 1:
                break
            reach = max(reach, hi)
        if reach >= _TOP[version]:
            return True
    return False


class RuleEntry:
    """One ingress permission, normalised: protocol, port range, source networks."""
    __slots__ = ("owner", "proto", "lo", "hi", "nets", "unknown", "public")

    def __init__(self, owner: str, proto: str | None, lo: int, hi: int, nets: list, unknown: bool) -> None:
        self.owner, self.proto, self.lo, self.hi, self.nets, self.unknown = owner, proto, lo, hi, nets, unknown
        self.public = any(not n[3] for n in nets)   # admits some address outside the private ranges


def _port(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


def rule_entry(owner: str, rule: dict) -> RuleEntry | None:
    """A security group rule in any of its three shapes (inline ``ingress`` block, ``aws_security_group_rule``,
    ``aws_vpc_security_group_ingress_rule``) as a :class:`RuleEntry`; None when it admits no CIDR at all."""
    raw: list[Any] = as_list(rule.get("cidr_blocks")) + as_list(rule.get("ipv6_cidr_blocks"))
    for k in ("cidr_ipv4", "cidr_ipv6"):
        if rule.get(k) is not None:
            raw.append(rule.get(k))
    unknown = False
    nets = []
    for c in raw:
        if not isinstance(c, str) or is_unknown(c) or is_ref(c):
            unknown = True
            continue
        n = cidr_interval(c)
        if n is None:
            unknown = True  # AWS would reject it at apply; the gate cannot say what it means
        else:
            nets.append(n)
    for k in ("cidr_blocks", "ipv6_cidr_blocks"):
        if is_unknown(rule.get(k)) or is_ref(rule.get(k)):
            unknown = True
    if not nets and not unknown:
        return None
    pv = rule.get("protocol") if rule.get("protocol") is not None else rule.get("ip_protocol")
    proto = norm_protocol(pv)
    if proto is None:
        return RuleEntry(owner, None, 0, 65535, nets, True)
    if proto not in ("tcp", "udp"):
        return RuleEntry(owner, proto, 0, 65535, nets, unknown)  # all ports of that protocol (or ICMP types)
    lo, hi = _port(rule.get("from_port")), _port(rule.get("to_port"))
    if lo is None or hi is None:
        if any(is_unknown(rule.get(k)) or is_ref(rule.get(k)) for k in ("from_port", "to_port")):
            return RuleEntry(owner, proto, 0, 65535, nets, True)
        lo, hi = 0, 65535  # no ports given: judged as every port
    if lo < 0 or hi < 0:
        lo, hi = 0, 65535
    return RuleEntry(owner, proto, min(lo, hi), max(lo, hi), nets, unknown)


class Exposure:
    __slots__ = ("proto", "lo", "hi", "owners", "certain")

    def __init__(self, proto: str, lo: int, hi: int, owners: set[str], certain: bool) -> None:
        self.proto, self.lo, self.hi, self.owners, self.certain = proto, lo, hi, owners, certain

    def describe(self) -> str:
        ports = "all ports" if (self.lo, self.hi) == (0, 65535) else (
            f"port {self.lo}" if self.lo == self.hi else f"ports {self.lo}-{self.hi}")
        named = [f"{name} {p}" for p, name in SENSITIVE_PORTS.items() if self.lo <= p <= self.hi
                 and self.proto in ("tcp", "all protocols")]
        extra = f" (includes {', '.join(named[:4])})" if named else ""
        return f"{self.proto} {ports}{extra} open to the internet"


def exposures(entries: list[RuleEntry]) -> list[Exposure]:
    """Port segments whose union of source networks (over every rule of the group) covers 0.0.0.0/0 or ::/0.
    ``certain`` False: a rule with an unknown source or protocol might complete the coverage."""
    if not any(e.unknown for e in entries) and not covers_world([n for e in entries for n in e.nets]):
        return []   # even every rule of the group together does not reach the whole internet
    protos = {e.proto for e in entries if e.proto not in (None, "all")} | {"tcp"}
    has_all = any(e.proto in (None, "all") for e in entries)
    if has_all:
        protos |= {"udp", "icmp"}
    out: list[Exposure] = []
    for p in ["tcp"] + sorted(protos - {"tcp"}):
        rel = [e for e in entries if e.proto == p or e.proto in (None, "all")]
        if not rel:
            continue
        bounds = sorted({e.lo for e in rel} | {e.hi + 1 for e in rel})
        for a, b in zip(bounds, bounds[1:]):
            cov = [e for e in rel if e.lo <= a and b - 1 <= e.hi]
            if not cov:
                continue
            nets = [n for e in cov for n in e.nets]
            label = "all protocols" if all(e.proto in (None, "all") for e in cov) else p
            if covers_world(nets):
                owners = {e.owner for e in cov if e.public}
                out.append(Exposure(label, a, b - 1, owners, True))
            elif any(e.unknown for e in cov):
                out.append(Exposure(label, a, b - 1, {e.owner for e in cov}, False))
    return out


# ------------------------------------------------------------------------------------------------- IAM
# Actions that let a principal grant itself anything (privilege escalation to admin), after Rhino Security Labs'
# catalogue; an Allow of any of them on every resource is admin-equivalent.
ESCALATION_ACTIONS = (
    "iam:createpolicyversion", "iam:setdefaultpolicyversion", "iam:attachuserpolicy", "iam:attachgrouppolicy",
    "iam:attachrolepolicy", "iam:putuserpolicy", "iam:putgrouppolicy", "iam:putrolepolicy", "iam:addusertogroup",
    "iam:updateassumerolepolicy", "iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile",
)
# AWS managed policies (any partition, any path) that are admin-equivalent: every action, or iam:* (which can grant
# every action).  https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html,
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/IAMFullAccess.html
ADMIN_MANAGED = frozenset({"AdministratorAccess", "IAMFullAccess", "AdministratorAccess-Amplify",
                           "AdministratorAccess-AWSElasticBeanstalk"})
# Every service except IAM/Organizations/Account: broad, but not able to grant itself more.
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/PowerUserAccess.html
BROAD_MANAGED = frozenset({"PowerUserAccess"})
_MANAGED_ARN = re.compile(r":iam::aws:policy/(?:[^:]*/)?([A-Za-z0-9+=,.@_-]+)$")


def managed_policy_name(arn: Any) -> str | None:
    """``AdministratorAccess`` for ``arn:<any partition>:iam::aws:policy/[path/]AdministratorAccess``."""
    if not isinstance(arn, str):
        return None
    m = _MANAGED_ARN.search(arn.strip())
    return m.group(1) if m else None


@lru_cache(maxsize=4096)
def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p.lower()) + r"\Z")


def _matches(pattern: str, action: str) -> bool:
    return _pattern(pattern).match(action) is not None


_WHOLE_REF = re.compile(r"^\$\{[^}]*\}$")


def _strings(v: Any, *, refs_unknown: bool = True) -> tuple[list[str], bool]:
    """Known strings of a string-or-list value, and whether any element is unknown.  ``refs_unknown``: a string
    holding an interpolation is unknown (actions); otherwise only a string that is one whole interpolation is
    (resources: ``arn:${partition}:s3:::b`` still names a bucket)."""
    vals, unknown = [], False
    for x in as_list(v):
        if isinstance(x, str) and (is_ref(x) if refs_unknown else _WHOLE_REF.match(x.strip())):
            unknown = True
        elif isinstance(x, str) and not is_unknown(x):
            vals.append(x)
        else:
            unknown = True
    if is_unknown(v):
        unknown = True
    return vals, unknown


_SAMPLE_ARNS = ("arn:aws:iam::123456789012:role/admin", "arn:aws:s3:::any-bucket/any/key",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0")


@lru_cache(maxsize=4096)
def _broad_resource(pat: str) -> bool:
    """A resource pattern that matches every kind of resource (``*``, ``arn:*``, ``arn:aws:*:*:*:*`` ...): it
    matches ARNs of unrelated services."""
    p = pat.strip()
    return p == "*" or all(_matches(p, arn) for arn in _SAMPLE_ARNS)


def statement_admin(st: dict) -> tuple[bool | None, bool | None]:
    """(admin-equivalent, broad) for one statement: True / False / None (depends on an unknown value).
    ``broad``: Allow with NotAction on every resource that still excludes IAM (PowerUser-class)."""
    eff = st.get("Effect", "Allow")
    if isinstance(eff, str) and not is_unknown(eff) and eff.strip().lower() == "deny":
        return False, False
    eff_unknown = not isinstance(eff, str) or is_unknown(eff)
    # resources
    if "NotResource" in st:
        res: bool | None = True  # everything except what is listed
    else:
        vals, unk = _strings(st.get("Resource"), refs_unknown=False)
        res = True if any(_broad_resource(v) for v in vals) else (None if unk else False)
    if res is False:
        return False, False
    # actions
    broad: bool | None = False
    if "NotAction" in st:
        excluded, unk = _strings(st.get("NotAction"))
        if unk:
            act: bool | None = None
        else:
            act = any(not any(_matches(e, a) for e in excluded) for a in ESCALATION_ACTIONS)
            # excluding IAM still leaves every other service (PowerUser-class)
            broad = not act and not any(_matches(e, "s3:getobject") for e in excluded)
    else:
        vals, unk = _strings(st.get("Action"))
        if any(v.strip() in ("*", "*:*") for v in vals) or any(_matches(v, a) for v in vals for a in ESCALATION_ACTIONS):
            act = True
        else:
            act = None if unk else False
    if act is True and res is True:
        return (None if eff_unknown else True), broad
    if act is False:
        return False, (broad if res is True else None if broad else False)
    return None, broad


def _statements(doc: Any) -> tuple[list[dict], bool]:
    if not isinstance(doc, dict):
        return [], True
    sts = doc.get("Statement")
    if is_unknown(sts):
        return [], True
    out, unknown = [], False
    for st in as_list(sts):
        if isinstance(st, dict):
            out.append(st)
        else:
            unknown = True
    return out, unknown


def parse_document(value: Any) -> tuple[dict | None, bool]:
    """A policy given as a JSON string or an object -> (document, undecidable)."""
    if isinstance(value, dict):
        return value, False
    if isinstance(value, str):
        if is_unknown(value):
            return None, True
        try:
            doc = json.loads(value)
        except ValueError:
            return None, True  # an interpolation such as ${jsonencode(...)}: known only at plan/apply
        return (doc, False) if isinstance(doc, dict) else (None, True)
    if value is None:
        return None, False
    return None, True


def judge_document(doc: dict) -> tuple[bool | None, bool | None, str | None]:
    """(admin, broad, detail) over every statement of a policy document."""
    sts, unknown = _statements(doc)
    admin: bool | None = False
    broad: bool | None = False
    detail = None
    for i, st in enumerate(sts):
        a, b = statement_admin(st)
        if a is True:
            sid = st.get("Sid")
            return True, broad, f"statement {sid or i} grants every action (or IAM privilege escalation) on every resource"
        if a is None:
            admin = None
            detail = detail or f"statement {st.get('Sid') or i} depends on values known only after apply"
        if b is True:
            broad = True
        elif b is None and broad is False:
            broad = None
    if unknown and admin is False:
        admin = None
        detail = detail or "the policy's statements are known only after apply"
    return admin, broad, detail


# ------------------------------------------------------------------------------------------------- configuration
def expression_value(expr: Any) -> Any:
    """A plan ``configuration`` expression -> its constant value, or UNKNOWN where it references anything.
    Nested blocks (lists of attribute maps) keep their shape, so the constant parts of a block stay judgeable."""
    if isinstance(expr, list):
        return [expression_value(e) for e in expr]
    if isinstance(expr, dict):
        if "constant_value" in expr:
            return expr["constant_value"]
        if "references" in expr or not expr:
            return UNKNOWN
        return {k: expression_value(v) for k, v in expr.items()}
    return UNKNOWN


def policy_document_from_data(body: dict) -> tuple[dict | None, bool]:
    """An ``aws_iam_policy_document`` data source body (static JSON, or configuration values with UNKNOWN for
    references) as an IAM policy document; the flag says a source/override document is undecidable."""
    statements: list[Any] = []
    undecidable = False
    for key in ("source_policy_documents", "override_policy_documents", "source_json", "override_json"):
        v = body.get(key)
        if v is None:
            continue
        for d in as_list(v):
            doc, und = parse_document(d)
            undecidable = undecidable or und
            if doc is not None:
                sts, unk = _statements(doc)
                statements.extend(sts)
                undecidable = undecidable or unk
    sts_raw = body.get("statement")
    if is_unknown(sts_raw) or is_ref(sts_raw):
        undecidable = True
        sts_raw = None
    mapping = {"effect": "Effect", "actions": "Action", "not_actions": "NotAction", "resources": "Resource",
               "not_resources": "NotResource", "sid": "Sid"}
    for st in as_list(sts_raw):
        if not isinstance(st, dict):
            undecidable = True
            continue
        out: dict[str, Any] = {"Effect": "Allow"}
        for src, dst in mapping.items():
            v = st.get(src)
            if v is None or v == []:
                continue
            out[dst] = UNKNOWN if is_ref(v) else v
        statements.append(out)
    return {"Statement": statements}, undecidable
