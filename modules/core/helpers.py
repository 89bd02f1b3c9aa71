"""The construct helpers every tier uses, in one place: tags, policy JSON, service-role trust, security-group rules.

A construct never writes these out by hand: a trust policy, a tag set or an allow rule written twice drifts apart
(one copy gains the confused-deputy condition, the other does not).
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, TypeVar

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules.core.base import Context


C = TypeVar("C", bound=Construct)

def tags(ctx: Context, name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resource tags, general to specific: context tags, then ``extra``, then ``Name``."""
    return {**ctx.tags, **(extra or {}), "Name": name}


def policy_json(*statements: Mapping[str, Any]) -> str:
    """An IAM policy document as JSON (Terraform tokens inside strings are resolved by cdktf)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=False)


def struct_list(items: list[dict[str, Any]], raw: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A list of nested provider blocks for a cdktf argument. jsii reads a *list* of plain dicts as maps with camelCase
    keys (a single struct converts from snake_case by itself), so the keys are converted here (``None`` values are
    dropped); values under a key of ``raw`` are untyped in the bindings (``Any``) and are written as they are
    (Terraform's snake_case)."""
    def camel(value: Any) -> Any:
        if isinstance(value, dict):
            return {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), k): (v if k in raw else camel(v))
                    for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [camel(v) for v in value]
        return value
    return [camel(item) for item in items]


# -- IAM: roles that an AWS service assumes ------------------------------------------------------------------------

def serves_only(construct: C, *resource_types: str) -> C:
    """Mark ``construct`` (and everything under it) as existing only for resources of ``resource_types``: where the
    target cannot create any of them, the stack layer's local variant (``modules/stack/local_variant.py``) leaves it
    out too. Returns ``construct``. The mark changes nothing in the synthesized JSON."""
    construct._serves_only = frozenset(resource_types)  # type: ignore[attr-defined]
    return construct


def served_types(construct: Any) -> frozenset[str] | None:
    """The resource types ``construct`` exists for (:func:`serves_only`), or None when it is not marked."""
    return getattr(construct, "_serves_only", None)


def notifies_for(alarms: Iterable[Any], composite: Any) -> None:
    """Mark ``alarms`` (metric alarms without actions of their own) as feeding ``composite`` (a composite alarm that
    notifies): where the target cannot create the composite, the stack layer's local variant leaves it out and gives
    each of these alarms the composite's alarm and OK actions instead, so that the condition still notifies. The mark
    changes nothing in the synthesized JSON."""
    for alarm in alarms:
        alarm._notifies_for = composite  # type: ignore[attr-defined]


def notified_composite(construct: Any) -> Any:
    """The composite alarm ``construct`` feeds (:func:`notifies_for`), or None."""
    return getattr(construct, "_notifies_for", None)


def service_trust_policy(ctx: Context, service: str, *, this_account_only: bool = True) -> str:
    """The trust policy of a role that ``service`` (``backup.amazonaws.com``) assumes.

    ``this_account_only`` (default) adds the ``aws:SourceAccount`` condition against the confused-deputy problem
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html); the EC2 instance role and the
    Synthetics canary's Lambda role are assumed by the service itself, not on behalf of a resource, and go without.
    """
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if this_account_only:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ctx.account_id}}
    return policy_json(statement)


def service_role(scope: Construct, id_: str, ctx: Context, *, name: str, service: str,
                 extra_tags: Mapping[str, str] | None = None, this_account_only: bool = True,
                 **kwargs: Any) -> IamRole:
    """An IAM role named ``name`` that ``service`` assumes (see :func:`service_trust_policy`), tagged with its name.
    ``kwargs`` go to the role (``description``, ``max_session_duration``)."""
    return IamRole(scope, id_, name=name,
                   assume_role_policy=service_trust_policy(ctx, service, this_account_only=this_account_only),
                   tags=tags(ctx, name, extra_tags), **kwargs)


# -- security groups and their rules --------------------------------------------------------------------------------

def security_group(scope: Construct, id_: str, ctx: Context, *, name: str, vpc_id: str, description: str,
                   extra_tags: Mapping[str, str] | None = None, **kwargs: Any) -> SecurityGroup:
    """A security group named and tagged ``name``; rules are separate resources (:func:`allow_tcp`)."""
    return SecurityGroup(scope, id_, name=name, vpc_id=vpc_id, description=description,
                         tags=tags(ctx, name, extra_tags), **kwargs)


def allow_tcp(scope: Construct, id_: str, ctx: Context, *, security_group_id: str, port: int, description: str,
              tag_name: str, extra_tags: Mapping[str, str] | None = None, inbound: bool = True,
              cidr: str | None = None, peer_security_group_id: str | None = None
              ) -> VpcSecurityGroupIngressRule | VpcSecurityGroupEgressRule:
    """One TCP ``port`` rule of ``security_group_id``, inbound from (or, ``inbound=False``, outbound to) exactly one
    of ``cidr`` or ``peer_security_group_id``
    (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html).

    On the emulator a referenced group comes back as ``<account>/<sg>``; where that matters use
    :func:`allow_tcp_between_groups`."""
    assert (cidr is None) != (peer_security_group_id is None), "give exactly one of cidr, peer_security_group_id"
    rule = VpcSecurityGroupIngressRule if inbound else VpcSecurityGroupEgressRule
    return rule(scope, id_, security_group_id=security_group_id, ip_protocol="tcp", from_port=port, to_port=port,
                cidr_ipv4=cidr, referenced_security_group_id=peer_security_group_id, description=description,
                tags=tags(ctx, tag_name, extra_tags))


def allow_tcp_between_groups(scope: Construct, id_: str, *, security_group_id: str, port: int,
                             peer_security_group_id: str, description: str, inbound: bool) -> SecurityGroupRule:
    """A group-to-group TCP ``port`` rule as ``aws_security_group_rule``: the emulator returns the referenced group
    of ``aws_vpc_security_group_*_rule`` as ``<account>/<sg>``, which would re-plan forever."""
    return SecurityGroupRule(scope, id_, type="ingress" if inbound else "egress", security_group_id=security_group_id,
                             protocol="tcp", from_port=port, to_port=port,
                             source_security_group_id=peer_security_group_id, description=description)


def security_group_admitting(scope: Construct, id_: str, ctx: Context, *, name: str, vpc_id: str, description: str,
                             port: int, groups: Iterable[str], rule_description: str, rule_tag_name: str,
                             extra_tags: Mapping[str, str] | None = None) -> SecurityGroup:
    """A security group (:func:`security_group`) that admits TCP ``port`` from each of ``groups`` (rules
    ``<id_>-in-app-0``, ``-1``, ...), the shape of a data store reached by the app tier."""
    group = security_group(scope, id_, ctx, name=name, vpc_id=vpc_id, description=description, extra_tags=extra_tags)
    for i, peer in enumerate(groups):
        allow_tcp(scope, f"{id_}-in-app-{i}", ctx, security_group_id=group.id, port=port, peer_security_group_id=peer,
                  description=rule_description, tag_name=rule_tag_name, extra_tags=extra_tags)
    return group
