"""PLAT_WAF_001: a WAFv2 web ACL has rules, every rule has exactly one action (``Action`` or, for a rule group,
``OverrideAction``), and it runs the AWS Known Bad Inputs managed rule group (``AWSManagedRulesKnownBadInputsRuleSet``,
which blocks the Log4j CVE-2021-44228 message lookup) without overriding it to count.

It reads the rules in either spelling: nested ``rule`` blocks, or ``rule_json`` (the WAFv2 API's Rule list, which the
project writes; Checkov's WAF checks CKV_AWS_175/192/342 and the Log4j graph checks read ``rule`` blocks only and do
not see those rules). At the plan stage ``rule_json`` is unknown while it references IP sets created in the same
plan: UNKNOWN then (the static stage, which sees the JSON with its references, decides).

AWS: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html (Known bad inputs),
https://docs.aws.amazon.com/waf/latest/APIReference/API_Rule.html (one of Action / OverrideAction per rule).
"""
import json
from typing import Any

from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, first,
                                 is_unknown)

KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"


def _norm(value: Any) -> Any:
    """API spelling (PascalCase) and block spelling (snake_case, blocks as one-element lists) -> snake_case, blocks
    as dicts."""
    if isinstance(value, list):
        items = [_norm(v) for v in value]
        return items[0] if len(items) == 1 and isinstance(items[0], dict) else items
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = "".join(("_" + c.lower()) if c.isupper() and i and not k[i - 1].isupper() else c.lower()
                          for i, c in enumerate(k)) if k[:1].isupper() else k
            out[key] = _norm(v)
        return out
    return value


def _present(block: Any) -> bool:
    """A nested block is present when it is an object (``{}`` in the API's JSON, ``[{}]`` as a block); absent ones
    are missing, null or an empty list (the plan lists every block of the schema, empty when unset)."""
    return isinstance(block, dict)


def _action_set(action: Any) -> bool:
    """An action (or override action) with one of its kinds present (``{"Allow": {}}``, ``{"none": [{}]}``)."""
    return isinstance(action, dict) and any(_present(v) for v in action.values())


def _has_action(rule: dict[str, Any]) -> bool:
    return [_action_set(rule.get("action")), _action_set(rule.get("override_action"))].count(True) == 1


def _runs_known_bad_inputs(rule: dict[str, Any]) -> bool:
    group = (rule.get("statement") or {}).get("managed_rule_group_statement") if isinstance(
        rule.get("statement"), dict) else None
    if not isinstance(group, dict) or group.get("name") != KNOWN_BAD_INPUTS or group.get("vendor_name") != "AWS":
        return False
    override = rule.get("override_action")
    return not (isinstance(override, dict) and _present(override.get("count")))


class WafRules(PlatformCheck):
    ID = "PLAT_WAF_001"
    NAME = "WAF web ACLs have rules with actions, including the AWS Known Bad Inputs (Log4j) managed rules"
    RESOURCES = ("aws_wafv2_web_acl",)
    CATEGORY = CheckCategories.APPLICATION_SECURITY
    GUIDELINE = "https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html"

    def evaluate(self, attrs, ctx):
        raw_json = first(attrs.get("rule_json"))
        if raw_json is not None and raw_json != "":
            if is_unknown(raw_json) or not isinstance(raw_json, str):
                return UNKNOWN_RESULT
            try:
                rules = json.loads(raw_json)
            except ValueError:
                return FAILED
            if not isinstance(rules, list):
                return FAILED
        else:
            rules = as_list(attrs.get("rule"))
        rules = [_norm(r) for r in rules if isinstance(r, dict)]
        if not rules:
            return FAILED
        if not all(_has_action(r) for r in rules):
            return FAILED
        return PASSED if any(_runs_known_bad_inputs(r) for r in rules) else FAILED


check = WafRules()
