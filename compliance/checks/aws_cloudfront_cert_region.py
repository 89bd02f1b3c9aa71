"""PLAT_AWS_008: the ACM certificate of a CloudFront distribution is in us-east-1 (N. Virginia); CloudFront refuses
a certificate from any other region (InvalidViewerCertificate). Reads the literal ARN's region, or the region of
the provider that creates/validates the referenced ``aws_acm_certificate``."""
from compliance.awsrules import arn_region, literal, node
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, first


class CloudFrontCertificateRegion(PlatformCheck):
    ID = "PLAT_AWS_008"
    NAME = "CloudFront ACM certificates are in us-east-1"
    RESOURCES = ("aws_cloudfront_distribution",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html"

    def evaluate(self, attrs, ctx):
        vc = first(attrs.get("viewer_certificate"))
        if not isinstance(vc, dict) or vc.get("acm_certificate_arn") in (None, ""):
            return PASSED
        lit = literal(vc.get("acm_certificate_arn"))
        if lit is not None:
            region = arn_region(lit)
            return UNKNOWN_RESULT if region is None else PASSED if region == "us-east-1" else FAILED
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        certs = n.refs("viewer_certificate", "acm_certificate_arn",
                       rtype=("aws_acm_certificate", "aws_acm_certificate_validation"))
        if not certs:
            return UNKNOWN_RESULT
        region = certs[0].region()
        if region is None:
            return UNKNOWN_RESULT
        return PASSED if region == "us-east-1" else FAILED


check = CloudFrontCertificateRegion()
