"""PLAT_IAM_001: no IAM policy statement allows action ``*`` on resource ``*``."""
import json

from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 first, is_ref, is_unknown)

POLICY_ATTRS = {"aws_iam_policy": "policy", "aws_iam_role_policy": "policy", "aws_iam_user_policy": "policy",
                "aws_iam_group_policy": "policy"}


def _star(v):
    return any(x == "*" for x in as_list(v))


class IamNoStarStar(PlatformCheck):
    ID = "PLAT_IAM_001"
    NAME = "No IAM statement allows * actions on * resources"
    RESOURCES = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy",
                 "aws_iam_role")
    CATEGORY = CheckCategories.IAM

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        docs = []
        if rtype == "aws_iam_role":
            docs = [first(p.get("policy")) for p in as_list(attrs.get("inline_policy")) if isinstance(p, dict)]
        else:
            docs = [first(attrs.get("policy"))]
        unknown = False
        for doc in docs:
            if isinstance(doc, str):
                if is_unknown(doc):
                    unknown = True
                    continue
                try:
                    doc = json.loads(doc)
                except ValueError:
                    unknown = unknown or is_ref(doc)  # e.g. "${data.aws_iam_policy_document.x.json}"
                    continue
            if not isinstance(doc, dict):
                continue
            for st in as_list(doc.get("Statement")):
                if isinstance(st, dict) and st.get("Effect", "Allow") == "Allow" and _star(st.get("Action")) \
                        and _star(st.get("Resource")):
                    return FAILED
        return UNKNOWN_RESULT if unknown else PASSED


check = IamNoStarStar()
