"""PLAT_TAG_001: every taggable resource carries the organisation's required tags (``[tags] required`` of
``compliance/policy/organisation.toml``: Environment, Project, Owner, CostCenter and ManagedBy for this project; the gate
applies the file of its ``--policy-dir``).

Effective tags are ``tags_all`` in a plan (provider default tags merged by Terraform) and, for synthesized JSON,
the provider's ``default_tags`` merged with the resource's ``tags`` (the gate computes that; bare Checkov only
sees the resource's own ``tags``, so there a missing tag is UNKNOWN: the provider may add it).  Empty values count as
missing.
"""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first,
                                 is_ref, is_unknown)
from compliance.policy import load_organisation
from compliance.taggable_types import TAGGABLE_TYPES

#: The tags required now: the project's policy folder's, until the gate configures its own (:func:`configure`).
REQUIRED_TAGS: tuple[str, ...] = load_organisation().required_tags


def configure(required: tuple[str, ...]) -> None:
    """The required tags of the policy in force (the gate calls this with its ``--policy-dir``'s)."""
    global REQUIRED_TAGS
    REQUIRED_TAGS = tuple(required)


class RequiredTags(PlatformCheck):
    ID = "PLAT_TAG_001"
    NAME = "Taggable resources carry the organisation's required tags (policy organisation.toml)"
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
            return FAILED if ctx is not None or tags is not None else UNKNOWN_RESULT
        unknown = False
        for key in REQUIRED_TAGS:
            v = tags.get(key)
            if v == "":
                return FAILED
            if v is None:
                if ctx is None and "tags_all" not in attrs:
                    unknown = True  # bare Checkov: the provider's default_tags may add it
                    continue
                return FAILED
            if is_unknown(v):
                unknown = True
        return UNKNOWN_RESULT if unknown else PASSED


check = RequiredTags()
