"""VPC and network: subnet tiers across AZs, internet and NAT egress, NACLs per tier, flow logs, gateway endpoints.

Layout (stable addresses): tier ``public`` / ``private`` / ``database``, one subnet per AZ; slot = tier x 4 + AZ, so
adding an AZ never renumbers an existing subnet. Public subnets route to the internet gateway; private subnets route
to a NAT gateway (one for the VPC, or one per AZ); database subnets have no route out of the VPC.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.network_acl import NetworkAcl
from cdktf_cdktf_provider_aws.network_acl_rule import NetworkAclRule
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from envs.contract import database_network_name

from modules.core.base import Context, Module, require

from modules.core.helpers import policy_json, service_role, tags

TIERS = ("public", "private", "database")
MAX_AZS = 4
ANYWHERE = "0.0.0.0/0"
#: Ephemeral ports for return traffic, split around 3389 (RDP) so no NACL opens RDP to the internet.
EPHEMERAL_RANGES = ((1024, 3388), (3390, 65535))
#: Ports the database tier accepts from the private tier: PostgreSQL and Redis.
DATABASE_PORTS = (5432, 6379)


@dataclass(frozen=True)
class NetworkSettings:
    """Inputs of :class:`Network`."""

    vpc_cidr: str
    """IPv4 CIDR of the VPC. Required."""
    availability_zones: tuple[str, ...]
    """AZ names, 1 to 4. Required."""
    nat_gateways: int
    """NAT gateways: 0 (no internet egress from private subnets), 1 (shared), or one per AZ. Required."""
    subnet_newbits: int = 4
    """Bits added to the VPC prefix per subnet. Default 4."""
    flow_log_retention_days: int = 30
    """Retention of the flow log group in days. Default 30."""
    flow_log_kms_key_arn: str | None = None
    """KMS key encrypting the flow log group. Required when `enable_flow_logs` is true (the default)."""
    enable_flow_logs: bool = True
    """VPC flow logs (all traffic) to CloudWatch Logs. Default true."""
    flow_log_traffic_type: str = "ALL"
    """``ALL``, ``ACCEPT`` or ``REJECT``. Default ``ALL``."""
    enable_gateway_endpoints: bool = True
    """Gateway endpoints for S3 and DynamoDB on the private and database route tables. Default true."""
    database_ports: tuple[int, ...] = DATABASE_PORTS
    """Ports the database tier's NACL admits from the private tier. Default PostgreSQL 5432 and Redis 6379."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        azs = len(self.availability_zones)
        require(1 <= azs <= MAX_AZS, f"`availability_zones` must list 1 to {MAX_AZS} AZs, got {azs}")
        require(self.nat_gateways in (0, 1, azs),
                f"`nat_gateways` must be 0, 1 or one per AZ ({azs}), got {self.nat_gateways}")
        require(not self.enable_flow_logs or self.flow_log_kms_key_arn is not None,
                "`flow_log_kms_key_arn` is required when `enable_flow_logs` is true")
        net = ipaddress.IPv4Network(self.vpc_cidr)
        require(net.prefixlen + self.subnet_newbits <= 28,
                f"`subnet_newbits` {self.subnet_newbits} makes subnets smaller than /28 in `vpc_cidr` {self.vpc_cidr}")
        require(self.flow_log_traffic_type in ("ALL", "ACCEPT", "REJECT"),
                f"`flow_log_traffic_type` must be ALL, ACCEPT or REJECT, got {self.flow_log_traffic_type!r}")

    def subnet_cidr(self, tier: str, az_index: int) -> str:
        net = ipaddress.IPv4Network(self.vpc_cidr)
        return str(list(net.subnets(new_prefix=net.prefixlen + self.subnet_newbits))[TIERS.index(tier) * MAX_AZS
                                                                                     + az_index])


class Network(Module):
    """The VPC of one environment.

    Public attributes: ``vpc`` (escape hatch), ``vpc_id``, ``vpc_cidr``, ``subnet_ids`` (tier -> ids, AZ order),
    ``public_subnet_ids``, ``private_subnet_ids``, ``database_subnet_ids``, ``database_subnet_group_name``,
    ``nat_gateway_ids``, ``route_table_ids`` (tier -> ids), ``flow_log_group_name``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: NetworkSettings) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = settings
        prefix = ctx.name_prefix
        extra = settings.extra_tags
        azs = settings.availability_zones

        self.vpc = Vpc(self, "vpc", cidr_block=settings.vpc_cidr, enable_dns_support=True,
                       enable_dns_hostnames=True, tags=tags(ctx, f"{prefix}-vpc", extra))
        self.vpc_id: str = self.vpc.id
        self.vpc_cidr = settings.vpc_cidr

        # The default security group admits nothing and sends nothing; every workload gets its own group.
        DefaultSecurityGroup(self, "default-sg", vpc_id=self.vpc.id, ingress=[], egress=[],
                             tags=tags(ctx, f"{prefix}-default-deny", extra))

        self.subnets: dict[str, list[Subnet]] = {}
        for tier in TIERS:
            self.subnets[tier] = [
                Subnet(self, f"{tier}-{i}", vpc_id=self.vpc.id, availability_zone=az,
                       cidr_block=settings.subnet_cidr(tier, i), map_public_ip_on_launch=False,
                       tags=tags(ctx, f"{prefix}-{tier}-{az}", {**extra, "Tier": tier}))
                for i, az in enumerate(azs)
            ]
        self.subnet_ids: dict[str, list[str]] = {t: [s.id for s in subs] for t, subs in self.subnets.items()}
        self.public_subnet_ids = self.subnet_ids["public"]
        self.private_subnet_ids = self.subnet_ids["private"]
        self.database_subnet_ids = self.subnet_ids["database"]

        # Egress: internet gateway for the public tier, NAT gateways (in public subnets) for the private tier.
        self.internet_gateway = InternetGateway(self, "igw", vpc_id=self.vpc.id, tags=tags(ctx, f"{prefix}-igw", extra))
        self.nat_gateways: list[NatGateway] = []
        for i in range(settings.nat_gateways):
            eip = Eip(self, f"nat-eip-{i}", domain="vpc", tags=tags(ctx, f"{prefix}-nat-{azs[i]}", extra))
            self.nat_gateways.append(NatGateway(
                self, f"nat-{i}", allocation_id=eip.allocation_id, subnet_id=self.subnets["public"][i].id,
                connectivity_type="public", depends_on=[self.internet_gateway],
                tags=tags(ctx, f"{prefix}-nat-{azs[i]}", extra)))
        self.nat_gateway_ids = [n.id for n in self.nat_gateways]

        # Routing: one public table, one private table per NAT gateway (or one without egress), one database table.
        self.route_tables: dict[str, list[RouteTable]] = {}
        public_rt = RouteTable(self, "public-rt", vpc_id=self.vpc.id, tags=tags(ctx, f"{prefix}-public", extra))
        Route(self, "public-internet", route_table_id=public_rt.id, destination_cidr_block=ANYWHERE,
              gateway_id=self.internet_gateway.id)
        self.route_tables["public"] = [public_rt]
        private_rts = []
        for i in range(max(1, settings.nat_gateways)):
            label = azs[i] if settings.nat_gateways == len(azs) else "shared"
            rt = RouteTable(self, f"private-rt-{i}", vpc_id=self.vpc.id, tags=tags(ctx, f"{prefix}-private-{label}", extra))
            if settings.nat_gateways:
                Route(self, f"private-nat-{i}", route_table_id=rt.id, destination_cidr_block=ANYWHERE,
                      nat_gateway_id=self.nat_gateways[i].id)
            private_rts.append(rt)
        self.route_tables["private"] = private_rts
        self.route_tables["database"] = [RouteTable(self, "database-rt", vpc_id=self.vpc.id,
                                                    tags=tags(ctx, f"{prefix}-database", extra))]
        for tier, subnets in self.subnets.items():
            tables = self.route_tables[tier]
            for i, subnet in enumerate(subnets):
                RouteTableAssociation(self, f"{tier}-rta-{i}", subnet_id=subnet.id,
                                      route_table_id=tables[i % len(tables)].id)
        self.route_table_ids = {t: [rt.id for rt in rts] for t, rts in self.route_tables.items()}

        self._network_acls()
        if settings.enable_gateway_endpoints:
            self._gateway_endpoints()
        self.flow_log_group_name: str | None = self._flow_logs() if settings.enable_flow_logs else None

        self.database_subnet_group = DbSubnetGroup(
            self, "db-subnets", name=database_network_name(prefix), subnet_ids=self.database_subnet_ids,
            description=f"{prefix} database tier", tags=tags(ctx, f"{prefix}-database", extra))
        self.database_subnet_group_name: str = self.database_subnet_group.name

    def _network_acls(self) -> None:
        """Stateless second layer: what each tier may receive; security groups remain the primary control."""
        prefix, vpc_cidr = self.ctx.name_prefix, self.settings.vpc_cidr
        private_cidrs = [self.settings.subnet_cidr("private", i) for i in range(len(self.settings.availability_zones))]
        ingress: dict[str, list[tuple[str, int, int, str]]] = {
            # (cidr, from, to, protocol)
            "public": [(ANYWHERE, 443, 443, "tcp"), (ANYWHERE, 80, 80, "tcp"), (vpc_cidr, 0, 0, "-1")]
            + [(ANYWHERE, lo, hi, "tcp") for lo, hi in EPHEMERAL_RANGES],
            "private": [(vpc_cidr, 0, 0, "-1")] + [(ANYWHERE, lo, hi, "tcp") for lo, hi in EPHEMERAL_RANGES],
            "database": [(cidr, port, port, "tcp") for cidr in private_cidrs for port in self.settings.database_ports],
        }
        egress = {
            "public": [(ANYWHERE, 0, 0, "-1")],
            "private": [(ANYWHERE, 0, 0, "-1")],
            "database": [(vpc_cidr, 1024, 65535, "tcp")],
        }
        for tier in TIERS:
            acl = NetworkAcl(self, f"{tier}-nacl", vpc_id=self.vpc.id, subnet_ids=self.subnet_ids[tier],
                             tags=tags(self.ctx, f"{prefix}-{tier}", self.settings.extra_tags))
            for direction, rules in (("in", ingress[tier]), ("out", egress[tier])):
                for n, (cidr, lo, hi, proto) in enumerate(rules):
                    NetworkAclRule(self, f"{tier}-nacl-{direction}-{n}", network_acl_id=acl.id,
                                   rule_number=100 + 10 * n, egress=direction == "out", protocol=proto,
                                   rule_action="allow", cidr_block=cidr,
                                   from_port=lo if proto != "-1" else None, to_port=hi if proto != "-1" else None)

    def _gateway_endpoints(self) -> None:
        tables = self.route_table_ids["private"] + self.route_table_ids["database"]
        for service in ("s3", "dynamodb"):
            VpcEndpoint(self, f"endpoint-{service}", vpc_id=self.vpc.id, vpc_endpoint_type="Gateway",
                        service_name=f"com.amazonaws.{self.ctx.region}.{service}", route_table_ids=tables,
                        tags=tags(self.ctx, f"{self.ctx.name_prefix}-{service}", self.settings.extra_tags))

    def _flow_logs(self) -> str:
        ctx, prefix = self.ctx, self.ctx.name_prefix
        group = CloudwatchLogGroup(self, "flow-log-group", name=f"/vpc/{prefix}/flow-logs",
                                   retention_in_days=self.settings.flow_log_retention_days,
                                   kms_key_id=self.settings.flow_log_kms_key_arn,
                                   tags=tags(ctx, f"{prefix}-flow-logs", self.settings.extra_tags))
        role = service_role(self, "flow-log-role", ctx, name=f"{prefix}-vpc-flow-logs",
                            service="vpc-flow-logs.amazonaws.com", extra_tags=self.settings.extra_tags)
        IamRolePolicy(self, "flow-log-policy", name="deliver-flow-logs", role=role.id,
                      policy=policy_json({
                          "Effect": "Allow",
                          "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                          "Resource": [group.arn, f"{group.arn}:*"],
                      }))
        FlowLog(self, "flow-log", vpc_id=self.vpc.id, traffic_type=self.settings.flow_log_traffic_type,
                log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
                max_aggregation_interval=60, tags=tags(ctx, f"{prefix}-flow-log", self.settings.extra_tags))
        return group.name
