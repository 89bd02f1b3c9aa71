"""PLAT_AWS_010: viewer certificate argument combinations CloudFront refuses (InvalidViewerCertificate /
InvalidArgument): with the default ``*.cloudfront.net`` certificate the minimum protocol version can only be TLSv1
(CloudFront sets it); with an ACM or IAM certificate ``ssl_support_method`` is required; aliases need a custom
certificate."""
from compliance.awsrules import literal
from compliance.checklib import FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list, first, truthy


class CloudFrontViewerCertificateArgs(PlatformCheck):
    ID = "PLAT_AWS_010"
    NAME = "CloudFront viewer certificate arguments are a combination CloudFront accepts"
    RESOURCES = ("aws_cloudfront_distribution",)
    CATEGORY = CheckCategories.ENCRYPTION
    GUIDELINE = "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"

    def evaluate(self, attrs, ctx):
        vc = first(attrs.get("viewer_certificate"))
        if not isinstance(vc, dict):
            return UNKNOWN_RESULT
        default = truthy(vc.get("cloudfront_default_certificate"))
        custom = any(vc.get(k) not in (None, "") for k in ("acm_certificate_arn", "iam_certificate_id"))
        if default is None:
            return UNKNOWN_RESULT
        if default:
            if custom:
                return FAILED
            mpv = vc.get("minimum_protocol_version")
            if mpv not in (None, "") and literal(mpv) is None:
                return UNKNOWN_RESULT
            if mpv not in (None, "", "TLSv1"):
                self.details.append(f"minimum_protocol_version {mpv} with the default certificate")
                return FAILED
            if as_list(attrs.get("aliases")):
                self.details.append("aliases need a custom certificate")
                return FAILED
            return PASSED
        if custom and vc.get("ssl_support_method") in (None, ""):
            self.details.append("ssl_support_method is required with a custom certificate")
            return FAILED
        return PASSED


check = CloudFrontViewerCertificateArgs()
