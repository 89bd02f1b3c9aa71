"""Input loading and the in-process evaluator for the project's checks.

Reads Terraform JSON (``*.tf.json``, e.g. CDKTF's ``cdk.tf.json``) and plan JSON (``terraform show -json``) into
:class:`Resource` records with their Terraform address, then runs every project check whose supported types
match, handing it the plain body (see :mod:`compliance.checklib`) and a :class:`CheckContext`.

No import of cdktf or of any other project package: this gates any Terraform.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from compliance.checklib import UNKNOWN, CheckContext, PlatformCheck, address_type, is_ref, is_unknown
from compliance.planshape import MAX_DEPTH, PlanShapeError, validate_plan
from compliance.secrets import is_secret_name
from compliance.taggable_types import TAGGABLE_TYPES

_INTERP_REF = re.compile(r"\$\{([^}]*)\}")
_REF_TOKEN = re.compile(r"\b((?:module\.[A-Za-z0-9_-]+\.)*)((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
_INDEX = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]')


class InputError(Exception):
    """An input file is unreadable or not the expected kind of JSON (CLI exit 2)."""


@dataclass(slots=True)
class Resource:
    address: str
    rtype: str
    file: str
    attrs: dict
    tags_all: Any = None          # effective tags for synthesized JSON; None for plans (tags_all is in attrs)
    refs: dict = field(default_factory=dict)   # attr -> [addresses referenced]
    actions: tuple[str, ...] = ()
    expressions: dict = field(default_factory=dict)   # plan: configuration-stage expressions of the resource


@dataclass(slots=True)
class LoadedInput:
    resources: list[Resource]
    files: list[str]
    referrers: dict[str, list[str]]
    public_lb_sgs: frozenset[str]
    stage: str
    plans: list[tuple[str, dict]] = field(default_factory=list)
    data_sources: dict[str, dict[str, Any]] = field(default_factory=dict)   # file -> data.TYPE.NAME -> body/values
    sg_rules: dict[Any, list[tuple[str, dict]]] = field(default_factory=dict)   # group key -> ingress rules
    sg_key: dict[str, Any] = field(default_factory=dict)              # resource address -> its group key
    cache: dict = field(default_factory=dict)   # per-input indexes of cross-resource readers (compliance.awsrules)


# --------------------------------------------------------------------------------------------- files
def expand_paths(paths: Sequence[Path], *, plan: bool) -> list[Path]:
    """Files named directly, plus ``*.tf.json`` (static) / ``*.json`` (plan) found under folders."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            pattern = "*.json" if plan else "*.tf.json"
            out.extend(sorted(f for f in p.rglob(pattern)
                              if f.is_file() and ".terraform" not in f.parts and "node_modules" not in f.parts))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder; pass a Terraform JSON/plan JSON file or a folder holding them")
    return out


def read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); check the path and permissions") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); for a plan, pass the output of "
                         f"`terraform show -json PLANFILE`, not the binary plan") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read (beyond Python's recursion limit); pass an "
                         f"unmodified Terraform JSON or `terraform show -json` plan") from None


def is_plan_json(doc: Any) -> bool:
    return isinstance(doc, dict) and ("resource_changes" in doc or "planned_values" in doc) and "format_version" in doc


# --------------------------------------------------------------------------------------------- static
def _items(obj: Any) -> Iterator[tuple[str, Any]]:
    """Terraform JSON allows an object or an array of objects at most nesting levels."""
    if isinstance(obj, dict):
        yield from obj.items()
    elif isinstance(obj, list):
        for o in obj:
            if isinstance(o, dict):
                yield from o.items()


def _bodies(obj: Any) -> Iterator[dict]:
    if isinstance(obj, dict):
        yield obj
    elif isinstance(obj, list):
        for o in obj:
            if isinstance(o, dict):
                yield o


def _provider_default_tags(doc: dict) -> dict[str, Any]:
    """``{"aws": tags, "aws.alias": tags}`` from the provider blocks' default_tags."""
    out: dict[str, Any] = {}
    for pname, blocks in _items(doc.get("provider")):
        for body in _bodies(blocks):
            alias = body.get("alias")
            key = f"{pname}.{alias}" if alias else pname
            tags: Any = {}
            for dt in _bodies(body.get("default_tags")):
                t = dt.get("tags")
                if isinstance(t, str):
                    tags = UNKNOWN  # a reference: known only at plan time
                elif isinstance(t, dict) and isinstance(tags, dict):
                    tags = {**tags, **t}
            out[key] = tags
    return out


def _string_refs(value: Any, known: set[str], prefix: str = "") -> list[str]:
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if "${" in v:
                for expr in _INTERP_REF.findall(v):
                    for mod, rtype, name in _REF_TOKEN.findall(expr):
                        addr = f"{prefix}{mod}{rtype}.{name}"
                        if addr in known:
                            found.append(addr)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(value)
    return found


def load_tf_json(files: Sequence[Path]) -> LoadedInput:
    resources: list[Resource] = []
    data_sources: dict[str, dict[str, Any]] = {}
    for f in files:
        doc = read_json(f)
        if not isinstance(doc, dict):
            raise InputError(f"{f}: not a Terraform JSON document (top level must be an object)")
        if is_plan_json(doc):
            raise InputError(f"{f}: this is a plan JSON; scan it with --plan, not --tf-json")
        default_tags = _provider_default_tags(doc)
        for dtype, named in _items(doc.get("data")):
            for name, bodies in _items(named):
                for body in _bodies(bodies):
                    data_sources.setdefault(str(f), {})[f"data.{dtype}.{name}"] = body
        file_resources: list[Resource] = []
        for rtype, named in _items(doc.get("resource")):
            for name, bodies in _items(named):
                for body in _bodies(bodies):
                    file_resources.append(_static_resource(rtype, name, body, str(f), default_tags))
        known = {r.address for r in file_resources}
        for r in file_resources:
            r.refs = {k: refs for k, v in r.attrs.items() if k != "//" and (refs := _string_refs(v, known))}
        resources.extend(file_resources)
    loaded = _finish(resources, [str(f) for f in files], "static")
    loaded.data_sources = data_sources
    return loaded


def _static_resource(rtype: str, name: str, body: dict, file: str, default_tags: dict[str, Any]) -> Resource:
    tags_all: Any = None
    if rtype in TAGGABLE_TYPES:
        prov = body.get("provider")
        key = prov[2:-1] if isinstance(prov, str) and prov.startswith("${") else prov
        if not key:
            key = rtype.split("_", 1)[0]
        base = default_tags.get(key, {})
        own = body.get("tags")
        if isinstance(own, str) or isinstance(base, str):
            tags_all = UNKNOWN
        else:
            tags_all = {**(base or {}), **(own or {})}
    return Resource(address=f"{rtype}.{name}", rtype=rtype, file=file, attrs=body, tags_all=tags_all)


# --------------------------------------------------------------------------------------------- plan
def mark_unknown(after: Any, unknown: Any, configured: frozenset[str] | set[str] | None = None,
                 depth: int = 0) -> Any:
    """Copy only the paths of ``after`` that hold unknown values, replacing those with :data:`UNKNOWN`.

    ``configured``: the top-level attributes the configuration sets.  An unknown top-level attribute that the
    configuration does not set is a provider-computed default (``multi_az``, ``kms_key_id``, ...): it becomes
    ``None`` (not set) instead of unknown, so "must be set" rules fail as they do on the synthesized JSON."""
    if unknown is True:
        return UNKNOWN
    if depth > MAX_DEPTH:
        raise InputError(f"after_unknown nested deeper than {MAX_DEPTH} levels; pass an unmodified plan")
    if isinstance(unknown, dict) and unknown:
        base = after if isinstance(after, dict) else {}
        out = dict(base)
        for k, u in unknown.items():
            if u is False:
                continue
            if configured is not None and u is True and k not in configured and k != "tags_all":
                out[k] = None
                continue
            out[k] = mark_unknown(base.get(k), u, None, depth + 1)
        return out
    if isinstance(unknown, list) and unknown and isinstance(after, list | type(None)):
        base_l = after or []
        if not any(u is not False for u in unknown):
            return after
        out_l = list(base_l) + [None] * max(0, len(unknown) - len(base_l))
        for i, u in enumerate(unknown):
            if u is not False:
                out_l[i] = mark_unknown(out_l[i], u, None, depth + 1)
        return out_l
    return after


def config_address(address: str) -> str:
    return _INDEX.sub("", address)


def _walk_config(module: dict, prefix: str, out: dict[str, dict[str, list[str]]],
                 keys: dict[str, frozenset[str]] | None = None, exprs: dict[str, dict] | None = None,
                 data: dict[str, Any] | None = None, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InputError(f"configuration module calls nested deeper than {MAX_DEPTH} levels")
    if not isinstance(module, dict):
        return
    for res in module.get("resources", ()) or ():
        if not isinstance(res, dict):
            continue
        if res.get("mode") == "data" and data is not None and res.get("type") == "aws_iam_policy_document":
            from compliance.semantics import expression_value
            data[prefix + str(res.get("address", ""))] = expression_value(res.get("expressions") or {})
            continue
        if res.get("mode") != "managed":
            continue
        addr = prefix + res.get("address", "")
        refs: dict[str, list[str]] = {}
        for attr, expr in (res.get("expressions") or {}).items():
            rs = _expr_refs(expr)
            if rs:
                refs[attr] = [prefix + r for r in rs]
        out[addr] = refs
        if exprs is not None:
            exprs[addr] = res.get("expressions") or {}
        if keys is not None:
            keys[addr] = frozenset(res.get("expressions") or ())
            pk = res.get("provider_config_key") or "aws"
            keys[addr + "#provider"] = frozenset([pk.split(":")[-1]])
    for name, call in (module.get("module_calls") or {}).items():
        inner = (call or {}).get("module") or {}
        _walk_config(inner, f"{prefix}module.{name}.", out, keys, exprs, data, depth + 1)


def _expr_refs(expr: Any) -> list[str]:
    """Resource addresses (type.name, with module prefix) referenced by a plan configuration expression."""
    found: list[str] = []
    if isinstance(expr, dict):
        refs = expr.get("references")
        if isinstance(refs, list):
            for r in refs:
                if not isinstance(r, str) or r.startswith(("var.", "local.", "each.", "count.", "path.", "data.")):
                    continue
                m = _REF_TOKEN.match(r)
                if m and not m.group(2).startswith("data."):
                    found.append(f"{m.group(1)}{m.group(2)}.{m.group(3)}")
        for k, v in expr.items():
            if k not in ("references", "constant_value") and isinstance(v, (dict, list)):
                found.extend(_expr_refs(v))
    elif isinstance(expr, list):
        for e in expr:
            found.extend(_expr_refs(e))
    return sorted(set(found))


def _plan_default_tags(doc: dict) -> dict[str, Any]:
    """Provider key -> constant default tags (``UNKNOWN`` when they are computed) from the plan's configuration."""
    out: dict[str, Any] = {}
    for key, prov in ((doc.get("configuration") or {}).get("provider_config") or {}).items():
        tags: Any = {}
        for dt in (prov.get("expressions") or {}).get("default_tags") or ():
            t = (dt or {}).get("tags") or {}
            if "constant_value" in t and isinstance(t["constant_value"], dict):
                tags = {**tags, **t["constant_value"]}
            elif t:
                tags = UNKNOWN
                break
        out[key.split(":")[-1]] = tags
    return out


def load_plans(files: Sequence[Path]) -> LoadedInput:
    resources: list[Resource] = []
    plans: list[tuple[str, dict]] = []
    data_sources: dict[str, dict[str, Any]] = {}
    for f in files:
        doc = read_json(f)
        if not is_plan_json(doc):
            raise InputError(f"{f}: not a Terraform plan JSON (no format_version/resource_changes); create it with "
                             f"`terraform plan -out=tfplan && terraform show -json tfplan > {Path(f).name}`")
        try:
            validate_plan(doc)
        except PlanShapeError as exc:
            raise InputError(f"{f}: refused, the plan's shape is not one the gate can judge: {exc}") from None
        plans.append((str(f), doc))
        try:
            resources.extend(plan_resources(doc, str(f), data_sources.setdefault(str(f), {}),
                                            configuration_bodies(Path(f), doc)))
        except RecursionError:
            raise InputError(f"{f}: JSON nested too deeply to judge; pass an unmodified plan") from None
        except InputError as exc:
            raise InputError(f"{f}: refused: {exc}") from None
    loaded = _finish(resources, [str(f) for f in files], "plan", plans)
    loaded.data_sources = data_sources
    return loaded


CONFIG_FILE = "cdk.tf.json"


def configuration_bodies(plan_file: Path, doc: dict) -> dict[str, dict] | None:
    """The Terraform JSON a plan was made from, when it lies next to the plan (``<stack>/cdk.tf.json`` beside
    ``<stack>/tfplan.json``, as the pipeline writes them) and matches it: every managed resource of the plan's
    root-module configuration is in it with the same address.  Its bodies hold the configuration-stage value of an
    attribute the plan only knows after apply (a policy template whose ``${...}`` parts name resources created in the
    same plan): the constant parts stay judgeable.  None when there is no such file or it does not match."""
    cfg = plan_file.parent / CONFIG_FILE
    if not cfg.is_file():
        return None
    try:
        tf = read_json(cfg)
    except InputError:
        return None
    if not isinstance(tf, dict):
        return None
    bodies: dict[str, dict] = {}
    for rtype, named in _items(tf.get("resource")):
        for name, bs in _items(named):
            for body in _bodies(bs):
                bodies[f"{rtype}.{name}"] = body
    root = (doc.get("configuration") or {}).get("root_module") or {}
    addrs = {r.get("address") for r in (root.get("resources") or ()) if isinstance(r, dict) and r.get("mode") == "managed"}
    if not addrs or not addrs <= bodies.keys():
        return None
    return bodies


def _configuration_value(attrs: dict, exprs: dict, body: dict | None) -> dict:
    """Replace top-level attributes the plan knows only after apply by their configuration-stage value: a constant
    expression of the plan's configuration, or the literal (with ``${...}`` references) of the Terraform JSON the
    plan was made from.  Nested unknowns and attributes without such a value stay UNKNOWN."""
    out = None
    for k, v in attrs.items():
        if v != UNKNOWN or k in ("tags_all", "id", "arn"):
            continue
        e = exprs.get(k)
        if isinstance(e, dict) and "constant_value" in e:
            new = e["constant_value"]
        elif body is not None and k in body and body[k] is not None:
            new = body[k]
        else:
            continue
        if out is None:
            out = dict(attrs)
        out[k] = new
    return attrs if out is None else out


def _drop_computed_sensitive(after: Any, sensitive: Any, configured: frozenset[str] | None) -> Any:
    """Leave out top-level values the configuration does not set that are secrets by Terraform's marking or by
    name: the provider computed them (a KMS grant token, a WAF lock token) and they live in state, not in the code
    under review. A value the configuration sets literally stays, so a plaintext password in code is still found."""
    if not isinstance(after, dict) or configured is None:
        return after
    marks = sensitive if isinstance(sensitive, dict) else {}
    return {k: v for k, v in after.items() if k in configured or not (marks.get(k) or is_secret_name(k))}


def plan_resources(doc: dict, file: str, data_sources: dict[str, Any] | None = None,
                   config_bodies: dict[str, dict] | None = None) -> list[Resource]:
    cfg_refs: dict[str, dict[str, list[str]]] = {}
    cfg_keys: dict[str, frozenset[str]] = {}
    cfg_exprs: dict[str, dict] = {}
    _walk_config((doc.get("configuration") or {}).get("root_module") or {}, "", cfg_refs, cfg_keys, cfg_exprs,
                 data_sources if data_sources is not None else {})
    instances: dict[str, list[str]] = {}
    out: list[Resource] = []
    for rc in doc.get("resource_changes") or ():
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        actions = tuple(change.get("actions") or ())
        address = rc.get("address", "")
        instances.setdefault(config_address(address), []).append(address)
        if actions in (("delete",), ("forget",)):
            out.append(Resource(address, rc.get("type", ""), file, {}, actions=actions))
            continue
        after = change.get("after")
        unknown = change.get("after_unknown")
        configured = cfg_keys.get(config_address(address))
        after = _drop_computed_sensitive(after, change.get("after_sensitive"), configured)
        attrs = mark_unknown(after, unknown, configured) if unknown else after
        exprs = cfg_exprs.get(config_address(address)) or {}
        if unknown and isinstance(attrs, dict):
            attrs = _configuration_value(attrs, exprs, config_bodies.get(config_address(address))
                                         if config_bodies else None)
        out.append(Resource(address, rc.get("type", ""), file, attrs if isinstance(attrs, dict) else {},
                            actions=actions, expressions=exprs))
    default_tags = _plan_default_tags(doc)
    for r in out:
        if r.rtype in TAGGABLE_TYPES and r.attrs.get("tags_all") == UNKNOWN:
            pk = next(iter(cfg_keys.get(config_address(r.address) + "#provider", ("aws",))))
            base = default_tags.get(pk, default_tags.get(pk.split(".")[0], {}))
            own = r.attrs.get("tags")
            if isinstance(base, dict) and (own is None or isinstance(own, dict)):
                r.tags_all = {**base, **(own or {})}
    # configuration refs (by config address) -> instance addresses
    for r in out:
        refs = cfg_refs.get(config_address(r.address))
        if refs:
            r.refs = {a: [i for t in targets for i in instances.get(t, ())] for a, targets in refs.items()}
    return out


# --------------------------------------------------------------------------------------------- context
_COMPANION_ATTR = {"bucket", "vpc_id", "security_group_id", "load_balancer_arn", "key_id", "target_key_id"}


def _finish(resources: list[Resource], files: list[str], stage: str,
            plans: list[tuple[str, dict]] | None = None) -> LoadedInput:
    referrers: dict[str, list[str]] = {}
    by_bucket_name: dict[tuple[str, str], str] = {}
    for r in resources:
        for attr in _COMPANION_ATTR.intersection(r.refs):
            for target in r.refs[attr]:
                referrers.setdefault(target, []).append(r.address)
        if r.rtype == "aws_s3_bucket" and isinstance(r.attrs.get("bucket"), str):
            by_bucket_name[(r.file, r.attrs["bucket"])] = r.address
    # fallback when a plan carries no configuration references: match companions by literal bucket name
    for r in resources:
        if r.rtype.startswith("aws_s3_bucket_") and "bucket" not in r.refs:
            name = r.attrs.get("bucket")
            target = by_bucket_name.get((r.file, name)) if isinstance(name, str) else None
            if target:
                referrers.setdefault(target, []).append(r.address)
    public_sgs: set[str] = set()
    for r in resources:
        if r.rtype in ("aws_lb", "aws_alb") and r.actions not in (("delete",),):
            internal = r.attrs.get("internal")
            lbtype = r.attrs.get("load_balancer_type") or "application"
            if internal in (None, False, "false") and lbtype in ("application", "network"):
                public_sgs.update(a for a in r.refs.get("security_groups", ()) if address_type(a) == "aws_security_group")
    sg_rules, sg_key = _security_group_rules(resources)
    return LoadedInput(resources, files, referrers, frozenset(public_sgs), stage, plans or [], {}, sg_rules, sg_key)


_SG_TYPES = ("aws_security_group", "aws_default_security_group")


class RuleGroup(list):
    """The ingress rules of one security group; ``memo`` lets a check judge the group once for all its members."""
    __slots__ = ("memo",)

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[str, Any] = {}


def _security_group_rules(resources: list[Resource]) -> tuple[dict[Any, list[tuple[str, dict]]], dict[str, Any]]:
    """Group every ingress rule by its security group (inline ``ingress`` blocks, ``aws_security_group_rule`` of
    type ingress, ``aws_vpc_security_group_ingress_rule``), so a check judges the union of a group's rules: two
    rules that each open half of the internet open all of it.  A standalone rule whose group is not in the input
    is grouped by the literal group id it names (or alone when that is unknown)."""
    groups: dict[Any, list[tuple[str, dict]]] = {}
    keys: dict[str, Any] = {}
    for r in resources:
        if r.actions in (("delete",), ("forget",)):
            continue
        if r.rtype in _SG_TYPES:
            keys[r.address] = r.address
            for rule in r.attrs.get("ingress") or () if isinstance(r.attrs.get("ingress"), list) else ():
                if isinstance(rule, dict):
                    groups.setdefault(r.address, RuleGroup()).append((r.address, rule))
        elif r.rtype in ("aws_security_group_rule", "aws_vpc_security_group_ingress_rule"):
            if r.rtype == "aws_security_group_rule" and r.attrs.get("type") != "ingress":
                continue
            sgs = [a for a in r.refs.get("security_group_id", ()) if address_type(a) in _SG_TYPES]
            lit = r.attrs.get("security_group_id")
            if sgs:
                key: Any = sgs[0]
            elif isinstance(lit, str) and lit and not is_unknown(lit) and not is_ref(lit):
                key = ("id", r.file, lit)
            else:
                key = ("alone", r.address)
            keys[r.address] = key
            groups.setdefault(key, RuleGroup()).append((r.address, r.attrs))
    return groups, keys


# --------------------------------------------------------------------------------------------- checks
_CHECKS: list[PlatformCheck] | None = None


def project_checks() -> list[PlatformCheck]:
    """Every ``check`` object in compliance/checks/ (imported once)."""
    global _CHECKS
    if _CHECKS is None:
        import compliance.checks as pkg
        found = []
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
            chk = getattr(mod, "check", None)
            if isinstance(chk, PlatformCheck):
                found.append(chk)
        _CHECKS = found
    return _CHECKS


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    check: PlatformCheck
    resource: Resource
    result: str   # "PASSED" | "FAILED" | "UNKNOWN"
    detail: str | None


def evaluate(loaded: LoadedInput, checks: Iterable[PlatformCheck] | None = None) -> list[CheckOutcome]:
    checks = list(project_checks() if checks is None else checks)
    by_type: dict[str, list[PlatformCheck]] = {}
    wildcard: list[PlatformCheck] = []
    for c in checks:
        if "*" in c.RESOURCES:
            wildcard.append(c)
        for t in c.RESOURCES:
            if t != "*":
                by_type.setdefault(t, []).append(c)
    out: list[CheckOutcome] = []
    stage = loaded.stage
    for r in loaded.resources:
        if r.actions in (("delete",), ("forget",)):
            continue
        applicable = by_type.get(r.rtype, ())
        if not applicable and not wildcard:
            continue
        attrs = r.attrs
        if attrs.get("count") == 0:
            continue
        key = loaded.sg_key.get(r.address)
        ctx = CheckContext(r.address, r.rtype, stage=stage, tags_all=r.tags_all, refs=r.refs,
                           referrers=loaded.referrers.get(r.address, ()),
                           public_lb_security_groups=loaded.public_lb_sgs, expressions=r.expressions,
                           data_sources=loaded.data_sources.get(r.file),
                           group_rules=(lambda k=key: loaded.sg_rules.get(k) or RuleGroup()) if key is not None else None,
                           world=loaded, resource=r)
        for c in (*applicable, *wildcard):
            c.details = []
            res = c.evaluate(attrs, ctx)
            detail = c.details[0] if c.details else None
            out.append(CheckOutcome(c, r, res.value if hasattr(res, "value") else str(res), detail))
    return out
