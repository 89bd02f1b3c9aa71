"""PLAT_AWS_015: an API Gateway HTTP integration over HTTPS calls a host name its certificate can cover. API Gateway
verifies the backend certificate (unless told to skip verification, itself insecure); no certificate can cover a
load balancer's ``*.elb.amazonaws.com`` name, so such an integration fails every call with 500 "Internal server
error" (certificate name mismatch)."""
import re

from compliance.awsrules import literal, node
from compliance.checklib import (UNKNOWN, FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck,
                                 address_type)

LB_TYPES = {"aws_lb", "aws_alb", "aws_elb"}
AWS_LB_URL = re.compile(r"^https://[^/:]+\.elb\.(?:[a-z0-9-]+\.)?amazonaws\.com(?:[:/]|$)", re.IGNORECASE)


class ApiGatewayBackendTlsName(PlatformCheck):
    ID = "PLAT_AWS_015"
    NAME = "API Gateway HTTPS integrations call a host name a certificate can cover (not *.elb.amazonaws.com)"
    RESOURCES = ("aws_api_gateway_integration", "aws_apigatewayv2_integration")
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = ("https://docs.aws.amazon.com/apigateway/latest/developerguide/"
                 "api-gateway-supported-certificate-authorities-for-http-endpoints.html")

    def evaluate(self, attrs, ctx):
        rtype = self.entity_type if ctx is None else ctx.rtype
        uri_attr = "uri" if rtype == "aws_api_gateway_integration" else "integration_uri"
        itype = literal(attrs.get("type") if rtype == "aws_api_gateway_integration" else attrs.get("integration_type"))
        if itype is None:
            return UNKNOWN_RESULT
        if itype not in ("HTTP", "HTTP_PROXY") or literal(attrs.get("connection_type")) == "VPC_LINK":
            return PASSED
        uri = attrs.get(uri_attr)
        lit = literal(uri)
        if lit is not None:
            return FAILED if AWS_LB_URL.search(lit) else PASSED
        if isinstance(uri, str) and uri != UNKNOWN and not uri.lower().startswith("https://"):
            return PASSED  # a plain-HTTP template (another check's concern)
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        lbs = [a for a, attr in n.ref_attrs(uri_attr) if address_type(a) in LB_TYPES and attr in (None, "dns_name")]
        if lbs:
            self.details.append(f"backend host is {lbs[0]}.dns_name")
            return FAILED
        return PASSED


check = ApiGatewayBackendTlsName()
