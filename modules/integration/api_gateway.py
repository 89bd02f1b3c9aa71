"""API Gateway: a regional REST API in front of the application load balancer.

``ANY /`` and ``ANY /{proxy+}`` are HTTP proxy integrations to ``https://<backend host>/`` (TLS verified, no
insecure skip), authorised by IAM (SigV4) or a Cognito user pool authorizer; with partners every method also
requires an API key. One stage with X-Ray tracing, JSON access logs to a KMS-encrypted log group, execution logs
(ERROR level, no payloads) to a pre-created KMS-encrypted group, stage-wide and per-method throttling, a usage plan
and an AWS-generated API key per partner (key values never appear in the configuration), the regional WAF web ACL
associated with the stage, and CloudWatch alarms on the 5XX rate, 4XX rate and p99 latency.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.api_gateway_api_key import ApiGatewayApiKey
from cdktf_cdktf_provider_aws.api_gateway_authorizer import ApiGatewayAuthorizer
from cdktf_cdktf_provider_aws.api_gateway_deployment import ApiGatewayDeployment
from cdktf_cdktf_provider_aws.api_gateway_integration import ApiGatewayIntegration
from cdktf_cdktf_provider_aws.api_gateway_method import ApiGatewayMethod
from cdktf_cdktf_provider_aws.api_gateway_method_settings import ApiGatewayMethodSettings
from cdktf_cdktf_provider_aws.api_gateway_request_validator import ApiGatewayRequestValidator
from cdktf_cdktf_provider_aws.api_gateway_resource import ApiGatewayResource
from cdktf_cdktf_provider_aws.api_gateway_rest_api import ApiGatewayRestApi
from cdktf_cdktf_provider_aws.api_gateway_stage import ApiGatewayStage
from cdktf_cdktf_provider_aws.api_gateway_usage_plan import ApiGatewayUsagePlan, ApiGatewayUsagePlanApiStages
from cdktf_cdktf_provider_aws.api_gateway_usage_plan_key import ApiGatewayUsagePlanKey
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, service_role, tags

AUTHORIZATIONS = ("AWS_IAM", "COGNITO_USER_POOLS")
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
#: API Gateway's hard limit on integration timeouts for REST APIs (milliseconds).
MAX_INTEGRATION_TIMEOUT_MS = 29000
#: Fields of one JSON access log line.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp", "caller": "$context.identity.caller", "user": "$context.identity.user",
    "apiKeyId": "$context.identity.apiKeyId", "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod", "resourcePath": "$context.resourcePath", "status": "$context.status",
    "protocol": "$context.protocol", "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status", "integrationLatency": "$context.integration.latency",
    "responseLatency": "$context.responseLatency", "wafResponseCode": "$context.wafResponseCode",
    "xrayTraceId": "$context.xrayTraceId", "errorMessage": "$context.error.message",
}


@dataclass(frozen=True)
class MethodThrottle:
    """A per-method throttle: ``method_path`` ``<resource path>/<METHOD>`` (``*/*`` for all)."""

    method_path: str
    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class PartnerPlan:
    """A partner's usage plan and API key."""

    name: str
    rate_limit: float
    burst_limit: int
    quota_limit: int
    quota_period: str = "DAY"


@dataclass(frozen=True)
class ApiGatewaySettings:
    """Inputs of :class:`ApiGateway`."""

    backend_host: str
    """Host name the proxy integration calls over HTTPS (the ALB's DNS name or a name its certificate covers).
    Required."""
    log_kms_key_arn: str
    """KMS key of the access and execution log groups (the environment's ``logs`` key). Required."""
    stage_name: str = "v1"
    """Stage name. Default ``v1``."""
    authorization: str = "AWS_IAM"
    """``AWS_IAM`` or ``COGNITO_USER_POOLS``. Default ``AWS_IAM``."""
    cognito_user_pool_arns: tuple[str, ...] = ()
    """User pools of the Cognito authorizer. Default none; required when `authorization` is COGNITO_USER_POOLS."""
    rate_limit: float = 100
    """Stage-wide requests per second. Default 100."""
    burst_limit: int = 200
    """Stage-wide burst. Default 200; at least `rate_limit`."""
    routes: tuple[tuple[str, str], ...] = ()
    """(HTTP method, path segment) pairs with their own resource ``/<segment>`` proxied to
    ``https://<backend_host>/<segment>``; everything else goes through ``ANY /{proxy+}``. Default none."""
    method_throttles: tuple[MethodThrottle, ...] = ()
    """Per-method throttles (``<segment>/<METHOD>`` of a route), each within the stage's limits. Default none."""
    partners: tuple[PartnerPlan, ...] = ()
    """Usage plans and API keys; when any, every method requires an API key. Default none."""
    log_retention_days: int = 30
    """Retention of the access and execution log groups. Default 30."""
    waf_acl_arn: str | None = None
    """Regional WAF web ACL associated with the stage. Default none (no association)."""
    manage_account_logging_role: bool = True
    """Create the role API Gateway writes CloudWatch logs with and set it on the account (``aws_api_gateway_account``,
    one per account and region). Default true."""
    alarm_topics: AlarmTopics = AlarmTopics()
    """The topics the alarms notify (critical: 5XX; warning: 4XX and latency). Default none (alarms without
    actions)."""
    alarm_5xx_rate_percent: float = 5
    """5XX share (percent, 5-minute average) raising the critical alarm. Default 5."""
    alarm_4xx_rate_percent: float = 25
    """4XX share (percent, 5-minute average) raising the warning alarm. Default 25."""
    alarm_latency_p99_ms: int = 2000
    """p99 latency (ms, 5 minutes) raising the warning alarm. Default 2000."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.authorization in AUTHORIZATIONS,
                f"`authorization` must be one of {', '.join(AUTHORIZATIONS)}, got {self.authorization!r}")
        require((self.authorization == "COGNITO_USER_POOLS") == bool(self.cognito_user_pool_arns),
                "`cognito_user_pool_arns` must be set exactly when `authorization` is COGNITO_USER_POOLS")
        require(self.burst_limit >= self.rate_limit, "`burst_limit` must be at least `rate_limit`")
        require(len(set(self.routes)) == len(self.routes), "`routes` must be unique")
        paths = {f"{segment}/{method}" for method, segment in self.routes}
        for t in self.method_throttles:
            require(t.method_path in paths, f"`method_throttles` {t.method_path} names no route of `routes`")
            require(t.rate_limit <= self.rate_limit and t.burst_limit <= self.burst_limit,
                    f"`method_throttles` {t.method_path} exceeds the stage's `rate_limit`/`burst_limit`")
        names = [p.name for p in self.partners]
        require(len(set(names)) == len(names), "`partners` names must be unique")
        for p in self.partners:
            require(p.quota_period in QUOTA_PERIODS, f"`partners` {p.name}: quota_period must be one of "
                                                     f"{', '.join(QUOTA_PERIODS)}")
            require(p.rate_limit <= self.rate_limit and p.burst_limit <= self.burst_limit,
                    f"`partners` {p.name} exceeds the stage's `rate_limit`/`burst_limit`")
        require(not self.backend_host.startswith(("http://", "https://")) and "/" not in self.backend_host,
                f"`backend_host` is a host name, not a URL: {self.backend_host!r}")


class ApiGateway(Module):
    """The partner-facing REST API of one environment.

    Public attributes: ``rest_api`` and ``stage`` (escape hatches), ``rest_api_id``, ``rest_api_name``,
    ``stage_name``, ``stage_arn``, ``invoke_url``, ``execution_arn``, ``access_log_group_name``,
    ``usage_plan_ids`` (partner -> id), ``api_key_ids`` (partner -> id), ``alarm_names`` (kind -> name).
    Helper: :meth:`invoke_resource_arn` (for IAM policies granting ``execute-api:Invoke``).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ApiGatewaySettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        name = f"{prefix}-api"

        self.rest_api = ApiGatewayRestApi(
            self, "rest-api", name=name, description=f"{prefix}: partner API in front of the application tier",
            endpoint_configuration={"types": ["REGIONAL"]}, api_key_source="HEADER",
            disable_execute_api_endpoint=False, tags=tags(ctx, name, extra),
            # A replacement API exists before the old one goes (REST API names need not be unique).
            lifecycle={"create_before_destroy": True})
        api = self.rest_api
        self.rest_api_id: str = api.id
        self.rest_api_name = name
        self.execution_arn: str = api.execution_arn

        authorizer_id = None
        if s.authorization == "COGNITO_USER_POOLS":
            authorizer_id = ApiGatewayAuthorizer(
                self, "cognito", name=f"{name}-cognito", rest_api_id=api.id, type="COGNITO_USER_POOLS",
                provider_arns=list(s.cognito_user_pool_arns), identity_source="method.request.header.Authorization",
            ).id
        validator = ApiGatewayRequestValidator(self, "validator", rest_api_id=api.id, name="parameters",
                                               validate_request_parameters=True, validate_request_body=False)
        proxy = ApiGatewayResource(self, "proxy", rest_api_id=api.id, parent_id=api.root_resource_id,
                                   path_part="{proxy+}")
        triggers: list[object] = []
        dependables = []
        methods = [("root", api.root_resource_id, "", "ANY"), ("proxy", proxy.id, "{proxy}", "ANY")]
        segments: dict[str, ApiGatewayResource] = {}
        for http_method, segment in s.routes:
            if segment not in segments:
                segments[segment] = ApiGatewayResource(self, f"route-{segment}", rest_api_id=api.id,
                                                       parent_id=api.root_resource_id, path_part=segment)
            methods.append((f"route-{segment}-{http_method.lower()}", segments[segment].id, segment, http_method))
        for key, resource_id, path, http_method in methods:
            params = {"method.request.path.proxy": True} if path == "{proxy}" else None
            method = ApiGatewayMethod(
                self, key if key.startswith("route-") else f"{key}-any", rest_api_id=api.id,
                resource_id=resource_id, http_method=http_method,
                authorization=s.authorization, authorizer_id=authorizer_id, api_key_required=bool(s.partners),
                request_parameters=params, request_validator_id=validator.id)
            integration = ApiGatewayIntegration(
                self, f"{key}-integration", rest_api_id=api.id, resource_id=resource_id,
                http_method=method.http_method, type="HTTP_PROXY", integration_http_method=http_method,
                uri=f"https://{s.backend_host}/{path}", timeout_milliseconds=MAX_INTEGRATION_TIMEOUT_MS,
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"} if params
                else None,
                tls_config={"insecure_skip_verification": False}, passthrough_behavior="WHEN_NO_MATCH")
            dependables += [method, integration]
            triggers.append([key, http_method, s.authorization, bool(s.partners), path])
        # A new deployment whenever the API's shape changes (the stage then points at it); created before the old
        # one is destroyed so the stage is never left without a deployment.
        shape = json.dumps([triggers, list(s.cognito_user_pool_arns)], sort_keys=True)
        deployment = ApiGatewayDeployment(
            self, "deployment", rest_api_id=api.id, description=f"{name} deployment",
            triggers={"shape": hashlib.sha256(shape.encode()).hexdigest()[:16], "backend": s.backend_host},
            lifecycle={"create_before_destroy": True}, depends_on=dependables)

        account = self._account_logging() if s.manage_account_logging_role else None
        self.access_log_group = CloudwatchLogGroup(
            self, "access-logs", name=f"/aws/apigateway/{name}/{s.stage_name}/access",
            retention_in_days=s.log_retention_days, kms_key_id=s.log_kms_key_arn,
            tags=tags(ctx, f"{name}-access-logs", extra))
        self.access_log_group_name: str = self.access_log_group.name
        # The execution log group API Gateway would otherwise create itself, unencrypted and kept forever.
        execution_logs = CloudwatchLogGroup(
            self, "execution-logs", name=f"API-Gateway-Execution-Logs_{api.id}/{s.stage_name}",
            retention_in_days=s.log_retention_days, kms_key_id=s.log_kms_key_arn,
            tags=tags(ctx, f"{name}-execution-logs", extra))
        self.stage = ApiGatewayStage(
            self, "stage", rest_api_id=api.id, deployment_id=deployment.id, stage_name=s.stage_name,
            description=f"{name} {s.stage_name}", xray_tracing_enabled=True,
            access_log_settings={"destination_arn": self.access_log_group.arn,
                                 "format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))},
            tags=tags(ctx, f"{name}-{s.stage_name}", extra),
            depends_on=[execution_logs] + ([account] if account is not None else []))
        self.stage_name: str = self.stage.stage_name
        self.stage_arn: str = self.stage.arn
        self.invoke_url: str = self.stage.invoke_url

        self._method_settings("all", "*/*", s.rate_limit, s.burst_limit)
        for i, t in enumerate(s.method_throttles):
            self._method_settings(f"method-{i}", t.method_path, t.rate_limit, t.burst_limit)

        self.usage_plan_ids: dict[str, str] = {}
        self.api_key_ids: dict[str, str] = {}
        for p in s.partners:
            self._partner(p)

        if s.waf_acl_arn is not None:
            Wafv2WebAclAssociation(self, "waf", resource_arn=self.stage.arn, web_acl_arn=s.waf_acl_arn)

        self.alarm_names: dict[str, str] = {}
        self._alarms()

    def invoke_resource_arn(self, method: str = "*", path: str = "*") -> str:
        """``arn:...:execute-api:...`` of ``method`` on ``path`` in the stage, for ``execute-api:Invoke`` grants."""
        return f"{self.execution_arn}/{self.settings.stage_name}/{method}/{path}"

    def _account_logging(self) -> ApiGatewayAccount:
        ctx, name = self.ctx, f"{self.ctx.name_prefix}-apigateway-logs"
        role = service_role(self, "logs-role", ctx, name=name, service="apigateway.amazonaws.com",
                            extra_tags=self.settings.extra_tags,
                            description="API Gateway writes access and execution logs")
        IamRolePolicy(self, "logs-policy", name="write-api-logs", role=role.id, policy=policy_json({
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
                       "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"],
            "Resource": f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:*",
        }))
        return ApiGatewayAccount(self, "account", cloudwatch_role_arn=role.arn)

    def _method_settings(self, id_: str, method_path: str, rate: float, burst: int) -> None:
        ApiGatewayMethodSettings(
            self, f"settings-{id_}", rest_api_id=self.rest_api.id, stage_name=self.stage.stage_name,
            method_path=method_path,
            settings={"metrics_enabled": True, "logging_level": "ERROR", "data_trace_enabled": False,
                      "throttling_rate_limit": rate, "throttling_burst_limit": burst,
                      "caching_enabled": False, "cache_data_encrypted": True})

    def _partner(self, p: PartnerPlan) -> None:
        ctx, extra = self.ctx, self.settings.extra_tags
        name = f"{ctx.name_prefix}-api-{p.name}"
        plan = ApiGatewayUsagePlan(
            self, f"plan-{p.name}", name=name, description=f"usage plan of partner {p.name}",
            api_stages=[ApiGatewayUsagePlanApiStages(api_id=self.rest_api.id, stage=self.stage.stage_name)],
            throttle_settings={"rate_limit": p.rate_limit, "burst_limit": p.burst_limit},
            quota_settings={"limit": p.quota_limit, "period": p.quota_period},
            tags=tags(ctx, name, {**extra, "Partner": p.name}))
        # No `value`: AWS generates the key, so it never appears in the configuration or the plan.
        key = ApiGatewayApiKey(self, f"key-{p.name}", name=name, description=f"API key of partner {p.name}",
                               enabled=True, tags=tags(ctx, name, {**extra, "Partner": p.name}))
        ApiGatewayUsagePlanKey(self, f"plan-key-{p.name}", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id)
        self.usage_plan_ids[p.name] = plan.id
        self.api_key_ids[p.name] = key.id

    def _alarms(self) -> None:
        s, ctx = self.settings, self.ctx
        dims = {"ApiName": self.rest_api_name, "Stage": s.stage_name}
        specs = (
            # kind, severity, metric, statistic kwargs, threshold, description
            ("5xx", "critical", "5XXError", {"statistic": "Average"}, s.alarm_5xx_rate_percent / 100,
             f"more than {s.alarm_5xx_rate_percent}% of API requests answered 5XX over 5 minutes"),
            ("4xx", "warning", "4XXError", {"statistic": "Average"}, s.alarm_4xx_rate_percent / 100,
             f"more than {s.alarm_4xx_rate_percent}% of API requests answered 4XX over 5 minutes"),
            ("latency", "warning", "Latency", {"extended_statistic": "p99"}, s.alarm_latency_p99_ms,
             f"API p99 latency above {s.alarm_latency_p99_ms} ms over 5 minutes"),
        )
        for kind, severity, metric, stat, threshold, description in specs:
            alarm_name = f"{self.rest_api_name}-{s.stage_name}-{kind}"
            actions = s.alarm_topics.actions(severity)
            CloudwatchMetricAlarm(
                self, f"alarm-{kind}", alarm_name=alarm_name, alarm_description=description,
                namespace="AWS/ApiGateway", metric_name=metric, dimensions=dims, period=300, evaluation_periods=1,
                threshold=threshold, comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
                alarm_actions=actions, ok_actions=actions,
                tags=tags(ctx, alarm_name, {**s.extra_tags, "Severity": severity}), **stat)
            self.alarm_names[kind] = alarm_name
