"""Shared base and helpers for the project's Checkov checks (compliance/checks/).

Every project check is a Checkov ``BaseResourceCheck`` subclass, so ``checkov --external-checks-dir
compliance/checks`` (with the repository root on ``PYTHONPATH``) runs them unchanged.  The gate does not
start a second Checkov for them: it calls :meth:`PlatformCheck.evaluate` in-process on the plain resource
body (Terraform JSON body, or a plan's ``after`` with unknowns marked), which avoids re-wrapping every value
into Checkov's list shape.

Value shapes the helpers accept (both occur):
- plain Terraform JSON / plan JSON: ``{"multi_az": true, "ingress": [{...}], "tags": {...}}``
- Checkov's wrapped shape (``scan_resource_conf``): ``{"multi_az": [true], "ingress": [{...}], ...}``; a
  one-element list of simple values becomes ``[[v]]`` or ``[v]``.  :func:`unwrap` turns it into the plain shape
  (best effort: single-element lists collapse, so list-valued attributes are read through :func:`as_list`).

Unknown-until-apply values are the string :data:`UNKNOWN` (the same marker Checkov's plan parser uses), and a
check returns ``CheckResult.UNKNOWN`` when its verdict depends on one.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

UNKNOWN = "true_after_unknown"  # identical to checkov.common.util.consts.TRUE_AFTER_UNKNOWN

PASSED = CheckResult.PASSED
FAILED = CheckResult.FAILED
UNKNOWN_RESULT = CheckResult.UNKNOWN

__all__ = [
    "PlatformCheck", "CheckContext", "CheckCategories", "CheckResult", "PASSED", "FAILED", "UNKNOWN_RESULT",
    "UNKNOWN", "unwrap", "as_list", "first", "is_unknown", "is_ref", "truthy", "is_set", "to_int",
]

_REF_RE = re.compile(r"\$\{")


class CheckContext:
    """Cross-resource facts the gate computes once per scan (``None`` when Checkov itself runs the check).

    ``address``/``rtype``: the resource's Terraform address and type.  ``ref(attr, rtype)``: addresses of
    resources of ``rtype`` that attribute ``attr`` of this resource references.  ``referrers(rtype)``: addresses
    of resources of ``rtype`` whose configuration references this resource.  ``public_lb_security_groups``:
    security groups attached to internet-facing load balancers.  ``tags_all``: effective tags for synthesized
    JSON (provider default tags merged with the resource's tags); ``None`` means read the body's ``tags_all``.
    ``expressions``: the plan's configuration-stage expressions of this resource (``{}`` for Terraform JSON), to
    judge the constant parts of a value the plan only knows after apply.  ``data_source(address)``: the body of a
    data source (Terraform JSON) or its configuration values (plan; references are UNKNOWN).  ``group_rules()``:
    every ingress rule of this resource's security group, inline and standalone, as ``(owner address, rule)``.
    ``world``: the whole scanned input (``engine.LoadedInput``: every resource, the plan documents), read through
    :mod:`compliance.awsrules` by the ``PLAT_AWS_*`` checks; ``None`` when Checkov itself runs the check.
    ``resource``: this resource's ``engine.Resource`` (its file, raw body, references).
    """

    __slots__ = ("address", "rtype", "stage", "tags_all", "_refs", "_referrers", "public_lb_security_groups",
                 "expressions", "_data", "_group", "world", "resource")

    def __init__(self, address: str, rtype: str, *, stage: str = "static", tags_all: Any = None,
                 refs: Mapping[str, list[str]] | None = None, referrers: Iterable[str] | None = None,
                 public_lb_security_groups: frozenset[str] | set[str] = frozenset(),
                 expressions: Mapping[str, Any] | None = None, data_sources: Mapping[str, Any] | None = None,
                 group_rules: Callable[[], list[tuple[str, dict]]] | None = None, world: Any = None,
                 resource: Any = None) -> None:
        self.address = address
        self.rtype = rtype
        self.stage = stage
        self.tags_all = tags_all
        self._refs = refs or {}
        self._referrers = tuple(referrers or ())
        self.public_lb_security_groups = public_lb_security_groups
        self.expressions = expressions or {}
        self._data = data_sources or {}
        self._group = group_rules
        self.world = world  # the whole scanned input (engine.LoadedInput), for cross-resource AWS rules
        self.resource = resource  # this resource's engine.Resource (its file, raw body, references)

    def data_source(self, address: str) -> Any:
        return self._data.get(address)

    def group_rules(self) -> list[tuple[str, dict]] | None:
        return self._group() if self._group is not None else None

    def ref(self, attr: str, rtype: str | None = None) -> list[str]:
        out = self._refs.get(attr, [])
        if rtype is None:
            return list(out)
        return [a for a in out if address_type(a) == rtype]

    def referrers(self, rtype: str) -> list[str]:
        return [a for a in self._referrers if address_type(a) == rtype]


_ADDR_RE = re.compile(r'(?:^|\.)((?:aws|[a-z0-9]+)_[a-z0-9_]+)\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?$')


def address_type(address: str) -> str:
    """Resource type of a Terraform address (``module.a["x"].aws_s3_bucket.b[0]`` -> ``aws_s3_bucket``)."""
    rest = address
    while rest.startswith("module."):
        # skip module.NAME and an optional [key]
        rest = rest[len("module."):]
        i = 0
        while i < len(rest) and rest[i] not in ".[":
            i += 1
        if i < len(rest) and rest[i] == "[":
            depth_end = _skip_index(rest, i)
            i = depth_end
        rest = rest[i + 1:]
    if rest.startswith("data."):
        rest = rest[5:]
    return rest.split(".", 1)[0]


def module_prefix(address: str) -> str:
    """``module.a.module.b.`` for ``module.a["k"].module.b.aws_x.y[0]`` (the module path, without instance keys)."""
    out = ""
    rest = address
    while rest.startswith("module."):
        rest = rest[len("module."):]
        i = 0
        while i < len(rest) and rest[i] not in ".[":
            i += 1
        name = rest[:i]
        if i < len(rest) and rest[i] == "[":
            i = _skip_index(rest, i)
        out += f"module.{name}."
        rest = rest[i + 1:]
    return out


def _skip_index(s: str, i: int) -> int:
    """Index just after the ``[...]`` starting at ``s[i]``, honouring quoted keys."""
    i += 1
    in_str = False
    while i < len(s):
        c = s[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "]":
            return i + 1
        i += 1
    return i


class PlatformCheck(BaseResourceCheck):
    """Base for project checks.  Subclasses set ``ID``, ``NAME``, ``RESOURCES``, optional ``CATEGORY`` and
    ``GUIDELINE``, and implement :meth:`evaluate` on the plain body."""

    ID: str = ""
    NAME: str = ""
    RESOURCES: tuple[str, ...] = ()
    CATEGORY: CheckCategories = CheckCategories.GENERAL_SECURITY
    GUIDELINE: str | None = None

    def __init__(self) -> None:
        super().__init__(name=self.NAME, id=self.ID, categories=[self.CATEGORY],
                         supported_resources=list(self.RESOURCES), guideline=self.GUIDELINE)

    # Checkov entry point: wrapped shape, no cross-resource context.
    def scan_resource_conf(self, conf: dict[str, list[Any]]) -> CheckResult:
        self.evaluated_keys = []
        self.details = []
        return self.evaluate(unwrap(conf), None)

    def evaluate(self, attrs: Mapping[str, Any], ctx: CheckContext | None) -> CheckResult:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------------------------- helpers
def unwrap(value: Any) -> Any:
    """Checkov's wrapped conf -> plain shape (single-element lists collapse)."""
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items() if k not in ("__start_line__", "__end_line__",
                                                                      "start_line", "end_line")}
    if isinstance(value, list):
        if len(value) == 1:
            return unwrap(value[0])
        return [unwrap(v) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            # Checkov sometimes nests simple lists one level deeper
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(v)
        return out
    return [value]


def first(value: Any) -> Any:
    """The single nested block (``[{...}]`` or ``{...}``), or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN if isinstance(value, str) else False


def is_ref(value: Any) -> bool:
    """A Terraform JSON interpolation (``${...}``): set, but its value is only known at plan/apply."""
    return isinstance(value, str) and _REF_RE.search(value) is not None


def truthy(value: Any) -> bool | None:
    """True/False for booleans and their string forms; None for unknown/reference/absent."""
    value = first(value) if isinstance(value, list) else value
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if is_unknown(value) or is_ref(value):
            return None
        low = value.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def is_set(value: Any) -> bool | None:
    """True when a non-empty value, a reference or a value unknown until apply is present; False when
    absent/empty.  (The gate turns provider-computed attributes the configuration does not set into ``None``
    first, so an unknown value here is a configured one, e.g. the ARN of a key created in the same plan.)"""
    value = first(value) if isinstance(value, list) else value
    if value is None or value == "":
        return False
    return True


def to_int(value: Any) -> int | None:
    value = first(value) if isinstance(value, list) else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def combine(results: Iterable[CheckResult]) -> CheckResult:
    """FAILED if any failed, else UNKNOWN if any unknown, else PASSED."""
    seen_unknown = False
    for r in results:
        if r == FAILED:
            return FAILED
        if r == UNKNOWN_RESULT:
            seen_unknown = True
    return UNKNOWN_RESULT if seen_unknown else PASSED


def require(cond: bool | None) -> CheckResult:
    if cond is None:
        return UNKNOWN_RESULT
    return PASSED if cond else FAILED


Predicate = Callable[[Any], bool]
