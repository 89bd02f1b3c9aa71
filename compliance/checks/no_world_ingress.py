"""PLAT_NET_001: no ingress from 0.0.0.0/0 or ::/0, except TCP 80/443 to an internet-facing load balancer's
security group.

With the gate's cross-resource context a world-open 80/443 rule passes only when its security group is attached
to an ``aws_lb``/``aws_alb`` with ``internal = false``; bare Checkov (no context) allows 80/443 by port alone.
"""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 first, is_unknown, to_int)

WORLD = {"0.0.0.0/0", "::/0"}
LB_PORTS = {80, 443}


def _rule_result(rule, sg_address, ctx):
    cidrs = as_list(rule.get("cidr_blocks")) + as_list(rule.get("ipv6_cidr_blocks"))
    for k in ("cidr_ipv4", "cidr_ipv6"):
        if rule.get(k) is not None:
            cidrs.append(rule.get(k))
    if any(is_unknown(c) for c in cidrs):
        return UNKNOWN_RESULT
    if not WORLD.intersection(c for c in cidrs if isinstance(c, str)):
        return PASSED
    proto = str(first(rule.get("protocol")) if rule.get("protocol") is not None else rule.get("ip_protocol"))
    lo, hi = to_int(rule.get("from_port")), to_int(rule.get("to_port"))
    if lo is None or hi is None:
        return UNKNOWN_RESULT if any(is_unknown(rule.get(k)) for k in ("from_port", "to_port")) else FAILED
    if proto.lower() not in ("tcp", "6") or lo != hi or lo not in LB_PORTS:
        return FAILED
    if ctx is None or sg_address is None:
        return PASSED
    return PASSED if sg_address in ctx.public_lb_security_groups else FAILED


def _sg_of(ctx):
    if ctx is None:
        return None
    sgs = ctx.ref("security_group_id", "aws_security_group")
    return sgs[0] if sgs else "<unresolved>"


class NoWorldIngress(PlatformCheck):
    ID = "PLAT_NET_001"
    NAME = "No ingress from 0.0.0.0/0 or ::/0 except 80/443 to an internet-facing load balancer"
    RESOURCES = ("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule")
    CATEGORY = CheckCategories.NETWORKING

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_security_group":
            sg = ctx.address if ctx is not None else None
            results = [_rule_result(r, sg, ctx) for r in as_list(attrs.get("ingress")) if isinstance(r, dict)]
        elif rtype == "aws_security_group_rule":
            if first(attrs.get("type")) != "ingress":
                return PASSED
            results = [_rule_result(attrs, _sg_of(ctx), ctx)]
        else:
            results = [_rule_result(attrs, _sg_of(ctx), ctx)]
        if FAILED in results:
            return FAILED
        return UNKNOWN_RESULT if UNKNOWN_RESULT in results else PASSED


check = NoWorldIngress()
