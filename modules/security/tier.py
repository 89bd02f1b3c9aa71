"""The security baseline of one environment: WAF, IAM, audit, threat detection, incident response and the compliance
dashboard, composed for the stack.

Order: IAM (the permissions boundary) -> audit -> threat detection -> WAF (attached to the app tier's ALB and the
data tier's CloudFront distribution) -> incident response -> compliance dashboard. The boundary is applied to every
other role of the stack through a cdktf aspect at synthesis, so roles built before or after this module are covered.

Account-level singletons (password policy, GitHub OIDC provider, Config recorder/channel/rules, GuardDuty, Security
Hub, Inspector, Macie) are built only when `manage_account_baseline` is set; see docs/security.md.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from cdktf import Aspects, TerraformProvider, TerraformStack
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from constructs import Construct


from modules.security.audit import Audit, AuditSettings
from modules.core.base import Context, Module
from modules.core.helpers import policy_json, tags
from modules.security.iam import Iam, IamSettings
from modules.security.incident_response import IncidentResponse, IncidentResponseSettings
from modules.security.keys import EncryptionKey, EncryptionKeySettings
from modules.security.threat_detection import ThreatDetection, ThreatDetectionSettings
from modules.security.waf import Waf, WafSettings


@dataclass(frozen=True)
class SecurityBaselineSettings:
    """Inputs of :class:`Security`: one settings object per part."""

    iam: IamSettings
    audit: AuditSettings
    threat_detection: ThreatDetectionSettings
    incident: dict[str, Any]
    """Fields of IncidentResponseSettings except the VPC and topics, which the composition fills in."""
    log_retention_days: int = 365
    """Retention of the compliance-events log group. Default 365."""
    enable_audit: bool = True
    """CloudTrail, the audit bucket and (with `manage_account_baseline`) AWS Config. Default true."""
    enable_threat_detection: bool = True
    """GuardDuty, Security Hub, Inspector, Macie (account singletons). Default true."""
    enable_incident_response: bool = True
    """Finding routing, containment document, quarantine group, playbook links. Default true."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""


class Security(Module):
    """The security baseline.

    Public attributes: ``iam``, ``audit``, ``threat_detection``, ``waf``, ``incident_response`` (the parts; each but
    ``iam`` is None when switched off, ``waf`` also when there is nothing to protect),
    ``web_acl_names`` (scope -> name), ``dashboard_name``, ``compliance_log_group_name``, ``critical_topic_arn``, ``notify_topic_arn``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: SecurityBaselineSettings, *,
                 waf: WafSettings | None, vpc_id: str, us_east_1: TerraformProvider, critical_topic_arn: str,
                 notify_topic_arn: str, alb_arn: str | None = None,
                 attach_cloudfront_acl: Callable[[str], None] | None = None) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        self.iam = Iam(self, "iam", ctx, settings.iam)
        self.audit: Audit | None = Audit(self, "audit", ctx, settings.audit) if settings.enable_audit else None
        self.threat_detection: ThreatDetection | None = (
            ThreatDetection(self, "threat-detection", ctx, settings.threat_detection)
            if settings.enable_threat_detection else None)
        self.waf: Waf | None = None
        self.web_acl_names: dict[str, str] = {}
        if waf is not None:
            self.waf = Waf(self, "waf", ctx, waf, us_east_1=us_east_1,
                           alb_arn=alb_arn if waf.enable_regional_acl else None)
            self.web_acl_names = self.waf.web_acl_names
            if attach_cloudfront_acl is not None and self.waf.cloudfront_acl_arn is not None:
                attach_cloudfront_acl(self.waf.cloudfront_acl_arn)
        self.critical_topic_arn, self.notify_topic_arn = critical_topic_arn, notify_topic_arn
        self.incident_response: IncidentResponse | None = None
        if settings.enable_incident_response:
            self.incident_response = IncidentResponse(self, "incident-response", ctx, IncidentResponseSettings(
                vpc_id=vpc_id, critical_topic_arn=critical_topic_arn, notify_topic_arn=notify_topic_arn,
                extra_tags=settings.extra_tags, **settings.incident))
        self._compliance_dashboard(settings.audit.logs_kms_key_arn)
        Aspects.of(TerraformStack.of(self)).add(self.iam.boundary_aspect())

    @staticmethod
    def cloudfront_logs_key(scope: Construct, ctx: Context, us_east_1: TerraformProvider,
                            logs_key: EncryptionKey) -> str:
        """The key for the CloudFront ACL's log group: the ``logs`` key when the primary region is us-east-1,
        otherwise a dedicated key in us-east-1 (a log group needs a key of its own region)."""
        if ctx.region == "us-east-1":
            return logs_key.arn
        return EncryptionKey(scope, "kms-waf-logs-us-east-1", ctx, EncryptionKeySettings(
            data_class="waf-logs", service_principals=("logs.us-east-1.amazonaws.com",),
            logs_encryption_context=True), provider=us_east_1).arn

    def _compliance_dashboard(self, logs_key_arn: str) -> None:
        """Config rule compliance changes and Security Hub findings land in a log group (EventBridge); the dashboard
        queries it, next to WAF traffic."""
        ctx = self.ctx
        prefix = ctx.name_prefix
        group_name = f"/aws/events/{prefix}-compliance"
        group = CloudwatchLogGroup(self, "compliance-events", name=group_name,
                                   retention_in_days=self.settings.log_retention_days, kms_key_id=logs_key_arn,
                                   tags=tags(ctx, f"{prefix}-compliance-events", self.settings.extra_tags))
        self.compliance_log_group_name: str = group_name
        policy = CloudwatchLogResourcePolicy(self, "compliance-events-delivery",
                                             policy_name=f"{prefix}-compliance-events", policy_document=policy_json({
                                                 "Sid": "EventBridgeToComplianceLog",
                                                 "Effect": "Allow",
                                                 "Principal": {"Service": ["events.amazonaws.com",
                                                                           "delivery.logs.amazonaws.com"]},
                                                 "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                                 "Resource": f"{group.arn}:*",
                                             }))
        rule = CloudwatchEventRule(self, "compliance-events-rule", name=f"{prefix}-compliance-events",
                                   description="Config rule compliance changes and Security Hub findings, for the "
                                               "compliance dashboard",
                                   event_pattern=json.dumps({
                                       "source": ["aws.config", "aws.securityhub"],
                                       "detail-type": ["Config Rules Compliance Change",
                                                       "Security Hub Findings - Imported"]}),
                                   tags=tags(ctx, f"{prefix}-compliance-events", self.settings.extra_tags))
        CloudwatchEventTarget(self, "compliance-events-target", rule=rule.name, target_id="compliance-log",
                              arn=group.arn, depends_on=[policy])
        self.dashboard_name = f"{prefix}-security-compliance"
        CloudwatchDashboard(self, "compliance-dashboard", dashboard_name=self.dashboard_name,
                            dashboard_body=json.dumps(self.dashboard_body(group_name)))

    def dashboard_body(self, group_name: str) -> dict[str, Any]:
        ctx = self.ctx
        source = f"SOURCE '{group_name}'"
        playbooks = self.incident_response.playbook_urls if self.incident_response is not None else {}

        def logs(title: str, query: str, x: int, y: int, view: str = "table") -> dict[str, Any]:
            return {"type": "log", "x": x, "y": y, "width": 12, "height": 6,
                    "properties": {"title": title, "region": ctx.region, "view": view,
                                   "query": f"{source} | {query}"}}

        def waf_metric(kind: str, region: str) -> list[Any]:
            acl = f"{ctx.name_prefix}-{kind}"
            dims = ["WebACL", acl, "Rule", "ALL"] + (["Region", region] if kind == "regional" else [])
            return [["AWS/WAFV2", "BlockedRequests", *dims, {"region": region, "label": f"{kind} blocked"}],
                    ["AWS/WAFV2", "AllowedRequests", *dims, {"region": region, "label": f"{kind} allowed"}]]

        metrics: list[Any] = []
        if self.waf is not None and self.waf.regional_acl_arn is not None:
            metrics += waf_metric("regional", ctx.region)
        if self.waf is not None and self.waf.cloudfront_acl_arn is not None:
            metrics += waf_metric("cloudfront", "us-east-1")
        intro = ("AWS Config rule compliance and Security Hub findings (from EventBridge)"
                 + (", WAF traffic." if metrics else "."))
        if playbooks:
            intro += " Playbooks: " + ", ".join(f"[{k}]({v})" for k, v in playbooks.items())
        waf_widgets = [{"type": "metric", "x": 0, "y": 14, "width": 24, "height": 6, "properties": {
            "title": "WAF requests", "view": "timeSeries", "stacked": False, "region": ctx.region,
            "stat": "Sum", "period": 300, "metrics": metrics}}] if metrics else []
        return {"widgets": [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": (
                f"# {ctx.name_prefix} security and compliance\n" + intro)}},
            logs("Config rules: latest compliance per rule and resource",
                 "filter source = 'aws.config' | stats latest(detail.newEvaluationResult.complianceType) as status "
                 "by detail.configRuleName as rule, detail.resourceId as resource | sort rule", 0, 2),
            logs("Config rules: non-compliant evaluations",
                 "filter source = 'aws.config' and detail.newEvaluationResult.complianceType = 'NON_COMPLIANT' "
                 "| stats count(*) as evaluations by detail.configRuleName as rule", 12, 2, "bar"),
            logs("Security Hub findings by severity",
                 "filter source = 'aws.securityhub' | stats count(*) as findings by "
                 "detail.findings.0.Severity.Label as severity", 0, 8, "pie"),
            logs("Security Hub failed controls",
                 "filter source = 'aws.securityhub' and detail.findings.0.Compliance.Status = 'FAILED' | stats "
                 "count(*) as findings by detail.findings.0.Compliance.SecurityControlId as control | sort findings "
                 "desc | limit 25", 12, 8),
            *waf_widgets,
        ]}
