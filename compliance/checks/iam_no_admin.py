"""PLAT_IAM_001: no IAM identity policy or attachment grants admin-equivalent access.

Judged on the effective grant of each statement, not its spelling (see :mod:`compliance.semantics`):
- ``Allow`` of every action (``*``, ``*:*``) or of an IAM privilege-escalation action (``iam:*``,
  ``iam:Attach*``, ``iam:PutRolePolicy``, ``iam:CreatePolicyVersion`` ...) on every resource (``*``, a fully wildcard
  ARN, or any ``NotResource``);
- ``Allow`` with ``NotAction`` on every resource unless the excluded actions cover every escalation action
  (``NotAction: iam:PassRole`` on ``*`` grants everything else: admin;
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html);
- an AWS managed admin-equivalent policy (AdministratorAccess, IAMFullAccess, ...) by ARN in any partition, attached
  with ``aws_iam_role_policy_attachment``, ``aws_iam_user_policy_attachment``, ``aws_iam_group_policy_attachment``,
  ``aws_iam_policy_attachment``, ``aws_iam_role_policy_attachments_exclusive`` or a role's ``managed_policy_arns``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html).

Policies given as JSON strings or objects, in ``aws_iam_policy``, inline role/user/group policies and a role's
``inline_policy`` blocks.  A policy the plan knows only after apply is judged from the configuration: an
``aws_iam_policy_document`` data source's constant statement parts; when still undecidable the result is UNKNOWN
(blocks in protected environments).
"""
import re

from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, first,
                                 is_ref, is_unknown, module_prefix)
from compliance.semantics import (ADMIN_MANAGED, judge_document, managed_policy_name, parse_document,
                                  policy_document_from_data)

POLICY_TYPES = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy")
ATTACH_TYPES = ("aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment",
                "aws_iam_policy_attachment")
_DATA_DOC = re.compile(r"^\$\{(?:module\.[^.]+\.)*(data\.aws_iam_policy_document\.[A-Za-z0-9_-]+)\.json\}$")


def _data_doc_address(value, expression, ctx):
    """The aws_iam_policy_document a policy value comes from (static ``${data....json}`` or plan references)."""
    if ctx is None:
        return None
    if isinstance(value, str):
        m = _DATA_DOC.match(value.strip())
        if m:
            return m.group(1)
    refs = expression.get("references") if isinstance(expression, dict) else None
    if isinstance(refs, list):
        docs = {r.rsplit(".json", 1)[0] for r in refs if isinstance(r, str)
                and r.startswith("data.aws_iam_policy_document.")}
        others = [r for r in refs if isinstance(r, str) and not r.startswith("data.aws_iam_policy_document.")]
        if len(docs) == 1 and not others:
            return module_prefix(ctx.address) + docs.pop()
    return None


def judge_policy_value(value, expression, ctx):
    """FAILED / UNKNOWN / PASSED and a detail for one policy value (string, object, or unknown)."""
    doc, undecidable = parse_document(value)
    if doc is None and undecidable:
        addr = _data_doc_address(value, expression, ctx)
        body = ctx.data_source(addr) if addr else None
        if isinstance(body, dict):
            doc, undecidable = policy_document_from_data(body)
        elif isinstance(expression, dict) and "constant_value" in expression:
            doc, undecidable = parse_document(expression["constant_value"])
    if doc is None:
        return (UNKNOWN_RESULT, "policy document known only after apply and not judgeable from the configuration") \
            if undecidable else (PASSED, None)
    admin, _broad, detail = judge_document(doc)
    if admin is True:
        return FAILED, detail
    if admin is None or undecidable:
        return UNKNOWN_RESULT, detail or "part of the policy is known only after apply"
    return PASSED, None


def judge_arn(arn, ctx, expr=None):
    name = managed_policy_name(arn)
    if name in ADMIN_MANAGED:
        return FAILED, f"AWS managed policy {name} attached"
    if name is not None:
        return PASSED, None
    if isinstance(arn, str) and not is_unknown(arn) and not is_ref(arn):
        return PASSED, None  # a customer managed policy ARN: judged where that policy is defined
    if is_ref(arn) and ctx is not None and (ctx.ref("policy_arn", "aws_iam_policy") or "aws_iam_policy." in arn):
        return PASSED, None  # a policy of this input: PLAT_IAM_001 judges its document
    refs = expr.get("references") if isinstance(expr, dict) else None
    if isinstance(refs, list) and refs and all(isinstance(r, str) and ("aws_iam_policy." in r) and not
                                                r.startswith("data.") for r in refs):
        return PASSED, None
    return UNKNOWN_RESULT, "attached policy ARN known only after apply"


class IamNoAdmin(PlatformCheck):
    ID = "PLAT_IAM_001"
    NAME = "No IAM policy or attachment grants admin-equivalent access (effective actions/resources, managed ARNs)"
    RESOURCES = POLICY_TYPES + ("aws_iam_role",) + ATTACH_TYPES + ("aws_iam_role_policy_attachments_exclusive",)
    CATEGORY = CheckCategories.IAM
    GUIDELINE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        exprs = ctx.expressions if ctx is not None else {}
        results = []
        if rtype == "aws_iam_role":
            blocks = attrs.get("inline_policy")
            if is_unknown(blocks):
                results.append((UNKNOWN_RESULT, "inline policies known only after apply"))
            for i, p in enumerate(as_list(blocks)):
                if isinstance(p, dict):
                    ie = as_list(exprs.get("inline_policy"))
                    e = ie[i].get("policy") if i < len(ie) and isinstance(ie[i], dict) else None
                    results.append(judge_policy_value(first(p.get("policy")), e, ctx))
            arns = attrs.get("managed_policy_arns")
            if is_unknown(arns):
                results.append((UNKNOWN_RESULT, "managed_policy_arns known only after apply"))
            for a in as_list(arns):
                results.append(judge_arn(a, ctx))
        elif rtype in POLICY_TYPES:
            results.append(judge_policy_value(first(attrs.get("policy")), exprs.get("policy"), ctx))
        elif rtype == "aws_iam_role_policy_attachments_exclusive":
            arns = attrs.get("policy_arns")
            if is_unknown(arns):
                results.append((UNKNOWN_RESULT, "policy_arns known only after apply"))
            for a in as_list(arns):
                results.append(judge_arn(a, ctx))
        else:
            results.append(judge_arn(first(attrs.get("policy_arn")), ctx, exprs.get("policy_arn")))
        for res, detail in results:
            if res == FAILED:
                self.details.append(detail)
                return FAILED
        for res, detail in results:
            if res == UNKNOWN_RESULT:
                self.details.append(detail)
                return UNKNOWN_RESULT
        return PASSED


check = IamNoAdmin()
