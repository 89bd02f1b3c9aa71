"""PLAT_LB_001: load balancer listeners use HTTPS/TLS with a TLS 1.2+ or TLS 1.3 security policy; plain HTTP is
allowed only when its default action redirects to HTTPS."""
from compliance.checklib import (FAILED, PASSED, UNKNOWN_RESULT, CheckCategories, PlatformCheck, as_list,
                                 first, is_ref, is_unknown)

ALLOWED_POLICY_PREFIXES = ("ELBSecurityPolicy-TLS13-", "ELBSecurityPolicy-TLS-1-2-", "ELBSecurityPolicy-FS-1-2-")


class AlbHttpsListener(PlatformCheck):
    ID = "PLAT_LB_001"
    NAME = "Listeners use HTTPS with a TLS 1.2+/1.3 policy; HTTP only redirects to HTTPS"
    RESOURCES = ("aws_lb_listener", "aws_alb_listener")
    CATEGORY = CheckCategories.ENCRYPTION

    def evaluate(self, attrs, ctx):
        proto = first(attrs.get("protocol"))
        if is_unknown(proto) or is_ref(proto):
            return UNKNOWN_RESULT
        proto = (proto or "").upper()
        if proto in ("HTTPS", "TLS"):
            policy = first(attrs.get("ssl_policy"))
            if is_unknown(policy) or is_ref(policy):
                return UNKNOWN_RESULT
            return PASSED if isinstance(policy, str) and policy.startswith(ALLOWED_POLICY_PREFIXES) else FAILED
        if proto == "HTTP":
            actions = [a for a in as_list(attrs.get("default_action")) if isinstance(a, dict)]
            for a in actions:
                if first(a.get("type")) == "redirect":
                    r = first(a.get("redirect"))
                    if isinstance(r, dict) and str(first(r.get("protocol"))).upper() == "HTTPS":
                        return PASSED
            return FAILED
        return PASSED if proto in ("TCP", "UDP", "TCP_UDP", "GENEVE") else FAILED


check = AlbHttpsListener()
