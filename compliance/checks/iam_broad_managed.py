"""PLAT_IAM_002: broad but not admin-equivalent grants are reported (a warning under every shipped policy).

PowerUserAccess (every service except IAM, Organizations and Account management:
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/PowerUserAccess.html) attached by ARN, and
``Allow`` + ``NotAction`` statements on every resource whose exclusions cover IAM (the same shape).  They cannot
grant themselves more, so they are not PLAT_IAM_001 (admin); severity INFO so that they warn in staging and prod.
The platform's own CI deploy role carries PowerUserAccess by design (docs/security.md).
"""
from compliance.checklib import FAILED, PASSED, CheckCategories, PlatformCheck, as_list, first
from compliance.checks.iam_no_admin import ATTACH_TYPES, POLICY_TYPES
from compliance.semantics import BROAD_MANAGED, judge_document, managed_policy_name, parse_document


class IamBroadManaged(PlatformCheck):
    ID = "PLAT_IAM_002"
    NAME = "Broad grants (PowerUserAccess, Allow+NotAction excluding IAM on *) are reported"
    RESOURCES = POLICY_TYPES + ("aws_iam_role",) + ATTACH_TYPES + ("aws_iam_role_policy_attachments_exclusive",)
    CATEGORY = CheckCategories.IAM
    GUIDELINE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html"

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        arns, docs = [], []
        if rtype == "aws_iam_role":
            arns = as_list(attrs.get("managed_policy_arns"))
            docs = [first(p.get("policy")) for p in as_list(attrs.get("inline_policy")) if isinstance(p, dict)]
        elif rtype in POLICY_TYPES:
            docs = [first(attrs.get("policy"))]
        elif rtype == "aws_iam_role_policy_attachments_exclusive":
            arns = as_list(attrs.get("policy_arns"))
        elif rtype in ATTACH_TYPES:
            arns = [first(attrs.get("policy_arn"))]
        for a in arns:
            name = managed_policy_name(a)
            if name in BROAD_MANAGED:
                self.details.append(f"AWS managed policy {name} attached")
                return FAILED
        for d in docs:
            doc, _ = parse_document(d)
            if doc is not None and judge_document(doc)[1] is True:
                self.details.append("Allow with NotAction on every resource")
                return FAILED
        return PASSED


check = IamBroadManaged()
