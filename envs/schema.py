"""The typed settings schema of one environment (``envs/<name>.toml``).

Every field documents its default in words. Cross-field rules live here, so a bad settings file is rejected before
anything is synthesized. Nothing in this package imports ``modules/``, ``compliance/`` or the runner.
"""
from __future__ import annotations

import ipaddress
from enum import Enum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from . import aws_catalog
from .app import AppTierSettings
from .base import Section
from .data import DataTierSettings
from .integration import IntegrationSettings
from .observability import ObservabilitySettings
from .operations import OperationsSettings
from .security import SecuritySettings

#: Retention values CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)

#: Subnet tiers in address order; each tier gets ``MAX_AZS`` slots so adding an AZ never renumbers a subnet.
SUBNET_TIERS = ("public", "private", "database")
MAX_AZS = 4

_REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"


class ProtectionLevel(str, Enum):
    """How much an environment is protected against loss and outage.

    ``low`` (development): everything may be destroyed; one AZ and one NAT gateway are allowed.
    ``medium`` (pre-production): at least two AZs; ``destroy`` asks for confirmation.
    ``high`` (production): three AZs with one NAT gateway per AZ, deletion protection and final snapshots on data
    stores, Multi-AZ databases; ``destroy`` is refused without an explicit override.
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class NatStrategy(str, Enum):
    """``single``: one NAT gateway for the VPC (cheap, one AZ is a single point of failure).
    ``one_per_az``: one NAT gateway and one private route table per AZ (resilient to the loss of an AZ)."""

    SINGLE = "single"
    ONE_PER_AZ = "one_per_az"


class Tags(Section):
    """Organisation tags every resource carries (with Environment and ManagedBy, added by the tool)."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
    """Project name, lowercase with dashes (also the prefix of resource names). Required."""
    owner: Annotated[str, Field(min_length=3)]
    """Owning team or person (an email or team handle). Required."""
    cost_center: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{2,32}$")]
    """Cost center code for cost allocation. Required."""

    @field_validator("project", "owner", "cost_center")
    @classmethod
    def _tag_value(cls, value: str, info) -> str:  # type: ignore[no-untyped-def]
        # Each is the value of a tag on every resource (Project, Owner, CostCenter): AWS's tag rules apply.
        problem = aws_catalog.tag_text_problem(value, aws_catalog.TAG_VALUE_MAX)
        if problem:
            raise ValueError(f"{problem}; tags.{info.field_name} becomes a tag value on every resource: use at "
                             f"most {aws_catalog.TAG_VALUE_MAX} letters, numbers, spaces and "
                             f"{' '.join(aws_catalog.TAG_SYMBOLS)}")
        return value


class Network(Section):
    """The VPC and its subnet tiers."""

    vpc_cidr: str
    """IPv4 CIDR of the VPC, private (RFC 1918), prefix /16 to /24. Required; must not overlap another environment's."""
    az_count: Annotated[int, Field(ge=1, le=MAX_AZS)]
    """Number of availability zones (1 to 4). Required; at least 2 when `protection_level` is medium, 3 when high."""
    nat_strategy: NatStrategy
    """``single`` or ``one_per_az``. Required; ``one_per_az`` when `protection_level` is high."""
    subnet_newbits: Annotated[int, Field(ge=4, le=12)] = 4
    """Bits added to the VPC prefix for each subnet. Default 4 (a /16 VPC gets /20 subnets). Each tier reserves
    4 AZ slots, so 3 tiers x 4 slots = 12 subnets must fit and subnets must be /28 or larger."""

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid IPv4 network CIDR ({exc}); use e.g. '10.10.0.0/16'") from None
        problem = aws_catalog.vpc_range_problem(net)
        if problem:
            raise ValueError(f"{problem}; set network.vpc_cidr to a range inside 10.0.0.0/8, 172.16.0.0/12 or "
                             "192.168.0.0/16 (not 172.17.0.0/16), e.g. '10.10.0.0/16'")
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(f"prefix /{net.prefixlen} is outside /16../24; use a /16 to /24 network")
        return value

    @model_validator(mode="after")
    def _room_for_tiers(self) -> "Network":
        net = ipaddress.IPv4Network(self.vpc_cidr)
        prefix = net.prefixlen + self.subnet_newbits
        if prefix > 28:
            raise ValueError(f"subnet_newbits = {self.subnet_newbits} makes /{prefix} subnets in {self.vpc_cidr}, "
                             f"smaller than AWS's /28 minimum; set network.subnet_newbits to at most "
                             f"{28 - net.prefixlen} or use a larger vpc_cidr")
        return self

    def subnet_cidr(self, tier: str, az_index: int) -> str:
        """CIDR of the subnet of ``tier`` in the ``az_index``-th AZ (stable: slot = tier x 4 + AZ)."""
        net = ipaddress.IPv4Network(self.vpc_cidr)
        slot = SUBNET_TIERS.index(tier) * MAX_AZS + az_index
        return str(list(net.subnets(new_prefix=net.prefixlen + self.subnet_newbits))[slot])


class Sizes(Section):
    """Instance sizes and capacities of the workload tiers."""

    instance_type: str = "t3.micro"
    """EC2 instance type of the application tier. Default ``t3.micro``."""
    min_capacity: Annotated[int, Field(ge=0)] = 1
    """Minimum instances in the application Auto Scaling group. Default 1."""
    max_capacity: Annotated[int, Field(ge=1)] = 2
    """Maximum instances in the application Auto Scaling group. Default 2; at least `min_capacity`."""
    desired_capacity: Annotated[int, Field(ge=0)] | None = None
    """Desired instances. Default: `min_capacity`; between `min_capacity` and `max_capacity`."""
    db_instance_class: str = "db.t4g.micro"
    """RDS instance class. Default ``db.t4g.micro``."""
    db_allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 20
    """Initial RDS gp3 storage in GiB. Default 20."""
    db_max_allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 100
    """Upper bound of RDS storage autoscaling in GiB. Default 100; at least `db_allocated_storage_gb`."""
    cache_node_type: str = "cache.t4g.micro"
    """ElastiCache node type. Default ``cache.t4g.micro``."""

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        types = aws_catalog.ec2_instance_types()
        if value not in types:
            raise ValueError(f"{value!r} is not an EC2 instance type{aws_catalog.closest(value, types)}; set "
                             "sizes.instance_type to an existing type such as 't3.micro'")
        return value

    @model_validator(mode="after")
    def _capacities(self) -> "Sizes":
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) is greater than max_capacity "
                             f"({self.max_capacity}); lower sizes.min_capacity or raise sizes.max_capacity")
        if self.desired_capacity is not None and not (
                self.min_capacity <= self.desired_capacity <= self.max_capacity):
            raise ValueError(f"desired_capacity ({self.desired_capacity}) is outside min_capacity.."
                             f"max_capacity ({self.min_capacity}..{self.max_capacity}); set sizes.desired_capacity "
                             "inside that range or remove it")
        if self.db_max_allocated_storage_gb < self.db_allocated_storage_gb:
            raise ValueError(f"db_max_allocated_storage_gb ({self.db_max_allocated_storage_gb}) is below "
                             f"db_allocated_storage_gb ({self.db_allocated_storage_gb}); raise "
                             "sizes.db_max_allocated_storage_gb")
        return self


class EnvironmentSettings(Section):
    """One environment: the only input of the stack that is synthesized for it."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")]
    """Environment name; must equal the settings file's name (``envs/<name>.toml``). Required."""
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    """The 12-digit AWS account the environment deploys to (the provider refuses any other). Required."""
    region: Annotated[str, Field(pattern=_REGION)]
    """Primary AWS region, e.g. ``eu-west-1``. Required."""
    dr_region: Annotated[str, Field(pattern=_REGION)]
    """Disaster-recovery region; must differ from `region`. Required."""
    protection_level: ProtectionLevel
    """``low``, ``medium`` or ``high`` (see ProtectionLevel). Required; ``high`` for an environment named prod."""
    log_retention_days: int = 30
    """Retention of CloudWatch log groups in days, one of the values CloudWatch accepts. Default 30."""
    tags: Tags
    """Organisation tags (project, owner, cost_center). Required."""
    network: Network
    """VPC settings. Required."""
    sizes: Sizes = Sizes()
    """Workload sizes. Default: all defaults of Sizes."""
    app: AppTierSettings = AppTierSettings()
    """Application tier. Default: all defaults of AppTierSettings."""
    data: DataTierSettings = DataTierSettings()
    """Data tier. Default: all defaults of DataTierSettings."""
    security: SecuritySettings = SecuritySettings()
    """Security baseline. Default: all defaults of SecuritySettings."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """Observability, SLOs and cost. Default: all defaults of ObservabilitySettings."""
    integration: IntegrationSettings = IntegrationSettings()
    """Integration layer (API Gateway, service networking, outbound integrations). Default: all defaults of
    IntegrationSettings."""
    operations: OperationsSettings = OperationsSettings()
    """Operations: on-call and incident response, conformance packs and remediation. Default: all off."""

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            closest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - value))
            raise ValueError(f"{value} is not a retention CloudWatch Logs accepts; use one of "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))} (closest: {closest})")
        return value

    @field_validator("region", "dr_region")
    @classmethod
    def _known_region(cls, value: str, info) -> str:  # type: ignore[no-untyped-def]
        regions = aws_catalog.commercial_regions()
        if value not in regions:
            raise ValueError(f"{value!r} is not a region of the commercial AWS partition"
                             f"{aws_catalog.closest(value, regions)}; set {info.field_name} to one of "
                             f"{', '.join(sorted(regions))}")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> "EnvironmentSettings":
        problems: list[tuple[str, str]] = []
        # Instance classes exist per region: RDS for PostgreSQL and ElastiCache offerings (see envs/aws_catalog.py).
        for field, value, (offered, known) in (
                ("sizes.db_instance_class", self.sizes.db_instance_class,
                 aws_catalog.rds_postgres_classes(self.region)),
                ("sizes.cache_node_type", self.sizes.cache_node_type, aws_catalog.cache_node_types(self.region))):
            if value not in offered:
                where = f"in {self.region}" if known else "in any region"
                example = "db.t4g.micro" if field.endswith("db_instance_class") else "cache.t4g.micro"
                problems.append((field, f"{value!r} is not offered {where} for "
                                        f"{'RDS for PostgreSQL' if example.startswith('db.') else 'ElastiCache'}"
                                        f"{aws_catalog.closest(value, offered)}; use an existing class such as "
                                        f"{example!r}"))
        if self.dr_region == self.region:
            problems.append(("dr_region", f"equals region ({self.region}); choose another region for disaster "
                                          "recovery"))
        level = self.protection_level
        if self.name == "prod" and level is not ProtectionLevel.HIGH:
            problems.append(("protection_level", "prod must use protection_level = \"high\""))
        if level is ProtectionLevel.HIGH:
            if self.network.az_count != 3:
                problems.append(("network.az_count", f"is {self.network.az_count}; protection_level \"high\" "
                                                     "needs 3 AZs: set network.az_count = 3"))
            if self.network.nat_strategy is not NatStrategy.ONE_PER_AZ:
                problems.append(("network.nat_strategy", "protection_level \"high\" needs one NAT gateway per AZ: "
                                                         "set network.nat_strategy = \"one_per_az\""))
        elif level is ProtectionLevel.MEDIUM and self.network.az_count < 2:
            problems.append(("network.az_count", f"is {self.network.az_count}; protection_level \"medium\" needs "
                                                 "at least 2 AZs: set network.az_count = 2 or more"))
        if self.integration.enabled and self.integration.enable_api_gateway and not self.app.enabled:
            problems.append(("integration.enable_api_gateway", "the API Gateway proxies to the app tier's load "
                                                               "balancer, but app.enabled is false: set "
                                                               "integration.enable_api_gateway = false (or "
                                                               "integration.enabled = false), or app.enabled = true"))
        from . import dr  # the DR mode's objectives and pilot-light needs (envs/dr.py)
        problems += dr.problems(self)
        problems += _operations_problems(self)
        if problems:
            raise CrossFieldError(problems)
        return self

    # Derived values (documented, never stored in the file) ------------------------------------------------------

    @property
    def protected(self) -> bool:
        """True when `protection_level` is high: deletion protection, final snapshots, guarded destroy."""
        return self.protection_level is ProtectionLevel.HIGH

    @property
    def availability_zones(self) -> tuple[str, ...]:
        """The first `network.az_count` AZs of `region` (``<region>a``, ``<region>b``, ...)."""
        return tuple(f"{self.region}{letter}" for letter in "abcd"[: self.network.az_count])

    @property
    def name_prefix(self) -> str:
        """``<project>-<name>``: the prefix of every resource name."""
        return f"{self.tags.project}-{self.name}"

    @property
    def state_bucket(self) -> str:
        """The S3 bucket holding Terraform state: ``<project>-tfstate-<account_id>-<region>``."""
        return f"{self.tags.project}-tfstate-{self.account_id}-{self.region}"

    @property
    def lock_table(self) -> str:
        """The DynamoDB table holding state locks: ``<project>-tflock``."""
        return f"{self.tags.project}-tflock"

    @property
    def state_key(self) -> str:
        """The state object key: ``<name>/terraform.tfstate`` (one key per environment)."""
        return f"{self.name}/terraform.tfstate"


def _operations_problems(env: "EnvironmentSettings") -> list[tuple[str, str]]:
    """What `[operations]` needs from the rest of the settings (the security baseline, AWS Config)."""
    ops, sec = env.operations, env.security
    problems: list[tuple[str, str]] = []
    if ops.oncall.enabled and not sec.enabled:
        problems.append(("operations.oncall.enabled", "incidents are started from the security baseline's alerting "
                                                      "and findings, but security.enabled is false: set "
                                                      "security.enabled = true or operations.oncall.enabled = false"))
    config = sec.enabled and sec.enable_audit and sec.manage_account_baseline
    comp = ops.compliance
    if (comp.conformance_packs or comp.any_remediation) and not config:
        problems.append(("operations.compliance", "conformance packs and remediation need AWS Config, which this "
                                                  "environment does not build (security.enabled, enable_audit and "
                                                  "manage_account_baseline must all be true): enable them or remove "
                                                  "the conformance packs and remediations"))
    elif (comp.remediate_public_s3 or comp.remediate_open_ssh) and not sec.config_rules:
        problems.append(("operations.compliance", "remediate_public_s3 and remediate_open_ssh correct the findings "
                                                  "of the managed Config rules, but security.config_rules is false: "
                                                  "set it true or turn these remediations off"))
    return problems


class CrossFieldError(ValueError):
    """Several cross-field problems at once, each (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in problems))


__all__ = ["EnvironmentSettings", "Network", "NatStrategy", "ProtectionLevel", "Sizes", "Tags", "CrossFieldError",
           "LOG_RETENTION_DAYS", "SUBNET_TIERS", "MAX_AZS"]
