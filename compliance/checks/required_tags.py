"""PLAT_TAG_001: every taggable resource carries Environment, Project, Owner, CostCenter and ManagedBy.

Effective tags are ``tags_all`` in a plan (provider default tags merged by Terraform) and, for synthesized JSON,
the provider's ``default_tags`` merged with the resource's ``tags`` (the gate computes that; bare Checkov only
sees the resource's own ``tags``).  Empty values count as missing.
"""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first,
                                 is_ref, is_unknown)
from compliance.taggable_types import TAGGABLE_TYPES

REQUIRED_TAGS = ("Environment", "Project", "Owner", "CostCenter", "ManagedBy")


class RequiredTags(PlatformCheck):
    ID = "PLAT_TAG_001"
    NAME = "Taggable resources carry Environment, Project, Owner, CostCenter and ManagedBy tags"
    RESOURCES = tuple(sorted(TAGGABLE_TYPES))
    CATEGORY = CheckCategories.CONVENTION

    def evaluate(self, attrs, ctx):
        tags = ctx.tags_all if ctx is not None and ctx.tags_all is not None else attrs.get("tags_all")
        if tags is None:
            tags = attrs.get("tags")
        tags = first(tags) if isinstance(tags, list) else tags
        if is_unknown(tags) or is_ref(tags):
            own = first(attrs.get("tags")) if isinstance(attrs.get("tags"), list) else attrs.get("tags")
            if isinstance(own, dict) and any(own.get(k) == "" for k in REQUIRED_TAGS):
                return FAILED  # an explicitly empty required tag fails whatever the merge brings
            return UNKNOWN_RESULT
        if not isinstance(tags, dict):
            return FAILED
        unknown = False
        for key in REQUIRED_TAGS:
            v = tags.get(key)
            if v is None or v == "":
                return FAILED
            if is_unknown(v):
                unknown = True
        return UNKNOWN_RESULT if unknown else PASSED


check = RequiredTags()
