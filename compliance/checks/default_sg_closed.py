"""PLAT_NET_003: the default security group of a VPC has no rules (no ingress, no egress).

Applies to ``aws_default_security_group`` (any inline ``ingress``/``egress`` block fails; unset means Terraform
removes every rule) and to standalone rules (``aws_security_group_rule``, ``aws_vpc_security_group_ingress_rule``,
``aws_vpc_security_group_egress_rule``) attached to a default security group.  AWS's best practice is that the
default group stays closed so nothing attached to it by accident gets traffic: AWS Config rule
``vpc-default-security-group-closed``
https://docs.aws.amazon.com/config/latest/developerguide/vpc-default-security-group-closed.html and Security Hub
control EC2.2 https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html#ec2-2 (see also
https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html).
"""
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, is_unknown

RULE_TYPES = ("aws_security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")


class DefaultSecurityGroupClosed(PlatformCheck):
    ID = "PLAT_NET_003"
    NAME = "The VPC default security group has no ingress or egress rules"
    RESOURCES = ("aws_default_security_group",) + RULE_TYPES
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = "https://docs.aws.amazon.com/config/latest/developerguide/vpc-default-security-group-closed.html"

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        if rtype == "aws_default_security_group":
            unknown = False
            for key in ("ingress", "egress"):
                v = attrs.get(key)
                if is_unknown(v):
                    unknown = True
                elif as_list(v):
                    self.details.append(f"{key} rules on the default security group")
                    return FAILED
            return UNKNOWN_RESULT if unknown else PASSED
        if ctx is None:
            return PASSED  # bare Checkov cannot see which group a standalone rule names
        if ctx.ref("security_group_id", "aws_default_security_group"):
            self.details.append("rule attached to the default security group")
            return FAILED
        return PASSED


check = DefaultSecurityGroupClosed()
