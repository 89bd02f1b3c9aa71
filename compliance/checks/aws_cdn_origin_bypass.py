"""PLAT_AWS_016: a public load balancer that a CloudFront distribution fronts (its DNS name as origin, directly or
through a Route 53 record) is not reachable around the CDN without protection: a security group rule open to
0.0.0.0/0 or ::/0 lets anyone skip CloudFront's WAF, geo and TLS settings. Passes when ingress is limited to the
CloudFront origin-facing managed prefix list (no world CIDR), when a listener rule requires a header only
CloudFront adds (``http_header`` condition), or when the load balancer carries its own WAF web ACL association
(it is then a protected entry point in its own right, e.g. an API Gateway backend)."""
from compliance.awsrules import literal, node
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, address_type, as_list,
                                 first, truthy)

WORLD = {"0.0.0.0/0", "::/0"}


def _world_rule(rule):
    cidrs = as_list(rule.get("cidr_blocks")) + as_list(rule.get("ipv6_cidr_blocks"))
    cidrs += [rule.get(k) for k in ("cidr_ipv4", "cidr_ipv6") if rule.get(k) is not None]
    return bool(WORLD.intersection(c for c in cidrs if isinstance(c, str)))


def _record_names(rec):
    name = literal(rec.attrs.get("name"))
    if name is None:
        return set()
    names = {name.rstrip(".")}
    for zone in rec.refs("zone_id", rtype="aws_route53_zone"):
        zname = literal(zone.attrs.get("name"))
        if zname and not name.rstrip(".").endswith(zname.rstrip(".")):
            names.add(f"{name.rstrip('.')}.{zname.rstrip('.')}")
    return names


def _fronted_addresses(any_node):
    """Load balancers some distribution's origin is: by its DNS name, or by a record aliasing it (by reference or
    by the record's literal name). Computed once per input."""
    memo = any_node.fi.memo
    if "cdn_fronted" in memo:
        return memo["cdn_fronted"]
    lb_types = ("aws_lb", "aws_alb")
    record_target, by_name = {}, {}
    for rec in any_node.all("aws_route53_record"):
        targets = [a for a, _ in rec.ref_attrs("alias") + rec.ref_attrs("records") if address_type(a) in lb_types]
        if targets:
            record_target[rec.address] = targets
            for name in _record_names(rec):
                by_name.setdefault(name, []).extend(targets)
    fronted = set()
    for dist in any_node.all("aws_cloudfront_distribution"):
        for a, _ in dist.ref_attrs("origin"):
            if address_type(a) in lb_types:
                fronted.add(a)
            fronted.update(record_target.get(a, ()))
        for origin in as_list(dist.attrs.get("origin")):
            host = literal(origin.get("domain_name")) if isinstance(origin, dict) else None
            if host:
                fronted.update(by_name.get(host.rstrip("."), ()))
    memo["cdn_fronted"] = frozenset(fronted)
    return memo["cdn_fronted"]


def _fronted(lb):
    return lb.address in _fronted_addresses(lb)


class CdnOriginBypass(PlatformCheck):
    ID = "PLAT_AWS_016"
    NAME = "A load balancer behind CloudFront is not open to the internet around it"
    RESOURCES = ("aws_lb", "aws_alb")
    CATEGORY = CheckCategories.NETWORKING
    GUIDELINE = ("https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
                 "restrict-access-to-load-balancer.html")

    def evaluate(self, attrs, ctx):
        internal = truthy(attrs.get("internal"))
        if internal:
            return PASSED
        n = node(ctx)
        if n is None:
            return UNKNOWN_RESULT
        if not _fronted(n):
            return PASSED
        if n.referrers("aws_wafv2_web_acl_association") or n.referrers("aws_wafregional_web_acl_association"):
            return PASSED
        for listener in n.referrers(("aws_lb_listener", "aws_alb_listener")):
            for rule in listener.referrers(("aws_lb_listener_rule", "aws_alb_listener_rule")):
                if any(isinstance(c, dict) and c.get("http_header") for c in as_list(rule.attrs.get("condition"))):
                    return PASSED
        open_world = False
        for sg in n.refs("security_groups", rtype="aws_security_group"):
            if any(isinstance(r, dict) and _world_rule(r) for r in as_list(sg.attrs.get("ingress"))):
                open_world = True
            for r in sg.referrers(("aws_vpc_security_group_ingress_rule", "aws_security_group_rule")):
                if r.rtype == "aws_security_group_rule" and first(r.attrs.get("type")) != "ingress":
                    continue
                if _world_rule(r.attrs):
                    open_world = True
        if open_world:
            self.details.append("security group open to the internet; restrict it to the CloudFront prefix list")
            return FAILED
        return PASSED


check = CdnOriginBypass()
