"""Cross-resource reading for the ``PLAT_AWS_*`` checks (AWS's documented rules the emulator does not enforce).

Works on any Terraform JSON or plan, not only ours:

- references: ``${aws_kms_key.k.arn}`` inside Terraform JSON values, the ``references`` of a plan's
  ``configuration`` expressions (nested blocks included), and literal values equal to another resource's known
  attribute (a plan of an update);
- providers: which provider configuration (``aws``, ``aws.us_east_1``) a resource uses and that provider's region;
- IAM/KMS policy documents: statements, principals, actions (wildcards), condition keys.

Every reader returns ``None`` when the answer is not decidable from the input (a value known only after apply, a
key outside the configuration); checks turn that into ``UNKNOWN``.  No import of cdktf or of the project's modules.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from compliance.checklib import PASSED, UNKNOWN, UNKNOWN_RESULT, CheckContext, address_type
from compliance.engine import _bodies, _items

_INTERP = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"((?:module\.[A-Za-z0-9_-]+\.)*)((?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)"
                    r"(?:\[[^\]]*\])?(?:\.([A-Za-z_][A-Za-z0-9_]*))?")
_INDEX = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]')
_LITERAL_KEYS = ("arn", "id", "key_id", "dns_name", "bucket", "name", "bucket_regional_domain_name",
                 "bucket_domain_name", "fqdn")
_REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d$")


@dataclass
class FileIndex:
    """What one input file (a ``cdk.tf.json`` or a plan) says beyond its resources."""

    stage: str
    resources: dict[str, Any] = field(default_factory=dict)          # address -> engine.Resource
    provider_region: dict[str, Any] = field(default_factory=dict)    # "aws" / "aws.alias" -> region | UNKNOWN
    resource_provider: dict[str, str] = field(default_factory=dict)  # address -> provider key
    expressions: dict[str, dict] = field(default_factory=dict)       # config address -> expressions (plans)
    referrers: dict[str, list[str]] = field(default_factory=dict)    # address -> addresses referencing it
    instances: dict[str, list[str]] = field(default_factory=dict)    # config address -> instance addresses
    _by_value: dict[str, list[str]] | None = None                     # known attribute value -> addresses
    by_type: dict[str, list[str]] = field(default_factory=dict)       # resource type -> live addresses
    memo: dict[str, Any] = field(default_factory=dict)                # per-input results a check computes once

    def by_value(self) -> dict[str, list[str]]:
        if self._by_value is None:
            idx: dict[str, list[str]] = {}
            for addr, r in self.resources.items():
                for k in _LITERAL_KEYS:
                    v = r.attrs.get(k)
                    if isinstance(v, str) and v and v != UNKNOWN:
                        idx.setdefault(v, []).append(addr)
            self._by_value = idx
        return self._by_value


def _index(world: Any) -> dict[str, FileIndex]:
    """File -> index of one scanned input, built once and kept on the input itself."""
    hit = world.cache.get("awsrules")
    if hit is not None:
        return hit
    out: dict[str, FileIndex] = {}
    for r in world.resources:
        fi = out.setdefault(r.file, FileIndex(world.stage, referrers={}))
        fi.resources[r.address] = r
        if r.actions not in (("delete",), ("forget",)):
            fi.by_type.setdefault(r.rtype, []).append(r.address)
        fi.instances.setdefault(_INDEX.sub("", r.address), []).append(r.address)
    if world.stage == "plan":
        for file, doc in world.plans:
            fi = out.setdefault(file, FileIndex("plan", referrers={}))
            _plan_providers(doc, fi)
    else:
        for file in world.files:
            fi = out.get(file)
            if fi is None:
                continue
            try:
                with open(file, "rb") as fh:
                    doc = json.load(fh)
            except (OSError, ValueError):
                continue
            _static_providers(doc, fi)
    for fi in out.values():
        for r in fi.resources.values():
            for targets in r.refs.values():
                for t in targets:
                    fi.referrers.setdefault(t, []).append(r.address)
    world.cache["awsrules"] = out
    return out


def _static_providers(doc: dict, fi: FileIndex) -> None:
    for pname, blocks in _items(doc.get("provider")):
        for body in _bodies(blocks):
            key = f"{pname}.{body['alias']}" if body.get("alias") else pname
            region = body.get("region")
            fi.provider_region[key] = region if isinstance(region, str) and "${" not in region else UNKNOWN
    for rtype, named in _items(doc.get("resource")):
        for name, bodies in _items(named):
            for body in _bodies(bodies):
                prov = body.get("provider")
                if isinstance(prov, str) and prov.startswith("${") and prov.endswith("}"):
                    prov = prov[2:-1]
                fi.resource_provider[f"{rtype}.{name}"] = prov or rtype.split("_", 1)[0]


def _plan_providers(doc: dict, fi: FileIndex) -> None:
    cfg = doc.get("configuration") or {}
    for key, prov in (cfg.get("provider_config") or {}).items():
        region = ((prov.get("expressions") or {}).get("region") or {})
        value = region.get("constant_value") if isinstance(region, dict) else None
        fi.provider_region[key] = value if isinstance(value, str) else UNKNOWN

    def walk(module: dict, prefix: str) -> None:
        for res in module.get("resources") or ():
            if res.get("mode") != "managed":
                continue
            addr = prefix + res.get("address", "")
            fi.expressions[addr] = res.get("expressions") or {}
            fi.resource_provider[addr] = res.get("provider_config_key") or "aws"
        for name, call in (module.get("module_calls") or {}).items():
            walk(call.get("module") or {}, f"{prefix}module.{name}.")

    walk(cfg.get("root_module") or {}, "")


# --------------------------------------------------------------------------------------------- navigation
class Node:
    """One resource of the scanned input, with the readers the AWS rules need."""

    def __init__(self, fi: FileIndex, resource: Any) -> None:
        self.fi, self.r = fi, resource
        self.address, self.rtype, self.attrs = resource.address, resource.rtype, resource.attrs

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Node({self.address})"

    # -- references ------------------------------------------------------------------------------
    def refs(self, *path: Any, rtype: str | Iterable[str] | None = None) -> list["Node"]:
        """Resources referenced by the value at ``path`` (attribute names, list indexes, or ``(key, value)``
        selecting the block whose ``key`` equals ``value``), anywhere below it."""
        types = {rtype} if isinstance(rtype, str) else set(rtype) if rtype is not None else None
        found: list[str] = []
        if self.fi.stage == "plan":
            expr = _navigate(self.fi.expressions.get(_INDEX.sub("", self.address), {}), path, plan_config=True)
            for ref in _config_refs(expr):
                found.extend(self.fi.instances.get(self._module_prefix() + ref, ()))
            if not found:  # an update: a literal value equal to a known attribute of another resource
                found.extend(self._literal_matches(_navigate(self.attrs, path)))
        else:
            for expr in _interpolations(_navigate(self.attrs, path)):
                for mod, typ, name, _attr in _TOKEN.findall(expr):
                    addr = f"{mod}{typ}.{name}"
                    if addr in self.fi.resources:
                        found.append(addr)
        out, seen = [], set()
        for a in found:
            if a in seen or (types is not None and address_type(a) not in types):
                continue
            seen.add(a)
            out.append(Node(self.fi, self.fi.resources[a]))
        return out

    def ref_attrs(self, *path: Any) -> list[tuple[str, str | None]]:
        """``(address, attribute)`` pairs referenced at ``path`` (``("aws_lb.x", "dns_name")``)."""
        out: list[tuple[str, str | None]] = []
        if self.fi.stage == "plan":
            expr = _navigate(self.fi.expressions.get(_INDEX.sub("", self.address), {}), path, plan_config=True)
            for ref in _config_refs(expr, keep_attr=True):
                base, _, attr = ref.partition("#")
                for inst in self.fi.instances.get(self._module_prefix() + base, ()):
                    out.append((inst, attr or None))
        else:
            for expr in _interpolations(_navigate(self.attrs, path)):
                for mod, typ, name, attr in _TOKEN.findall(expr):
                    addr = f"{mod}{typ}.{name}"
                    if addr in self.fi.resources:
                        out.append((addr, attr or None))
        return out

    def _module_prefix(self) -> str:
        """``module.a.module.b.`` of this resource: plan configuration references are relative to its module."""
        caddr = _INDEX.sub("", self.address)
        idx = caddr.rfind(f"{self.rtype}.")
        return caddr[:idx] if idx > 0 else ""

    def _literal_matches(self, value: Any) -> list[str]:
        if not isinstance(value, str) or not value or value == UNKNOWN:
            return []
        return [a for a in dict.fromkeys(self.fi.by_value().get(value, ())) if a != self.address]

    def referrers(self, rtype: str | Iterable[str] | None = None) -> list["Node"]:
        types = {rtype} if isinstance(rtype, str) else set(rtype) if rtype is not None else None
        return [Node(self.fi, self.fi.resources[a]) for a in dict.fromkeys(self.fi.referrers.get(self.address, ()))
                if types is None or address_type(a) in types]

    def all(self, rtype: str) -> list["Node"]:
        return [Node(self.fi, self.fi.resources[a]) for a in self.fi.by_type.get(rtype, ())]

    # -- provider --------------------------------------------------------------------------------
    def region(self) -> str | None:
        """The region of the provider configuration this resource uses; None when not decidable."""
        key = self.fi.resource_provider.get(_INDEX.sub("", self.address)) or "aws"
        region = self.fi.provider_region.get(key)
        if region is None and ":" in key:
            region = self.fi.provider_region.get(key.split(":")[-1])
        if isinstance(region, str) and region != UNKNOWN:
            return region
        # an explicit region on the resource (provider 6 style) or in its ARN
        own = self.attrs.get("region")
        if isinstance(own, str) and _REGION.match(own):
            return own
        return arn_region(self.attrs.get("arn"))


def node(ctx: CheckContext | None) -> Node | None:
    if ctx is None or ctx.world is None or ctx.resource is None:
        return None
    return Node(_index(ctx.world)[ctx.resource.file], ctx.resource)


def _navigate(value: Any, path: tuple, plan_config: bool = False) -> Any:
    for step in path:
        if value is None:
            return None
        if isinstance(step, tuple):
            key, want = step
            blocks = list(_bodies(value))
            chosen = None
            for b in blocks:
                v = b.get(key)
                if plan_config and isinstance(v, dict):
                    v = v.get("constant_value")
                if v == want:
                    chosen = b
                    break
            value = chosen
        elif isinstance(step, int):
            if isinstance(value, list):
                value = value[step] if step < len(value) else None
            elif step != 0:
                value = None
        else:
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _interpolations(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _INTERP.findall(value)
    elif isinstance(value, list):
        for v in value:
            yield from _interpolations(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _interpolations(v)


def _config_refs(expr: Any, keep_attr: bool = False) -> list[str]:
    out: list[str] = []
    if isinstance(expr, dict):
        for r in expr.get("references") or ():
            if not isinstance(r, str) or r.startswith(("var.", "local.", "each.", "count.", "path.")):
                continue
            m = _TOKEN.match(r)
            if m:
                base = f"{m.group(1)}{m.group(2)}.{m.group(3)}"
                out.append(f"{base}#{m.group(4) or ''}" if keep_attr else base)
        for k, v in expr.items():
            if k not in ("references", "constant_value"):
                out.extend(_config_refs(v, keep_attr))
    elif isinstance(expr, list):
        for e in expr:
            out.extend(_config_refs(e, keep_attr))
    return list(dict.fromkeys(out))


def arn_region(arn: Any) -> str | None:
    if isinstance(arn, str) and arn.startswith("arn:") and "${" not in arn:
        parts = arn.split(":")
        if len(parts) > 3 and _REGION.match(parts[3]):
            return parts[3]
    return None


def literal(value: Any) -> str | None:
    """A string known now (no interpolation, not unknown-until-apply)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and "${" not in value and value != UNKNOWN:
        return value
    return None


# --------------------------------------------------------------------------------------------- policies
def statements(policy: Any) -> list[dict] | None:
    """Statements of a policy document (JSON string, possibly with interpolations, or object); None if unknown."""
    if policy is None or policy == UNKNOWN:
        return None
    doc = policy
    if isinstance(policy, str):
        text = policy.strip()
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            return None  # a whole-document reference (data.aws_iam_policy_document.x.json, jsonencode(...))
        try:
            doc = json.loads(text)
        except ValueError:
            return None
    if not isinstance(doc, dict):
        return None
    st = doc.get("Statement")
    if isinstance(st, dict):
        st = [st]
    return [s for s in st or () if isinstance(s, dict)]


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def principal_values(stmt: dict, kind: str) -> list[str]:
    p = stmt.get("Principal")
    if p == "*":
        return ["*"]
    if isinstance(p, dict):
        return [x for x in _as_list(p.get(kind)) if isinstance(x, str)]
    return []


def action_allowed(stmt: dict, action: str) -> bool:
    a = action.lower()
    if "Action" in stmt:
        return any(isinstance(p, str) and fnmatch.fnmatchcase(a, p.lower()) for p in _as_list(stmt["Action"]))
    if "NotAction" in stmt:
        return not any(isinstance(p, str) and fnmatch.fnmatchcase(a, p.lower()) for p in _as_list(stmt["NotAction"]))
    return False


def condition_keys(stmt: dict) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for _op, kv in (stmt.get("Condition") or {}).items():
        if isinstance(kv, dict):
            for k, v in kv.items():
                out.setdefault(k.lower(), []).extend(_as_list(v))
    return out


def allows(stmts: list[dict], *, actions: Iterable[str], service: str | None = None,
           aws_suffix: str | None = None, via_service: str | None = None,
           required_condition: Iterable[str] = ()) -> bool:
    """Whether the Allow statements grant every action in ``actions`` to the principal: a service principal
    (``service``), an AWS principal whose ARN ends with ``aws_suffix`` (a service-linked role), or the account's
    principals through ``via_service`` (``kms:ViaService``).  ``required_condition``: condition keys (any of them)
    the granting statement must carry (e.g. ``aws:SourceArn``)."""
    need = [a for a in actions]
    required = [c.lower() for c in required_condition]
    for action in need:
        ok = False
        for s in stmts:
            if s.get("Effect") != "Allow" or not action_allowed(s, action):
                continue
            conds = condition_keys(s)
            if required and not any(c in conds for c in required):
                continue
            if service is not None and service in principal_values(s, "Service"):
                ok = True
            elif aws_suffix is not None and any(v.endswith(aws_suffix) for v in principal_values(s, "AWS")):
                ok = True
            elif via_service is not None and principal_values(s, "AWS"):
                vias = [v for v in conds.get("kms:viaservice", []) if isinstance(v, str)]
                # through the service, or the account's plain delegation to IAM (no condition at all)
                if any(fnmatch.fnmatchcase(via_service, v) for v in vias) or not s.get("Condition"):
                    ok = True
            if ok:
                break
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------------------- KMS keys
AWS_MANAGED_ALIAS = re.compile(r"^(?:arn:[^:]+:kms:[^:]*:[^:]*:)?alias/aws/")


def key_of(n: Node, *path: Any) -> tuple[str, Node | None]:
    """The KMS key named at ``path``: ``("cmk", key node)``, ``("aws-managed", None)`` (``alias/aws/...``),
    ``("none", None)`` when no key is set, ``("unknown", None)`` when it is outside the input or unknown."""
    value = _navigate(n.attrs, path)
    keys = n.refs(*path, rtype="aws_kms_key")
    if keys:
        return "cmk", keys[0]
    for alias in n.refs(*path, rtype="aws_kms_alias"):
        targets = alias.refs("target_key_id", rtype="aws_kms_key")
        if targets:
            return "cmk", targets[0]
    lit = literal(value)
    if value == UNKNOWN and n.fi.stage == "plan" and _navigate(
            n.fi.expressions.get(_INDEX.sub("", n.address), {}), path, plan_config=True) is None:
        value = None  # computed by the provider, not configured: no key chosen
    if value is None or value == "":
        return "none", None
    if lit is not None and AWS_MANAGED_ALIAS.match(lit):
        return "aws-managed", None
    return "unknown", None


def key_statements(key: Node) -> list[dict] | None:
    """The key policy's statements: the key's ``policy`` plus any ``aws_kms_key_policy`` on it."""
    parts: list[Any] = []
    own = key.attrs.get("policy")
    if own not in (None, ""):
        parts.append(own)
    for kp in key.referrers("aws_kms_key_policy"):
        parts.append(kp.attrs.get("policy"))
    if not parts:
        # no policy: AWS applies the default key policy (account root only); no service principal is admitted
        return []
    out: list[dict] = []
    for p in parts:
        st = statements(p)
        if st is None:
            return None
        out.extend(st)
    return out


def key_grants(key: Node) -> list[Node]:
    return key.referrers("aws_kms_grant")


def bucket_sse(bucket: Node) -> tuple[str, Node | None]:
    """How a bucket encrypts by default: ("cmk", key) | ("aws-managed"|"sse-s3"|"unknown"|"none", None)."""
    for cfg in bucket.referrers("aws_s3_bucket_server_side_encryption_configuration"):
        rule = _navigate(cfg.attrs, ("rule",))
        d = _navigate(rule, ("apply_server_side_encryption_by_default",))
        algo = literal(_navigate(d, ("sse_algorithm",)))
        if algo == "AES256":
            return "sse-s3", None
        if algo is None:
            return "unknown", None
        kind, k = key_of(cfg, "rule", "apply_server_side_encryption_by_default", "kms_master_key_id")
        return ("aws-managed", None) if kind == "none" else (kind, k)
    inline = _navigate(bucket.attrs, ("server_side_encryption_configuration", "rule",
                                      "apply_server_side_encryption_by_default"))
    if isinstance(inline, dict):
        if literal(inline.get("sse_algorithm")) == "AES256":
            return "sse-s3", None
        kind, k = key_of(bucket, "server_side_encryption_configuration", "rule",
                         "apply_server_side_encryption_by_default", "kms_master_key_id")
        return ("aws-managed", None) if kind == "none" else (kind, k)
    return "sse-s3", None  # S3 encrypts new objects with SSE-S3 by default (since January 2023)


def service_linked_role(service: str, name: str) -> str:
    return f":role/aws-service-role/{service}/{name}"


def customer_key(ctx: CheckContext, attr: str) -> tuple[Any, Any, Any]:
    """``(verdict, node, key)`` for a resource encrypted through ``attr``: verdict PASSED without a key, UNKNOWN when
    the resource or its key cannot be read, else None with the resource's node and its customer-managed key."""
    n = node(ctx)
    if n is None:
        return UNKNOWN_RESULT, None, None
    kind, key = key_of(n, attr)
    if kind == "none":
        return PASSED, n, None
    if kind != "cmk":
        return UNKNOWN_RESULT, n, None
    return None, n, key
