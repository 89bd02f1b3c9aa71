"""PLAT_AWS_009: WAFv2 resources with ``scope = "CLOUDFRONT"`` are created in us-east-1: the provider the resource
uses must be configured for us-east-1 (WAFInvalidParameterException otherwise)."""
from compliance.awsrules import literal, node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck


class WafCloudFrontRegion(PlatformCheck):
    ID = "PLAT_AWS_009"
    NAME = "CLOUDFRONT-scope WAFv2 resources are created in us-east-1"
    RESOURCES = ("aws_wafv2_web_acl", "aws_wafv2_ip_set", "aws_wafv2_rule_group", "aws_wafv2_regex_pattern_set")
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html"

    def evaluate(self, attrs, ctx):
        scope = literal(attrs.get("scope"))
        if scope is None:
            return UNKNOWN_RESULT
        if scope.upper() != "CLOUDFRONT":
            return PASSED
        n = node(ctx)
        region = n.region() if n is not None else None
        if region is None:
            return UNKNOWN_RESULT
        if region != "us-east-1":
            self.details.append(f"provider region {region}")
            return FAILED
        return PASSED


check = WafCloudFrontRegion()
