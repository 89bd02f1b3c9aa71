"""WAFv2 web ACLs: one regional (for the ALB) and one CloudFront-scoped (us-east-1), the same rules in both.

Rules, by priority: the IP allow set (allow), the IP deny set (block), blocked countries (block, only when any are
listed), a rate-based rule per client IP (block), then six AWS managed rule groups (IP reputation, anonymous IP,
common, known bad inputs, SQL injection, Linux). Blocked requests get a JSON 403 body. Every rule emits CloudWatch
metrics and sampled requests; full logs go to a KMS-encrypted ``aws-waf-logs-*`` log group with the
``authorization`` and ``cookie`` headers redacted. Shield Advanced is opt-in.

Rules are written as one JSON document (``rule_json``, the WAFv2 API's ``Rule`` list) rather than nested ``rule``
blocks: the same rules, but the provider no longer expands some thousand nested schema attributes on every plan
(measured in benchmarks/bench_plan_cpu.py). What that changes (docs/security.md, "WAF rules as JSON"): the provider
keeps ``rule_json`` as written and compares it as JSON, so AWS's normalisation of the rules cannot cause a diff; in
exchange a rule edited outside Terraform is not reported by ``drift`` (the provider does not read rules back). Checkov's
WAF checks read ``rule`` blocks only; the project check PLAT_WAF_001 reads ``rule_json``.

Attachment: the regional ACL is associated with ``alb_arn`` when given; the CloudFront ACL is attached by setting the
distribution's ``web_acl_id`` (:meth:`Waf.attach_to_distribution`), because a CloudFront distribution takes its web
ACL as an argument rather than through an association resource.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformProvider
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.shield_protection import ShieldProtection
from cdktf_cdktf_provider_aws.shield_subscription import ShieldSubscription
from cdktf_cdktf_provider_aws.wafv2_ip_set import Wafv2IpSet
from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import Wafv2WebAclLoggingConfiguration
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, struct_list, tags

#: AWS managed rule groups every ACL runs, in evaluation order (after the project's own rules).
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
)
#: Headers never written to WAF logs.
REDACTED_HEADERS = ("authorization", "cookie")
SCOPES = {"regional": "REGIONAL", "cloudfront": "CLOUDFRONT"}
BLOCKED_BODY_KEY = "blocked"


@dataclass(frozen=True)
class WafSettings:
    """Inputs of :class:`Waf`."""

    logs_kms_key_arn: str
    """KMS key of the regional ACL's log group (the environment's ``logs`` key). Required."""
    cloudfront_logs_kms_key_arn: str
    """KMS key in us-east-1 for the CloudFront ACL's log group. Required (the ``logs`` key when the primary region
    is us-east-1)."""
    rate_limit: int = 2000
    """Requests per client IP per `rate_window_seconds` before blocking. Default 2000."""
    rate_window_seconds: int = 300
    """Evaluation window of the rate rule (60, 120, 300, 600). Default 300."""
    blocked_countries: tuple[str, ...] = ()
    """ISO alpha-2 codes to block. Default: none (no geo rule)."""
    allowed_cidrs: tuple[str, ...] = ()
    """CIDRs always allowed. Default: none (the allow set exists, empty)."""
    blocked_cidrs: tuple[str, ...] = ()
    """CIDRs always blocked. Default: none (the deny set exists, empty)."""
    log_retention_days: int = 365
    """Retention of the WAF log groups. Default 365."""
    enable_regional_acl: bool = True
    """Create the regional ACL (for the load balancer and API stages). Default true; the stack sets it only when
    the app tier exists (an ACL protecting nothing is not created)."""
    enable_cloudfront_acl: bool = True
    """Create the CloudFront-scoped ACL. Default true; the stack sets it only when the CDN exists."""
    enable_shield_advanced: bool = False
    """Shield Advanced subscription and protections for the ALB and the distribution. Default false."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(10 <= self.rate_limit <= 2_000_000_000, f"`rate_limit` must be 10..2000000000, got {self.rate_limit}")
        require(self.rate_window_seconds in (60, 120, 300, 600),
                f"`rate_window_seconds` must be 60, 120, 300 or 600, got {self.rate_window_seconds}")
        overlap = [b for b in self.blocked_cidrs for a in self.allowed_cidrs
                   if ipaddress.ip_network(a).version == ipaddress.ip_network(b).version
                   and ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))]
        require(not overlap, f"`blocked_cidrs` {overlap} overlap `allowed_cidrs`; only one of them may list a range")
        require(self.enable_regional_acl or self.enable_cloudfront_acl,
                "at least one of `enable_regional_acl` or `enable_cloudfront_acl` must be true (a WAF without an ACL "
                "protects nothing; leave the module out instead)")


#: Terraform block names -> WAFv2 API field names (the ``Rule`` shape of CreateWebACL), for every key the module
#: writes. The provider decodes ``rule_json`` into the SDK's types, silently ignoring unknown fields, so the mapping is
#: explicit (a typo would drop a statement) and tests/test_security.py checks every key of every rule against it.
#: https://docs.aws.amazon.com/waf/latest/APIReference/API_Rule.html
API_FIELDS = {
    "name": "Name", "priority": "Priority", "statement": "Statement", "action": "Action",
    "override_action": "OverrideAction", "visibility_config": "VisibilityConfig",
    "cloudwatch_metrics_enabled": "CloudWatchMetricsEnabled", "metric_name": "MetricName",
    "sampled_requests_enabled": "SampledRequestsEnabled",
    "allow": "Allow", "block": "Block", "none": "None", "custom_response": "CustomResponse",
    "response_code": "ResponseCode", "custom_response_body_key": "CustomResponseBodyKey",
    "ip_set_reference_statement": "IPSetReferenceStatement", "arn": "ARN",
    "or_statement": "OrStatement", "geo_match_statement": "GeoMatchStatement", "country_codes": "CountryCodes",
    "rate_based_statement": "RateBasedStatement", "limit": "Limit", "aggregate_key_type": "AggregateKeyType",
    "evaluation_window_sec": "EvaluationWindowSec",
    "managed_rule_group_statement": "ManagedRuleGroupStatement", "vendor_name": "VendorName",
}
#: Where the API's name differs in more than spelling: an ``or_statement`` holds ``statement`` blocks, the API's
#: OrStatement a ``Statements`` list.
_LIST_FIELDS = {("or_statement", "statement"): "Statements"}


def rules_to_api(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules written as Terraform ``rule`` blocks (snake_case) -> the WAFv2 API's Rule list (``rule_json``)."""
    def conv(value: Any, parent: str = "") -> Any:
        if isinstance(value, dict):
            return {_LIST_FIELDS.get((parent, k)) or API_FIELDS[k]: conv(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [conv(v, parent) for v in value]
        return value
    return conv(rules)


def rules_from_api(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inverse of :func:`rules_to_api` (tests and the plan-cost benchmark read rules in block form)."""
    back = {v: k for k, v in API_FIELDS.items()}
    lists = {v: k[1] for k, v in _LIST_FIELDS.items()}

    def conv(value: Any) -> Any:
        if isinstance(value, dict):
            return {lists.get(k) or back[k]: conv(v) for k, v in value.items()}
        if isinstance(value, list):
            return [conv(v) for v in value]
        return value
    return conv(rules)


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def _block() -> dict[str, Any]:
    return {"block": {"custom_response": {"response_code": 403, "custom_response_body_key": BLOCKED_BODY_KEY}}}


class Waf(Module):
    """The environment's web ACLs.

    Public attributes: ``acls`` (``regional`` / ``cloudfront`` -> Wafv2WebAcl, escape hatch), ``regional_acl_arn``
    (None without the regional ACL), ``cloudfront_acl_arn`` (None without the CloudFront ACL), ``web_acl_names`` (scope -> name), ``ip_sets`` (name -> Wafv2IpSet),
    ``log_group_names`` (scope -> name), ``metric_names`` (scope -> ACL metric name).
    Methods: :meth:`associate` (a regional resource such as an ALB), :meth:`attach_to_distribution`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: WafSettings, *,
                 us_east_1: TerraformProvider, alb_arn: str | None = None) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        self._us_east_1 = us_east_1
        self.acls: dict[str, Wafv2WebAcl] = {}
        self.ip_sets: dict[str, Wafv2IpSet] = {}
        self.log_group_names: dict[str, str] = {}
        self.metric_names: dict[str, str] = {}
        self.web_acl_names: dict[str, str] = {}
        scopes = (["regional"] if settings.enable_regional_acl else []) + \
            (["cloudfront"] if settings.enable_cloudfront_acl else [])
        for kind in scopes:
            self._acl(kind)
        self.regional_acl_arn: str | None = self.acls["regional"].arn if "regional" in self.acls else None
        self.cloudfront_acl_arn: str | None = self.acls["cloudfront"].arn if "cloudfront" in self.acls else None
        self._shield_subscription: ShieldSubscription | None = None
        if settings.enable_shield_advanced:
            self._shield_subscription = ShieldSubscription(self, "shield-advanced", auto_renew="ENABLED",
                                                           skip_destroy=True, provider=us_east_1)
        if alb_arn is not None:
            self.associate("alb", alb_arn)

    # -- public helpers ------------------------------------------------------------------------------------------
    def associate(self, name: str, resource_arn: str) -> Wafv2WebAclAssociation:
        """Associate the regional ACL with a regional resource (ALB, API Gateway stage); Shield protects it when
        Shield Advanced is on."""
        require(self.regional_acl_arn is not None,
                "the regional ACL is disabled (`enable_regional_acl` false); nothing can be associated with it")
        assoc = Wafv2WebAclAssociation(self, f"association-{name}", resource_arn=resource_arn,
                                       web_acl_arn=self.regional_acl_arn)
        self._shield(name, resource_arn)
        return assoc

    def attach_to_distribution(self, name: str, distribution: Any) -> None:
        """Attach the CloudFront ACL to a ``CloudfrontDistribution`` (sets its ``web_acl_id`` to the ACL ARN)."""
        require(self.cloudfront_acl_arn is not None,
                "the CloudFront ACL is disabled (`enable_cloudfront_acl` false); a distribution cannot be attached")
        distribution.web_acl_id = self.cloudfront_acl_arn
        self._shield(name, distribution.arn)

    # -- internals -----------------------------------------------------------------------------------------------
    def _shield(self, name: str, resource_arn: str) -> None:
        if self._shield_subscription is not None:
            ShieldProtection(self, f"shield-{name}", name=f"{self.ctx.name_prefix}-{name}", resource_arn=resource_arn,
                             depends_on=[self._shield_subscription], provider=self._us_east_1,
                             tags=tags(self.ctx, f"{self.ctx.name_prefix}-{name}", self.settings.extra_tags))

    def _acl(self, kind: str) -> None:
        ctx, s = self.ctx, self.settings
        prefix = ctx.name_prefix
        provider = self._us_east_1 if kind == "cloudfront" else None
        metric_base = f"{prefix}-{kind}".replace("-", "")

        def ip_set(name: str, cidrs: tuple[str, ...], version: int) -> Wafv2IpSet:
            ip = Wafv2IpSet(self, f"{kind}-{name}-v{version}", name=f"{prefix}-{kind}-{name}-v{version}",
                            scope=SCOPES[kind], ip_address_version=f"IPV{version}",
                            addresses=[c for c in cidrs if ipaddress.ip_network(c).version == version],
                            description=f"{prefix} {kind} {name} (IPv{version})", provider=provider,
                            tags=tags(ctx, f"{prefix}-{kind}-{name}-v{version}", s.extra_tags))
            self.ip_sets[f"{kind}-{name}-v{version}"] = ip
            return ip

        rules: list[dict[str, Any]] = []

        def add(name: str, statement: dict[str, Any], action: dict[str, Any] | None = None,
                override_none: bool = False) -> None:
            rule: dict[str, Any] = {"name": name, "priority": len(rules), "statement": statement,
                                    "visibility_config": _visibility(f"{metric_base}{name.replace('-', '')}")}
            if override_none:
                rule["override_action"] = {"none": {}}
            else:
                rule["action"] = action
            rules.append(rule)

        for list_name, cidrs, action in (("allow", s.allowed_cidrs, {"allow": {}}),
                                         ("deny", s.blocked_cidrs, _block())):
            versions = [4] + ([6] if any(ipaddress.ip_network(c).version == 6 for c in cidrs) else [])
            sets = [ip_set(list_name, cidrs, v) for v in versions]
            refs = [{"ip_set_reference_statement": {"arn": ip.arn}} for ip in sets]
            add(f"ip-{list_name}", refs[0] if len(refs) == 1 else {"or_statement": {"statement": refs}}, action)
        if s.blocked_countries:
            add("geo-block", {"geo_match_statement": {"country_codes": list(s.blocked_countries)}}, _block())
        add("rate-per-ip", {"rate_based_statement": {"limit": s.rate_limit, "aggregate_key_type": "IP",
                                                     "evaluation_window_sec": s.rate_window_seconds}}, _block())
        for group in MANAGED_RULE_GROUPS:
            add(group, {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}}, override_none=True)

        metric = f"{metric_base}acl"
        acl = Wafv2WebAcl(
            self, f"{kind}-acl", name=f"{prefix}-{kind}", scope=SCOPES[kind],
            description=f"{prefix} {kind} web ACL (managed rules, rate limit, geo and IP lists)",
            default_action={"allow": {}},
            custom_response_body=struct_list([{
                "key": BLOCKED_BODY_KEY, "content_type": "APPLICATION_JSON",
                "content": json.dumps({"error": "request blocked", "status": 403}),
            }]),
            rule_json=json.dumps(rules_to_api(rules)),
            visibility_config=_visibility(metric),
            provider=provider,
            tags=tags(ctx, f"{prefix}-{kind}", s.extra_tags),
        )
        self.acls[kind] = acl
        self.web_acl_names[kind] = f"{prefix}-{kind}"
        self.metric_names[kind] = metric

        # Logging: the group name must start with aws-waf-logs-; WAF writes through the log delivery service.
        group_name = f"aws-waf-logs-{prefix}-{kind}"
        group = CloudwatchLogGroup(
            self, f"{kind}-log-group", name=group_name, retention_in_days=s.log_retention_days,
            kms_key_id=s.cloudfront_logs_kms_key_arn if kind == "cloudfront" else s.logs_kms_key_arn,
            provider=provider, tags=tags(ctx, group_name, s.extra_tags))
        log_region = "us-east-1" if kind == "cloudfront" else ctx.region
        delivery = CloudwatchLogResourcePolicy(
            self, f"{kind}-log-delivery", policy_name=f"{prefix}-{kind}-waf-log-delivery", provider=provider,
            policy_document=policy_json({
                "Sid": "WafLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:{ctx.partition}:logs:{log_region}:{ctx.account_id}:log-group:{group_name}:*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id},
                              "ArnLike": {"aws:SourceArn":
                                          f"arn:{ctx.partition}:logs:{log_region}:{ctx.account_id}:*"}},
            }))
        Wafv2WebAclLoggingConfiguration(
            self, f"{kind}-logging", resource_arn=acl.arn, log_destination_configs=[group.arn],
            redacted_fields=struct_list([{"single_header": {"name": h}} for h in REDACTED_HEADERS]),
            depends_on=[delivery], provider=provider)
        self.log_group_names[kind] = group_name
