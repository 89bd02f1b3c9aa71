"""PLAT_NET_002: every VPC has a flow log (an ``aws_flow_log`` whose ``vpc_id`` references it).  Needs the
gate's cross-resource context; bare Checkov reports UNKNOWN (its own CKV2_AWS_11 covers the same ground)."""
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck


class VpcFlowLogs(PlatformCheck):
    ID = "PLAT_NET_002"
    NAME = "Every VPC has flow logs"
    RESOURCES = ("aws_vpc",)
    CATEGORY = CheckCategories.LOGGING

    def evaluate(self, attrs, ctx):
        if ctx is None:
            return UNKNOWN_RESULT
        return PASSED if ctx.referrers("aws_flow_log") else FAILED


check = VpcFlowLogs()
