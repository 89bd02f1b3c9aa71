"""PLAT_NET_001: no ingress open to the internet, except TCP 80/443 to an internet-facing load balancer's
security group.

"Open to the internet" is judged on meaning, not spelling: the source networks of every ingress rule of a
security group (inline ``ingress`` blocks, ``aws_security_group_rule``, ``aws_vpc_security_group_ingress_rule``)
are normalised (host bits ignored) and united per protocol and port segment; a segment whose union covers
``0.0.0.0/0`` or ``::/0`` is open (``0.0.0.0/1`` + ``128.0.0.0/1`` is the internet).  Protocol ``-1`` (or ``all``)
opens every port of every protocol, so it includes SSH 22, RDP 3389 and the database ports.  A rule whose source or
protocol is only known after apply, and could complete the coverage, is UNKNOWN.  With the gate's cross-resource
context a world-open 80/443 rule passes only when its security group is attached to an ``aws_lb``/``aws_alb`` with
``internal = false``; bare Checkov (no context) judges each resource alone and allows 80/443 by port.

AWS: "security group rules" (protocol -1 = all traffic)
https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html and Security Hub EC2.13/EC2.14
(no 0.0.0.0/0 or ::/0 to ports 22/3389) https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html
"""
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, first
from compliance.semantics import exposures, rule_entry

LB_PORTS = {80, 443}


def _allowed(exp, sg_address, ctx):
    if exp.proto != "tcp" or exp.lo != exp.hi or exp.lo not in LB_PORTS:
        return False
    if ctx is None or sg_address is None:
        return True
    return sg_address in ctx.public_lb_security_groups


class NoWorldIngress(PlatformCheck):
    ID = "PLAT_NET_001"
    NAME = "No ingress open to the internet (any CIDR union covering 0.0.0.0/0 or ::/0) except 80/443 to a public LB"
    RESOURCES = ("aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule")
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        me = ctx.address if ctx is not None else "self"
        if rtype == "aws_security_group_rule" and first(attrs.get("type")) != "ingress":
            return PASSED
        group = ctx.group_rules() if ctx is not None else None
        if group is None:  # bare Checkov: this resource's own rules only
            rules = [r for r in as_list(attrs.get("ingress")) if isinstance(r, dict)] \
                if rtype == "aws_security_group" else [attrs]
            group = [(me, r) for r in rules]
        memo = getattr(group, "memo", None)   # the gate's groups: judged once for every member
        if memo is not None and "exposures" in memo:
            owners, found = memo["owners"], memo["exposures"]
        else:
            entries = [e for owner, rule in group if (e := rule_entry(owner, rule)) is not None]
            owners, found = {e.owner for e in entries}, exposures(entries)
            if memo is not None:
                memo["owners"], memo["exposures"] = owners, found
        if me not in owners:
            return PASSED
        if rtype == "aws_security_group":
            sg = me if ctx is not None else None
        else:
            sgs = ctx.ref("security_group_id", "aws_security_group") if ctx is not None else []
            sg = sgs[0] if sgs else ("<unresolved>" if ctx is not None else None)
        unknown = False
        for exp in found:
            if me not in exp.owners or _allowed(exp, sg, ctx):
                continue
            if exp.certain:
                self.details.append(exp.describe())
                return FAILED
            unknown = True
        if unknown:
            self.details.append("a source range or protocol known only after apply could open it to the internet")
            return UNKNOWN_RESULT
        return PASSED


check = NoWorldIngress()
