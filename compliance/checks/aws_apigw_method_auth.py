"""PLAT_AWS_017: an API Gateway REST method is not an open entry point: ``authorization = "NONE"`` needs an API
key requirement (``api_key_required``); otherwise anyone on the internet calls the backend, around the
authorisation the API was put there for. CORS preflight (``OPTIONS``) methods are exempt."""
from compliance.awsrules import literal
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, truthy


class ApiGatewayMethodAuthorization(PlatformCheck):
    ID = "PLAT_AWS_017"
    NAME = "API Gateway methods require authorisation or an API key"
    RESOURCES = ("aws_api_gateway_method",)
    CATEGORY = CheckCategories.IAM
    GUIDELINE = "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-to-api.html"

    def evaluate(self, attrs, ctx):
        auth = literal(attrs.get("authorization"))
        method = literal(attrs.get("http_method"))
        if auth is None:
            return UNKNOWN_RESULT
        if auth.upper() != "NONE" or (method or "").upper() == "OPTIONS":
            return PASSED
        key = truthy(attrs.get("api_key_required"))
        if key is None:
            return UNKNOWN_RESULT
        return PASSED if key else FAILED


check = ApiGatewayMethodAuthorization()
