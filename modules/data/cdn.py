"""CloudFront in front of the static bucket (origin access control) and the app tier's load balancer (dynamic paths).

HTTPS only towards viewers (HTTP redirects) and origins, TLS 1.2_2021 minimum with a custom certificate, AWS-managed
cache / origin request / response headers policies (static: CachingOptimized; dynamic: CachingDisabled with
AllViewerExceptHostHeader; both: SecurityHeadersPolicy), compression, HTTP/2 and HTTP/3, standard access logs to
the CDN log bucket, price class from settings. With a DR replica of the static bucket, static content fails over to
it (origin group).

WAF hook: the distribution's ``web_acl_id`` is the `web_acl_arn` setting, or whatever :meth:`Cdn.attach_web_acl`
sets later (the security module, built after the data tier, calls ``stack.data.cdn.attach_web_acl(arn)`` with a
``CLOUDFRONT``-scoped WAFv2 web ACL ARN from us-east-1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.cloudfront_distribution import CloudfrontDistribution
from cdktf_cdktf_provider_aws.cloudfront_origin_access_control import CloudfrontOriginAccessControl
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import struct_list, tags

#: AWS-managed CloudFront policies (the same ids in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
MIN_TLS = "TLSv1.2_2021"

STATIC_ORIGIN, STATIC_DR_ORIGIN, STATIC_GROUP, APP_ORIGIN = "static-s3", "static-s3-dr", "static", "app-alb"


@dataclass(frozen=True)
class CdnSettings:
    """Inputs of :class:`Cdn`."""

    static_bucket_regional_domain_name: str
    """Regional domain name of the static bucket. Required."""
    log_bucket_domain_name: str
    """Domain name of the CDN log bucket (ACLs enabled). Required."""
    static_dr_bucket_regional_domain_name: str | None = None
    """The static bucket's DR replica: a failover origin. Default: none."""
    alb_dns_name: str | None = None
    """Host name of the app tier's load balancer for `dynamic_paths`, reached over HTTPS: a name its certificate
    covers (e.g. a Route 53 alias ``origin.<domain>``), not the ALB's ``*.elb.amazonaws.com`` name, which no
    certificate covers (PLAT_AWS_014). Default: none (static content only)."""
    dynamic_paths: tuple[str, ...] = ("/api/*",)
    """Path patterns sent uncached to the load balancer. Default ``/api/*``."""
    price_class: str = "PriceClass_100"
    """Price class. Default ``PriceClass_100``."""
    aliases: tuple[str, ...] = ()
    """Alternate domain names. Default: none; needs `acm_certificate_arn`."""
    acm_certificate_arn: str | None = None
    """ACM certificate in us-east-1. Default: none (CloudFront's default certificate)."""
    web_acl_arn: str | None = None
    """WAFv2 web ACL (scope CLOUDFRONT). Default: none; see :meth:`Cdn.attach_web_acl`."""
    default_root_object: str = "index.html"
    """Object served for ``/``. Default ``index.html``."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(not self.aliases or self.acm_certificate_arn is not None,
                "`aliases` need `acm_certificate_arn` (a certificate in us-east-1 covering them)")
        require(self.price_class in ("PriceClass_100", "PriceClass_200", "PriceClass_All"),
                f"`price_class` must be PriceClass_100, PriceClass_200 or PriceClass_All, got {self.price_class!r}")


class Cdn(Module):
    """The CloudFront distribution of one environment.

    Public attributes: ``distribution`` (escape hatch), ``distribution_id``, ``distribution_arn``, ``domain_name``,
    ``hosted_zone_id``, ``origin_access_control_id``; :meth:`attach_web_acl`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: CdnSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix = ctx.name_prefix
        oac = CloudfrontOriginAccessControl(self, "oac", name=f"{prefix}-static",
                                            description=f"{prefix}: CloudFront reads the static bucket",
                                            origin_access_control_origin_type="s3", signing_behavior="always",
                                            signing_protocol="sigv4")
        self.origin_access_control_id: str = oac.id

        origins: list[dict[str, Any]] = [{"origin_id": STATIC_ORIGIN, "domain_name": s.static_bucket_regional_domain_name,
                                          "origin_access_control_id": oac.id}]
        origin_groups: list[dict[str, Any]] = []
        static_target = STATIC_ORIGIN
        if s.static_dr_bucket_regional_domain_name:
            origins.append({"origin_id": STATIC_DR_ORIGIN, "domain_name": s.static_dr_bucket_regional_domain_name,
                            "origin_access_control_id": oac.id})
            origin_groups.append({"origin_id": STATIC_GROUP,
                                  "failover_criteria": {"status_codes": [500, 502, 503, 504]},
                                  "member": [{"origin_id": STATIC_ORIGIN}, {"origin_id": STATIC_DR_ORIGIN}]})
            static_target = STATIC_GROUP
        ordered: list[dict[str, Any]] = []
        if s.alb_dns_name:
            origins.append({"origin_id": APP_ORIGIN, "domain_name": s.alb_dns_name,
                            "custom_origin_config": {"http_port": 80, "https_port": 443,
                                                     "origin_protocol_policy": "https-only",
                                                     "origin_ssl_protocols": ["TLSv1.2"],
                                                     "origin_keepalive_timeout": 5, "origin_read_timeout": 30}})
            ordered = [{"path_pattern": path, "target_origin_id": APP_ORIGIN,
                        "viewer_protocol_policy": "https-only",
                        "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                        "cached_methods": ["GET", "HEAD"], "compress": True,
                        "cache_policy_id": CACHING_DISABLED, "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                        "response_headers_policy_id": SECURITY_HEADERS}
                       for path in s.dynamic_paths]

        if s.acm_certificate_arn:
            certificate: dict[str, Any] = {"acm_certificate_arn": s.acm_certificate_arn, "ssl_support_method": "sni-only",
                                           "minimum_protocol_version": MIN_TLS}
        else:
            certificate = {"cloudfront_default_certificate": True}

        self.distribution = CloudfrontDistribution(
            self, "distribution", enabled=True, comment=f"{prefix} static content and API",
            is_ipv6_enabled=True, http_version="http2and3", price_class=s.price_class,
            default_root_object=s.default_root_object, aliases=list(s.aliases) or None,
            origin=struct_list(origins), origin_group=struct_list(origin_groups) or None,
            default_cache_behavior={"target_origin_id": static_target, "viewer_protocol_policy": "redirect-to-https",
                                    "allowed_methods": ["GET", "HEAD", "OPTIONS"], "cached_methods": ["GET", "HEAD"],
                                    "compress": True, "cache_policy_id": CACHING_OPTIMIZED,
                                    "response_headers_policy_id": SECURITY_HEADERS},
            ordered_cache_behavior=struct_list(ordered) or None,
            viewer_certificate=certificate,
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            logging_config={"bucket": s.log_bucket_domain_name, "prefix": "cloudfront/", "include_cookies": False},
            web_acl_id=s.web_acl_arn,
            tags=tags(ctx, f"{prefix}-cdn", s.extra_tags))
        self.distribution_id: str = self.distribution.id
        self.distribution_arn: str = self.distribution.arn
        self.domain_name: str = self.distribution.domain_name
        self.hosted_zone_id: str = self.distribution.hosted_zone_id

    def attach_web_acl(self, web_acl_arn: str) -> None:
        """The WAF hook: protect the distribution with a CLOUDFRONT-scoped WAFv2 web ACL (ARN, us-east-1)."""
        self.distribution.web_acl_id = web_acl_arn
