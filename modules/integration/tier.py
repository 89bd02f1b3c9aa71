"""The integration layer of one environment: API Gateway (modules/integration/api_gateway.py), service networking
(modules/integration/service_network.py) and outbound integrations (modules/integration/outbound.py), composed from the
settings of each part (mapped from the environment's ``[integration]`` section by :mod:`modules.stack.mapping`). Reference: docs/integration.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module
from modules.integration.api_gateway import ApiGateway, ApiGatewaySettings
from modules.integration.outbound import Integrations, IntegrationsSettings
from modules.integration.secret_rotation import SecretRotation, SecretRotationSettings
from modules.integration.service_network import ServiceNetwork, ServiceNetworkSettings


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
    alarm_topics: AlarmTopics = AlarmTopics()


@dataclass(frozen=True)
class ShippedRotation:
    """An external integration's secret rotated by the shipped API-key function (modules/integration/rotation/)."""

    name: str
    rotation_days: int
    endpoint: str | None = None
    """The partner's documented key endpoint (https) the function calls in setSecret. Default none: the function
    generates and stages a new random key."""
    test_endpoint: str | None = None
    method: str = "POST"


@dataclass(frozen=True)
class IntegrationModuleSettings:
    """Inputs of :class:`Integration`: the settings of each part (None: the part is not built)."""

    outbound: IntegrationsSettings
    """Interface endpoints, external integrations' secrets and their error alarms. Required."""
    api: ApiGatewaySettings | None = None
    """The API Gateway in front of the load balancer. Default none (no API)."""
    service_network: ServiceNetworkSettings | None = None
    """VPC Lattice and Cloud Map. Default none."""
    rotations: tuple[ShippedRotation, ...] = ()
    """Integration secrets rotated by the shipped function (those with `rotation_days` and no function of their
    own). Default none: no rotation function is built."""


class Integration(Module):
    """API Gateway + service networking + outbound integrations.

    Public attributes: ``api`` (ApiGateway or None), ``service_network`` (ServiceNetwork or None), ``integrations``
    (Integrations), ``rotation`` (SecretRotation: the shipped rotation function, or None when no integration uses
    it).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: IntegrationModuleSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        self.api: ApiGateway | None = None
        if settings.api is not None:
            self.api = ApiGateway(self, "api", ctx, settings.api)
        self.service_network: ServiceNetwork | None = None
        if settings.service_network is not None:
            self.service_network = ServiceNetwork(self, "service-network", ctx, settings.service_network)
        self.integrations = Integrations(self, "outbound", ctx, settings.outbound)

        # An integration with `rotation_days` and no function of its own is rotated by the shipped function, which
        # needs the secret first; Integrations schedules only rotations by your own function.
        self.rotation: SecretRotation | None = None
        if settings.rotations:
            out, o = self.integrations, settings.outbound
            secret_prefix = f"{ctx.name_prefix}/integrations/"
            self.rotation = SecretRotation(self, "rotation", ctx, SecretRotationSettings(
                secrets_kms_key_arn=o.secrets_kms_key_arn, logs_kms_key_arn=o.logs_kms_key_arn,
                subnet_ids=o.subnet_ids, security_group_ids=(out.client_security_group_id,),
                secret_name_prefix=secret_prefix, log_retention_days=o.log_retention_days,
                endpoints={f"{secret_prefix}{x.name}": {"set": x.endpoint, "test": x.test_endpoint or x.endpoint,
                                                         "method": x.method}
                           for x in settings.rotations if x.endpoint}))
            for x in settings.rotations:
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
