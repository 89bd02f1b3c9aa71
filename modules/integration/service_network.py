"""Service networking: VPC Lattice (App Mesh reaches end of support on 2026-09-30) and Cloud Map discovery.

VPC Lattice: a service network (IAM auth) associated with the VPC through a security group admitting HTTPS from
the VPC only; a service per exposed workload (today: the application tier, whose target group is the ALB), each
with an HTTPS listener, an IAM auth policy that admits only the allowed principals, and access logs to a
KMS-encrypted log group (service network and services). Cloud Map: a private DNS namespace in the VPC and a service
per workload; the application tier's ALB is registered as an alias instance, so ``app.<namespace>`` resolves in the
VPC.

On the local target, whatever the emulator cannot create (``ctx.target.supports``) is left out together with what
only serves it; see docs/integration.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.service_discovery_instance import ServiceDiscoveryInstance
from cdktf_cdktf_provider_aws.service_discovery_private_dns_namespace import ServiceDiscoveryPrivateDnsNamespace
from cdktf_cdktf_provider_aws.service_discovery_service import (ServiceDiscoveryService,
                                                               ServiceDiscoveryServiceDnsConfig,
                                                               ServiceDiscoveryServiceDnsConfigDnsRecords)
from cdktf_cdktf_provider_aws.vpclattice_access_log_subscription import VpclatticeAccessLogSubscription
from cdktf_cdktf_provider_aws.vpclattice_auth_policy import VpclatticeAuthPolicy
from cdktf_cdktf_provider_aws.vpclattice_listener import (VpclatticeListener, VpclatticeListenerDefaultAction,
                                                         VpclatticeListenerDefaultActionForward,
                                                         VpclatticeListenerDefaultActionForwardTargetGroups)
from cdktf_cdktf_provider_aws.vpclattice_service import VpclatticeService
from cdktf_cdktf_provider_aws.vpclattice_service_network import VpclatticeServiceNetwork
from cdktf_cdktf_provider_aws.vpclattice_service_network_service_association import \
    VpclatticeServiceNetworkServiceAssociation
from cdktf_cdktf_provider_aws.vpclattice_service_network_vpc_association import VpclatticeServiceNetworkVpcAssociation
from cdktf_cdktf_provider_aws.vpclattice_target_group import VpclatticeTargetGroup
from cdktf_cdktf_provider_aws.vpclattice_target_group_attachment import VpclatticeTargetGroupAttachment
from constructs import Construct

from modules.core.base import Context, Module, require

from modules.core.helpers import allow_tcp, policy_json, security_group, tags

INVOKE_ACTION = "vpc-lattice-svcs:Invoke"


@dataclass(frozen=True)
class LatticeService:
    """One workload exposed on the service network: an ALB reached over HTTPS."""

    name: str
    """Service name (lowercase, dashes), also the Cloud Map service name. Required."""
    alb_arn: str
    """The ALB registered as the target. Required."""
    alb_dns_name: str
    """The ALB's DNS name (the Cloud Map alias). Required."""
    port: int = 443
    """Port of the ALB's HTTPS listener. Default 443."""


@dataclass(frozen=True)
class ServiceNetworkSettings:
    """Inputs of :class:`ServiceNetwork`."""

    vpc_id: str
    """The VPC. Required."""
    vpc_cidr: str
    """The VPC's CIDR (the only source the association's security group admits). Required."""
    log_kms_key_arn: str
    """KMS key of the access log group (the environment's ``logs`` key). Required."""
    namespace: str
    """Cloud Map private DNS namespace, e.g. ``dev.webplatform.internal``. Required."""
    services: tuple[LatticeService, ...] = ()
    """Workloads exposed on the service network and in Cloud Map. Default none."""
    allowed_principals: tuple[str, ...] = ()
    """IAM principal ARNs allowed to invoke. Default: any principal of this account (``aws:PrincipalAccount``)."""
    log_retention_days: int = 30
    """Retention of the access log group. Default 30."""
    dns_ttl_seconds: int = 60
    """TTL of the Cloud Map records. Default 60."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.services]
        require(len(set(names)) == len(names), "`services` names must be unique")
        require(all(p.startswith("arn:") for p in self.allowed_principals),
                "`allowed_principals` must be IAM principal ARNs")
        require("." in self.namespace and not self.namespace.endswith("."),
                f"`namespace` must be a DNS name like dev.example.internal, got {self.namespace!r}")
        require(1 <= self.dns_ttl_seconds <= 86400, "`dns_ttl_seconds` must be 1..86400")


class ServiceNetwork(Module):
    """VPC Lattice service network + services, and Cloud Map discovery.

    Public attributes: ``service_network_id`` / ``service_network_arn`` (None when left out on the local target),
    ``security_group_id``, ``service_arns`` / ``service_dns_names`` (name -> value, for the services created),
    ``target_group_arns``, ``access_log_group_name``, ``namespace_id``, ``namespace_name``,
    ``discovery_service_ids`` (name -> Cloud Map service id). Helper: :meth:`invoke_policy_statement`.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ServiceNetworkSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, s.extra_tags
        supports = ctx.target.supports

        self.access_log_group = CloudwatchLogGroup(
            self, "access-logs", name=f"/aws/vpclattice/{prefix}", retention_in_days=s.log_retention_days,
            kms_key_id=s.log_kms_key_arn, tags=tags(ctx, f"{prefix}-lattice-access-logs", extra))
        self.access_log_group_name: str = self.access_log_group.name

        self.security_group = security_group(
            self, "sg", ctx, name=f"{prefix}-service-network", vpc_id=s.vpc_id,
            description=f"{prefix} VPC Lattice service network: HTTPS from the VPC only", extra_tags=extra)
        allow_tcp(self, "sg-in-443", ctx, security_group_id=self.security_group.id, port=443, cidr=s.vpc_cidr,
                  description="HTTPS from the VPC", tag_name=f"{prefix}-service-network-in-443", extra_tags=extra)
        self.security_group_id: str = self.security_group.id

        # The service network and what only serves it.
        self.service_network: VpclatticeServiceNetwork | None = None
        self.service_network_id: str | None = None
        self.service_network_arn: str | None = None
        if supports("aws_vpclattice_service_network"):
            self.service_network = VpclatticeServiceNetwork(
                self, "service-network", name=f"{prefix}-services", auth_type="AWS_IAM",
                tags=tags(ctx, f"{prefix}-services", extra))
            self.service_network_id = self.service_network.id
            self.service_network_arn = self.service_network.arn
            self._auth_policy("service-network", self.service_network.arn)
            self._access_logs("service-network", self.service_network.arn)
            if supports("aws_vpclattice_service_network_vpc_association"):
                VpclatticeServiceNetworkVpcAssociation(
                    self, "vpc-association", service_network_identifier=self.service_network.id,
                    vpc_identifier=s.vpc_id, security_group_ids=[self.security_group.id],
                    tags=tags(ctx, f"{prefix}-services-vpc", extra))

        self.service_arns: dict[str, str] = {}
        self.service_dns_names: dict[str, str] = {}
        self.target_group_arns: dict[str, str] = {}
        for svc in s.services:
            self._lattice_service(svc)

        # Cloud Map.
        self.namespace = ServiceDiscoveryPrivateDnsNamespace(
            self, "namespace", name=s.namespace, vpc=s.vpc_id, description=f"{prefix} service discovery",
            tags=tags(ctx, s.namespace, extra))
        self.namespace_id: str = self.namespace.id
        self.namespace_name = s.namespace
        self.discovery_service_ids: dict[str, str] = {}
        for svc in s.services:
            service = ServiceDiscoveryService(
                self, f"discovery-{svc.name}", name=svc.name, description=f"{svc.name} in {s.namespace}",
                dns_config=ServiceDiscoveryServiceDnsConfig(
                    namespace_id=self.namespace.id, routing_policy="WEIGHTED",
                    dns_records=[ServiceDiscoveryServiceDnsConfigDnsRecords(type="A", ttl=s.dns_ttl_seconds)]),
                tags=tags(ctx, f"{svc.name}.{s.namespace}", extra))
            ServiceDiscoveryInstance(self, f"discovery-{svc.name}-alb", instance_id=f"{svc.name}-alb",
                                     service_id=service.id, attributes={"AWS_ALIAS_DNS_NAME": svc.alb_dns_name})
            self.discovery_service_ids[svc.name] = service.id

    def invoke_policy_statement(self, service: str | None = None) -> dict:
        """An IAM statement allowing ``vpc-lattice-svcs:Invoke`` on ``service`` (default: every service created)."""
        arns = [self.service_arns[service]] if service else list(self.service_arns.values())
        return {"Effect": "Allow", "Action": INVOKE_ACTION, "Resource": [f"{a}/*" for a in arns]}

    def _principals_statement(self) -> dict:
        s, ctx = self.settings, self.ctx
        if s.allowed_principals:
            return {"Effect": "Allow", "Principal": {"AWS": list(s.allowed_principals)}, "Action": INVOKE_ACTION,
                    "Resource": "*"}
        return {"Effect": "Allow", "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
                "Action": INVOKE_ACTION, "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ctx.account_id}}}

    def _auth_policy(self, id_: str, resource_arn: str) -> None:
        VpclatticeAuthPolicy(self, f"{id_}-auth-policy", resource_identifier=resource_arn,
                             policy=policy_json(self._principals_statement()))

    def _access_logs(self, id_: str, resource_arn: str) -> None:
        VpclatticeAccessLogSubscription(
            self, f"{id_}-access-logs", resource_identifier=resource_arn,
            destination_arn=self.access_log_group.arn,
            tags=tags(self.ctx, f"{self.ctx.name_prefix}-{id_}-access-logs", self.settings.extra_tags))

    def _lattice_service(self, svc: LatticeService) -> None:
        ctx, s, supports = self.ctx, self.settings, self.ctx.target.supports
        prefix, extra = ctx.name_prefix, s.extra_tags
        if not supports("aws_vpclattice_service"):
            return
        name = f"{prefix}-{svc.name}"
        service = VpclatticeService(self, f"service-{svc.name}", name=name, auth_type="AWS_IAM",
                                    tags=tags(ctx, name, extra))
        self.service_arns[svc.name] = service.arn
        self.service_dns_names[svc.name] = service.dns_entry.get(0).domain_name
        self._auth_policy(f"service-{svc.name}", service.arn)
        self._access_logs(f"service-{svc.name}", service.arn)
        if self.service_network is not None:
            VpclatticeServiceNetworkServiceAssociation(
                self, f"service-{svc.name}-association", service_identifier=service.id,
                service_network_identifier=self.service_network.id, tags=tags(ctx, f"{name}-association", extra))
        if not (supports("aws_vpclattice_target_group") and supports("aws_vpclattice_listener")):
            return
        target_group = VpclatticeTargetGroup(
            self, f"service-{svc.name}-tg", name=f"{name}-alb", type="ALB",
            config={"port": svc.port, "protocol": "HTTPS", "vpc_identifier": s.vpc_id},
            tags=tags(ctx, f"{name}-alb", extra))
        self.target_group_arns[svc.name] = target_group.arn
        if supports("aws_vpclattice_target_group_attachment"):
            VpclatticeTargetGroupAttachment(self, f"service-{svc.name}-tg-alb",
                                            target_group_identifier=target_group.id,
                                            target={"id": svc.alb_arn, "port": svc.port})
        VpclatticeListener(
            self, f"service-{svc.name}-https", name="https", protocol="HTTPS", port=443,
            service_identifier=service.id,
            default_action=VpclatticeListenerDefaultAction(forward=[VpclatticeListenerDefaultActionForward(
                target_groups=[VpclatticeListenerDefaultActionForwardTargetGroups(
                    target_group_identifier=target_group.id, weight=100)])]),
            tags=tags(ctx, f"{name}-https", extra))
