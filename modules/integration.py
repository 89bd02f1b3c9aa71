"""The integration layer of one environment: API Gateway (modules/api_gateway.py), service networking
(modules/service_network.py) and outbound integrations (modules/integrations.py), composed from the environment's
``[integration]`` section and what the stack's earlier modules expose. Reference: docs/integration.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from constructs import Construct

from envs.integration import IntegrationSettings
from envs.schema import EnvironmentSettings

from .api_gateway import ApiGateway, ApiGatewaySettings, MethodThrottle, PartnerPlan
from .base import Context, Module
from .integrations import ExternalIntegration, Integrations, IntegrationsSettings
from .secret_rotation import SecretRotation, SecretRotationSettings
from .service_network import LatticeService, ServiceNetwork, ServiceNetworkSettings


@dataclass(frozen=True)
class IntegrationInputs:
    """What the integration layer takes from the rest of the stack (values, not modules)."""

    vpc_id: str
    vpc_cidr: str
    private_subnet_ids: tuple[str, ...]
    logs_kms_key_arn: str
    secrets_kms_key_arn: str
    log_retention_days: int
    namespace: str
    """Default Cloud Map namespace (``<environment>.<project>.internal``)."""
    alb_arn: str | None = None
    alb_dns_name: str | None = None
    alb_origin_hostname: str | None = None
    """A name the ALB's certificate covers (``origin.<zone>``), which HTTPS integrations call instead of the ALB's
    ``*.elb.amazonaws.com`` name (PLAT_AWS_015). Default: none (the ALB's DNS name)."""
    waf_acl_arn: str | None = None
    alarm_topic_arns: Mapping[str, str] | None = None


class Integration(Module):
    """API Gateway + service networking + outbound integrations.

    Public attributes: ``api`` (ApiGateway or None), ``service_network`` (ServiceNetwork or None), ``integrations``
    (Integrations), ``rotation`` (SecretRotation: the shipped rotation function, or None when no integration uses
    it).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: IntegrationSettings,
                 inputs: IntegrationInputs) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        i = inputs
        has_alb = i.alb_arn is not None and i.alb_dns_name is not None

        self.api: ApiGateway | None = None
        if s.enable_api_gateway and has_alb:
            self.api = ApiGateway(self, "api", ctx, ApiGatewaySettings(
                backend_host=s.api_backend_hostname or i.alb_origin_hostname or i.alb_dns_name, log_kms_key_arn=i.logs_kms_key_arn,
                stage_name=s.api_stage_name, authorization=s.api_authorization,
                cognito_user_pool_arns=tuple(s.api_cognito_user_pool_arns),
                rate_limit=s.api_rate_limit, burst_limit=s.api_burst_limit,
                routes=tuple(tuple(r.split(" ")) for r in s.api_routes),
                method_throttles=tuple(MethodThrottle(m.method_path, m.rate_limit, m.burst_limit)
                                       for m in s.api_method_limits),
                partners=tuple(PartnerPlan(p.name, p.rate_limit, p.burst_limit, p.quota_limit, p.quota_period)
                               for p in s.api_partners),
                log_retention_days=s.api_access_log_retention_days or i.log_retention_days,
                waf_acl_arn=i.waf_acl_arn, alarm_topic_arns=i.alarm_topic_arns,
                alarm_5xx_rate_percent=s.api_alarm_5xx_rate_percent,
                alarm_4xx_rate_percent=s.api_alarm_4xx_rate_percent,
                alarm_latency_p99_ms=s.api_alarm_latency_p99_ms))

        self.service_network: ServiceNetwork | None = None
        if s.enable_service_network:
            services = (LatticeService("app", i.alb_arn, i.alb_dns_name),) if has_alb else ()
            self.service_network = ServiceNetwork(self, "service-network", ctx, ServiceNetworkSettings(
                vpc_id=i.vpc_id, vpc_cidr=i.vpc_cidr, log_kms_key_arn=i.logs_kms_key_arn,
                namespace=s.discovery_namespace or i.namespace, services=services,
                allowed_principals=tuple(s.lattice_allowed_principals), log_retention_days=i.log_retention_days))

        self.integrations = Integrations(self, "outbound", ctx, IntegrationsSettings(
            vpc_id=i.vpc_id, vpc_cidr=i.vpc_cidr, subnet_ids=i.private_subnet_ids,
            secrets_kms_key_arn=i.secrets_kms_key_arn, logs_kms_key_arn=i.logs_kms_key_arn,
            endpoint_services=tuple(s.endpoint_services) if s.enable_interface_endpoints else (),
            # An integration with `rotation_days` and no function of its own is rotated by the shipped function
            # (below), which needs the secret first; Integrations schedules only rotations by your own function.
            integrations=tuple(ExternalIntegration(
                name=x.name, description=x.description, rotation_lambda_arn=x.rotation_lambda_arn,
                rotation_days=x.rotation_days if x.rotation_lambda_arn else None, error_pattern=x.error_pattern,
                error_threshold=x.error_threshold, error_period_seconds=x.error_period_seconds)
                for x in s.integrations),
            secret_recovery_window_days=s.secret_recovery_window_days, log_retention_days=i.log_retention_days,
            alarm_topic_arns=i.alarm_topic_arns))

        self.rotation: SecretRotation | None = None
        shipped = [x for x in s.integrations if x.rotation_days is not None and x.rotation_lambda_arn is None]
        if shipped:
            out = self.integrations
            secret_prefix = f"{ctx.name_prefix}/integrations/"
            self.rotation = SecretRotation(self, "rotation", ctx, SecretRotationSettings(
                secrets_kms_key_arn=i.secrets_kms_key_arn, logs_kms_key_arn=i.logs_kms_key_arn,
                subnet_ids=i.private_subnet_ids, security_group_ids=(out.client_security_group_id,),
                secret_name_prefix=secret_prefix, log_retention_days=i.log_retention_days,
                endpoints={f"{secret_prefix}{x.name}": {"set": x.rotation_endpoint,
                                                         "test": x.rotation_test_endpoint or x.rotation_endpoint,
                                                         "method": x.rotation_method}
                           for x in shipped if x.rotation_endpoint}))
            for x in shipped:
                self.rotation.rotate(x.name, out.secret_arns[x.name], out.secrets[x.name].id, x.rotation_days)


    def outputs(self) -> dict[str, Any]:
        """Stack outputs of the layer (only what exists): API id/URL/stage, Lattice ids, namespace, secrets."""
        out: dict[str, Any] = {}
        if self.api is not None:
            out.update(api_rest_api_id=self.api.rest_api_id, api_invoke_url=self.api.invoke_url,
                       api_stage_arn=self.api.stage_arn)
        if self.service_network is not None:
            sn = self.service_network
            out["discovery_namespace_id"] = sn.namespace_id
            if sn.service_network_id is not None:
                out["lattice_service_network_id"] = sn.service_network_id
            if sn.service_arns:
                out["lattice_service_arns"] = sn.service_arns
        if self.integrations.secret_arns:
            out["integration_secret_arns"] = self.integrations.secret_arns
        out["integration_log_group"] = self.integrations.log_group_name
        if self.rotation is not None:
            out["integration_rotation_function"] = self.rotation.function_name
        return out


def integration_inputs(stack: Any, env: EnvironmentSettings) -> IntegrationInputs:
    """Collect the integration layer's inputs from the stack's earlier modules (each may be absent)."""
    app, security, alerting = stack.app, getattr(stack, "security", None), getattr(stack, "alerting", None)
    waf = getattr(security, "waf", None) if security is not None else None
    topics = getattr(alerting, "topic_arns", None) if alerting is not None else None
    return IntegrationInputs(
        vpc_id=stack.network.vpc_id, vpc_cidr=stack.network.vpc_cidr,
        private_subnet_ids=tuple(stack.network.private_subnet_ids),
        logs_kms_key_arn=stack.keys["logs"].arn, secrets_kms_key_arn=stack.keys["secrets"].arn,
        log_retention_days=env.log_retention_days, namespace=f"{env.name}.{env.tags.project}.internal",
        alb_arn=app.alb_arn if app is not None else None,
        alb_dns_name=app.alb_dns_name if app is not None else None,
        alb_origin_hostname=getattr(getattr(stack, "data", None), "origin_hostname", None) if app is not None else None,
        waf_acl_arn=getattr(waf, "regional_acl_arn", None) if waf is not None else None,
        alarm_topic_arns=dict(topics) if isinstance(topics, Mapping) else None)


def build_integration(stack: Any, env: EnvironmentSettings) -> Integration:
    """The stack's integration layer (``stack.integration``)."""
    return Integration(stack, "integration", stack.ctx, env.integration, integration_inputs(stack, env))
