"""Settings of the application tier (``[app]`` in ``envs/<name>.toml``): load balancer, compute, scaling, blue-green.

Capacities and the instance type live in ``[sizes]`` (``sizes.min_capacity``, ``max_capacity``,
``desired_capacity``, ``instance_type``). Every field here has a default; validators raise ``ValueError`` whose
message names the field and ends with the fix. Reference: ``docs/app-tier.md``.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from . import aws_catalog
from .base import Section
from .contract import COLOURS

_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:certificate/[0-9a-f-]{36}$")
_MATCHER = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
#: SSM parameter names: a-zA-Z0-9_.- and / for the hierarchy, at most 1011 characters
#: (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html, "Name").
_SSM_PARAMETER = re.compile(r"^[A-Za-z0-9_./-]{1,1011}$")
_ARTIFACT_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,511}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
#: TLS 1.3 security policies of Application Load Balancers (the ones that also accept TLS 1.2 clients first).
TLS13_POLICY_PREFIX = "ELBSecurityPolicy-TLS13-"


class AppTierSettings(Section):
    """The application tier: an internet-facing ALB, two Auto Scaling groups (blue and green) behind weighted
    forwarding, scaling policies and alarms, and the release flow's parameters."""

    enabled: bool = True
    """Build the application tier. Default true. When false there is no load balancer, no instances and no release
    record: the WAF's regional web ACL is not created (it would protect nothing), `integration.enable_api_gateway`
    must be false (the API fronts the load balancer), the observability canary and the data tier's failover record
    to the load balancer are left out, and ``release`` refuses the environment. Every other ``[app]`` field is then
    ignored."""

    app_port: Annotated[int, Field(ge=1024, le=65535)] = 8080
    """Port the instances serve HTTP on (the target groups' port). Default 8080."""

    # -- load balancer ---------------------------------------------------------------------------------------------
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener. Default none. Required on the aws target (synthesis for ``aws``
    refuses a missing one); on the local target it is never used: the emulator holds no copy of the account's
    certificates, so an ACM certificate for ``<prefix>.app.internal`` is requested on the emulator instead."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS security policy of the HTTPS listener; must be a TLS 1.3 policy. Default
    ``ELBSecurityPolicy-TLS13-1-2-2021-06`` (TLS 1.3 and 1.2 with forward secrecy)."""
    health_check_path: str = "/health"
    """Path the target groups' health check requests. Default ``/health``."""
    health_check_matcher: str = "200"
    """HTTP codes that mean healthy: ``200``, ``200,204`` or ``200-299``. Default ``200``."""
    healthy_threshold: Annotated[int, Field(ge=2, le=10)] = 3
    """Consecutive successes before a target is healthy, 2 to 10. Default 3."""
    unhealthy_threshold: Annotated[int, Field(ge=2, le=10)] = 3
    """Consecutive failures before a target is unhealthy, 2 to 10. Default 3."""
    health_check_interval_seconds: Annotated[int, Field(ge=5, le=300)] = 30
    """Seconds between health checks, 5 to 300. Default 30; greater than `health_check_timeout_seconds`."""
    health_check_timeout_seconds: Annotated[int, Field(ge=2, le=120)] = 5
    """Seconds before a health check counts as failed, 2 to 120. Default 5; less than
    `health_check_interval_seconds`."""
    deregistration_delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    """Seconds a deregistering target keeps draining in-flight requests, 0 to 3600. Default 60."""
    idle_timeout_seconds: Annotated[int, Field(ge=1, le=4000)] = 60
    """ALB idle connection timeout, 1 to 4000 seconds. Default 60."""
    access_log_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days the ALB access logs are kept before the bucket's lifecycle rule expires them. Default 90."""

    # -- compute ---------------------------------------------------------------------------------------------------
    image_ssm_parameter: str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    """Public SSM parameter naming the AMI. Default the latest Amazon Linux 2023 x86_64. A colour keeps the image
    the release flow resolved for it (see docs/app-tier.md); before the first release both colours use it."""
    root_volume_size_gb: Annotated[int, Field(ge=8, le=1024)] = 20
    """Size of the encrypted gp3 root volume in GiB. Default 20."""
    detailed_monitoring: bool = True
    """One-minute EC2 metrics. Default true."""
    enable_spot: bool = False
    """Mixed instances policy (spot with an on-demand base) instead of on-demand only. Default false."""
    spot_instance_types: tuple[str, ...] = ()
    """Instance types beside `sizes.instance_type` the mixed instances policy may launch. Default none; at least
    one when `enable_spot` is true."""
    on_demand_base_capacity: Annotated[int, Field(ge=0)] = 0
    """Instances always launched on demand before any spot, when `enable_spot`. Default 0."""
    on_demand_percentage_above_base: int = 100
    """Percent of the capacity above the base that is on demand (the rest is spot), 0 to 100, when `enable_spot`.
    Default 100 (no spot until lowered)."""
    spot_allocation_strategy: Literal["price-capacity-optimized", "capacity-optimized", "lowest-price"] = \
        "price-capacity-optimized"
    """How spot capacity is chosen. Default ``price-capacity-optimized``."""
    instance_refresh_min_healthy_percentage: Annotated[int, Field(ge=0, le=100)] = 90
    """Percent of capacity kept in service during an instance refresh. Default 90."""

    # -- the application the instances run (see docs/app-tier.md, "Shipping your own application") ----------------
    workload: Literal["reference", "artifact", "image"] = "reference"
    """What the instances run. ``reference`` (default): the reference workload shipped in ``workload/``, published
    by every deploy to the artifact bucket and replaced by ``release --version V``. ``artifact``: your own tarball
    in the artifact bucket (`artifact_key`, `artifact_sha256`; later versions through ``release --artifact FILE``),
    fetched, verified and started with `start_command`. ``image``: your own AMI (`image_id`) that already holds the
    application; only `start_command` is run (as a systemd service)."""
    artifact_key: str | None = None
    """Object key of your tarball in the environment's artifact bucket (``<prefix>-artifacts-<account>-<region>``),
    e.g. ``myapp/1.0.0/app.tar.gz``. Default none; required when `workload` is ``artifact``."""
    artifact_sha256: str | None = None
    """SHA-256 (64 lowercase hex digits) of that tarball; the instance refuses a download that does not match.
    Default none; required with `artifact_key`."""
    image_id: str | None = None
    """AMI holding your application, when `workload` is ``image``. Default none (required then)."""
    start_command: str = "bin/start"
    """Command systemd runs as the service (user ``app``), relative to the unpacked release folder unless it starts
    with ``/``. Default ``bin/start`` (the reference workload's). One line, at most 512 characters; it must serve
    HTTP on `app_port` and answer `health_check_path`, and should exit on SIGTERM within
    `deregistration_delay_seconds`."""

    # -- scaling and alarms ----------------------------------------------------------------------------------------
    cpu_target_percent: Annotated[float, Field(gt=0, le=100)] = 50.0
    """Target-tracking goal for average CPU. Default 50."""
    memory_target_percent: Annotated[float, Field(gt=0, le=100)] = 70.0
    """Target-tracking goal for average memory used (the CloudWatch agent's ``mem_used_percent``). Default 70."""
    burst_cpu_percent: Annotated[float, Field(gt=0, le=100)] = 85.0
    """Average CPU over one minute that triggers step scaling for bursts. Default 85; above
    `cpu_target_percent`."""
    burst_step_instances: Annotated[int, Field(ge=1, le=50)] = 2
    """Instances added by the burst step (twice as many 15 points above `burst_cpu_percent`). Default 2."""
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    """Share of target 5xx responses among requests over 5 minutes that raises the 5xx alarm. Default 5."""

    # -- blue-green ------------------------------------------------------------------------------------------------
    initial_weights: dict[Literal["blue", "green"], Annotated[int, Field(ge=0, le=100)]] = {"blue": 100, "green": 0}
    """Traffic weights before the first release; afterwards the release record in SSM
    (``/<prefix>/app/release``) is the source of truth and a deploy never changes live weights. Default blue 100,
    green 0; both colours must be listed and add up to 100."""
    release_steps: tuple[int, ...] = (10, 50, 100)
    """Percent of traffic on the new colour after each step of a release; increasing, ending at 100. Default
    10, 50, 100."""
    release_bake_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    """Seconds a release waits at each step before validating it. Default 60."""
    release_health_timeout_seconds: Annotated[int, Field(ge=10, le=7200)] = 900
    """Seconds a release waits for the new colour's targets to become healthy. Default 900."""

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not _CERT_ARN.match(value):
            raise ValueError(f"{value!r} is not an ACM certificate ARN; use "
                             "'arn:aws:acm:<region>:<account>:certificate/<uuid>' or remove app.certificate_arn")
        return value

    @field_validator("ssl_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if not value.startswith(TLS13_POLICY_PREFIX):
            raise ValueError(f"{value!r} is not a TLS 1.3 policy; set app.ssl_policy to one starting with "
                             f"{TLS13_POLICY_PREFIX!r}, e.g. 'ELBSecurityPolicy-TLS13-1-2-2021-06'")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or len(value) > 1024 or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not a URL path; set app.health_check_path to e.g. '/health'")
        return value

    @field_validator("image_ssm_parameter")
    @classmethod
    def _ssm_parameter(cls, value: str) -> str:
        if not _SSM_PARAMETER.match(value):
            raise ValueError(f"{value!r} is not an SSM parameter name (letters, digits, '_', '.', '-' and '/'); set "
                             "app.image_ssm_parameter to e.g. "
                             "'/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64'")
        return value

    @field_validator("health_check_matcher")
    @classmethod
    def _matcher(cls, value: str) -> str:
        if not _MATCHER.match(value):
            raise ValueError(f"{value!r} is not a list of HTTP codes; set app.health_check_matcher to e.g. "
                             "'200', '200,204' or '200-299'")
        return value

    @field_validator("artifact_key")
    @classmethod
    def _artifact_key(cls, value: str | None) -> str | None:
        if value is not None and (not _ARTIFACT_KEY.match(value) or ".." in value.split("/")):
            raise ValueError(f"{value!r} is not an S3 object key of letters, digits and . _ / + -; set "
                             "app.artifact_key to e.g. 'myapp/1.0.0/app.tar.gz'")
        return value

    @field_validator("artifact_sha256")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError(f"{value!r} is not a SHA-256; set app.artifact_sha256 to the 64 lowercase hex digits "
                             "`sha256sum app.tar.gz` prints")
        return value

    @field_validator("image_id")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not _AMI.match(value):
            raise ValueError(f"{value!r} is not an AMI id; set app.image_id to e.g. 'ami-0123456789abcdef0'")
        return value

    @field_validator("start_command")
    @classmethod
    def _start(cls, value: str) -> str:
        if not value.strip() or len(value) > 512 or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be one non-empty line of at most 512 characters (no control characters); set "
                             "app.start_command to e.g. 'bin/start' or '/usr/local/bin/myapp --port 8080'")
        return value

    @field_validator("spot_instance_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        types = aws_catalog.ec2_instance_types()
        bad = [t for t in value if not _INSTANCE_TYPE.match(t) or t not in types]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} not EC2 instance types"
                             f"{aws_catalog.closest(bad[0], types)}; list existing types in "
                             "app.spot_instance_types, such as 't3.small'")
        if len(set(value)) != len(value):
            raise ValueError("lists a type twice; list each of app.spot_instance_types once")
        return value

    @field_validator("on_demand_percentage_above_base")
    @classmethod
    def _percentage(cls, value: int) -> int:
        if not 0 <= value <= 100:
            raise ValueError(f"is {value}%: the on-demand and spot shares above the base must add up to 100%; set "
                             "app.on_demand_percentage_above_base between 0 and 100")
        return value

    @field_validator("release_steps")
    @classmethod
    def _steps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or value[-1] != 100 or any(not 0 < s <= 100 for s in value) or \
                any(a >= b for a, b in zip(value, value[1:])):
            raise ValueError(f"{list(value)} is not an increasing list of percentages ending at 100; set "
                             "app.release_steps to e.g. [10, 50, 100]")
        return value

    @field_validator("initial_weights")
    @classmethod
    def _weights(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != set(COLOURS) or sum(value.values()) != 100:
            raise ValueError(f"{value} must give blue and green weights that add up to 100; set "
                             "app.initial_weights = { blue = 100, green = 0 }")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> "AppTierSettings":
        if self.health_check_interval_seconds <= self.health_check_timeout_seconds:
            raise ValueError(f"health_check_interval_seconds ({self.health_check_interval_seconds}) must be greater "
                             f"than health_check_timeout_seconds ({self.health_check_timeout_seconds}); raise "
                             "app.health_check_interval_seconds or lower app.health_check_timeout_seconds")
        if self.enable_spot and not self.spot_instance_types:
            raise ValueError("enable_spot needs several instance types to diversify spot capacity; list at least "
                             "one in app.spot_instance_types (beside sizes.instance_type)")
        if self.workload == "artifact" and (self.artifact_key is None or self.artifact_sha256 is None):
            raise ValueError("workload = 'artifact' needs your tarball: set app.artifact_key and "
                             "app.artifact_sha256 (or use workload = 'reference')")
        if self.workload != "artifact" and (self.artifact_key or self.artifact_sha256):
            raise ValueError("app.artifact_key and app.artifact_sha256 are only read when workload = 'artifact'; "
                             "set app.workload = 'artifact' or remove them")
        if self.workload == "image" and self.image_id is None:
            raise ValueError("workload = 'image' needs the AMI holding your application: set app.image_id")
        if self.workload != "image" and self.image_id is not None:
            raise ValueError("app.image_id is only read when workload = 'image'; set app.workload = 'image' or "
                             "remove it (other workloads use app.image_ssm_parameter)")
        if self.burst_cpu_percent <= self.cpu_target_percent:
            raise ValueError(f"burst_cpu_percent ({self.burst_cpu_percent}) must be above cpu_target_percent "
                             f"({self.cpu_target_percent}); raise app.burst_cpu_percent")
        return self

    @property
    def initial_live_colour(self) -> str:
        """The colour carrying most traffic before the first release (blue on a tie)."""
        return "green" if self.initial_weights["green"] > self.initial_weights["blue"] else "blue"
