"""PLAT_AWS_020: an Auto Scaling group with a mixed instances policy cannot use a launch template that requests
Spot Instances itself (``instance_market_options``): CreateAutoScalingGroup refuses it ("Incompatible launch
template: You cannot use a launch template that is set to request Spot Instances ... with a mixed instances
policy"). The policy's instances distribution decides Spot vs On-Demand."""
from compliance.awsrules import node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first


class MixedInstancesSpotTemplate(PlatformCheck):
    ID = "PLAT_AWS_020"
    NAME = "Mixed instances policies use launch templates without instance market options"
    RESOURCES = ("aws_autoscaling_group",)
    CATEGORY = CheckCategories.GENERAL_SECURITY
    GUIDELINE = ("https://docs.aws.amazon.com/autoscaling/ec2/userguide/"
                 "mixed-instances-groups-set-up-overview.html")

    def evaluate(self, attrs, ctx):
        if not first(attrs.get("mixed_instances_policy")):
            return PASSED
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        templates = n.refs("mixed_instances_policy", rtype="aws_launch_template")
        if not templates:
            return UNKNOWN_RESULT
        for lt in templates:
            if first(lt.attrs.get("instance_market_options")):
                self.details.append(f"{lt.address} sets instance_market_options")
                return FAILED
        return PASSED


check = MixedInstancesSpotTemplate()
