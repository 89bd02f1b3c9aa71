"""PLAT_AWS_014: a CloudFront custom origin reached over HTTPS is a host name the origin's certificate can cover.
CloudFront verifies the origin certificate against the origin domain name (or the forwarded Host header); no
certificate can cover a load balancer's ``*.elb.amazonaws.com`` name, so an HTTPS origin pointing at the ALB's
DNS name answers 502 for every request. Use a name of your domain (e.g. a Route 53 alias ``origin.<domain>``)."""
import re

from compliance.awsrules import literal, node
from compliance.checklib import address_type
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, combine, first

LB_TYPES = {"aws_lb", "aws_alb", "aws_elb"}
AWS_LB_NAME = re.compile(r"\.elb\.(?:[a-z0-9-]+\.)?amazonaws\.com\.?$", re.IGNORECASE)


class CloudFrontOriginTlsName(PlatformCheck):
    ID = "PLAT_AWS_014"
    NAME = "CloudFront HTTPS custom origins use a host name a certificate can cover (not *.elb.amazonaws.com)"
    RESOURCES = ("aws_cloudfront_distribution",)
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = ("https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
                 "using-https-cloudfront-to-custom-origin.html")

    def evaluate(self, attrs, ctx):
        n = node(ctx)
        results = []
        for origin in as_list(attrs.get("origin")):
            coc = first(origin.get("custom_origin_config")) if isinstance(origin, dict) else None
            if not isinstance(coc, dict):
                continue
            policy = literal(coc.get("origin_protocol_policy"))
            if policy is None:
                results.append(UNKNOWN_RESULT)
                continue
            if policy == "http-only":
                continue
            host = literal(origin.get("domain_name"))
            if host is not None and AWS_LB_NAME.search(host):
                results.append(FAILED)
                continue
            if n is None:
                results.append(UNKNOWN_RESULT if host is None else PASSED)
                continue
            lbs = [a for a, attr in n.ref_attrs("origin", ("origin_id", origin.get("origin_id")), "domain_name")
                   if address_type(a) in LB_TYPES and attr in (None, "dns_name")]
            if lbs:
                self.details.append(f"origin {origin.get('origin_id')} is {lbs[0]}.dns_name")
                results.append(FAILED)
            else:
                results.append(PASSED)
        return combine(results) if results else PASSED


check = CloudFrontOriginTlsName()
