"""How a gate result names its environment and the policy in force, plainly, in every format (text, markdown,
html, json): shared by compliance/report.py and compliance/html_report.py."""
from __future__ import annotations

from compliance.gate import GateResult
from compliance.policy import STRICTEST_ENV as STRICTEST_POLICY  # the policy when no environment is given


def environment_label(r: GateResult) -> str:
    """A short name for ``r``'s column or heading: its environment, the environments it judged (``dev, staging``),
    or ``policy prod`` when no environment was given (never a "(none: ...)" that needs decoding)."""
    if r.environment:
        return r.environment
    policies = [p for p in r.policy.split(", ") if p]
    return ", ".join(policies) if len(policies) > 1 else f"policy {r.policy}"


def policy_in_force(r: GateResult) -> str:
    """The policy that judged ``r``, said plainly: ``environment dev (policy dev)``, ``environments dev, prod,
    staging (each under its own policy)`` or ``no environment given: policy prod``."""
    if r.environment:
        return f"environment {r.environment} (policy {r.policy})"
    policies = [p for p in r.policy.split(", ") if p]
    if len(policies) > 1:
        return f"environments {', '.join(policies)} (each under its own policy)"
    judged = {f.environment for f in r.findings if f.environment}
    if judged == {r.policy} or r.policy != STRICTEST_POLICY:  # one environment's stacks (the cdktf app, check)
        return f"environment {r.policy} (policy {r.policy})"
    return f"no environment given: policy {r.policy} (the strictest)"
