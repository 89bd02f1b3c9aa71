"""Settings of observability, SLOs and cost (``[observability]`` in ``envs/<name>.toml``).

Every field has a default; validators raise ``ValueError`` whose message names the field and ends with the fix.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from . import aws_catalog
from .base import Section

SEVERITIES = ("critical", "warning", "info")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SERVICE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


def endpoint_protocol(endpoint: str) -> str:
    """The SNS protocol of a contact: ``email`` for an address, ``https`` for an ``https://`` URL."""
    return "https" if endpoint.startswith("https://") else "email"


class Contacts(Section):
    """Who is notified, per severity: email addresses or ``https://`` endpoints (e.g. a paging service)."""

    critical: tuple[str, ...] = ()
    """Subscribers of the critical topic (pages the on-call). Default: none."""
    warning: tuple[str, ...] = ()
    """Subscribers of the warning topic. Default: none."""
    info: tuple[str, ...] = ()
    """Subscribers of the info topic. Default: none."""
    escalation: tuple[str, ...] = ()
    """Subscribers of the escalation topic, notified when a critical alarm stays in ALARM for
    `observability.escalation_minutes` (second-line on-call, the team lead). Default: none."""

    @field_validator("critical", "warning", "info", "escalation")
    @classmethod
    def _endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for endpoint in value:
            if endpoint.startswith("http://"):
                raise ValueError(f"{endpoint!r} is plain HTTP; use an https:// endpoint")
            if not (endpoint.startswith("https://") or _EMAIL.match(endpoint)):
                raise ValueError(f"{endpoint!r} is neither an email address nor an https:// URL; fix the contact")
        if len(set(value)) != len(value):
            raise ValueError("lists a contact twice; remove the duplicate")
        return value


class Slo(Section):
    """Service-level objectives of the public service, measured on its request metrics."""

    availability_percent: float = 99.9
    """Share of requests that must not fail with a server error (5xx), in percent, strictly between 0 and 100.
    Default 99.9 (an error budget of 0.1 % of requests)."""
    latency_p99_ms: Annotated[int, Field(gt=0, le=60000)] = 500
    """The p99 response time objective in milliseconds. Default 500."""
    window_days: Annotated[int, Field(ge=1, le=90)] = 30
    """The SLO period the error budget is counted over, in days. Default 30."""
    fast_burn_rate: Annotated[float, Field(gt=1)] = 14.4
    """Burn rate of the fast-burn alarm (1 h and 5 min windows, critical). Default 14.4 (2 % of a 30-day budget in
    one hour)."""
    slow_burn_rate: Annotated[float, Field(gt=1)] = 6.0
    """Burn rate of the slow-burn alarm (6 h and 30 min windows, warning). Default 6 (5 % of a 30-day budget in six
    hours); below `fast_burn_rate`."""

    @field_validator("availability_percent")
    @classmethod
    def _percent(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError(f"availability_percent = {value} is outside 0..100 (exclusive); set "
                             "observability.slo.availability_percent to a percentage such as 99.9")
        return value

    @model_validator(mode="after")
    def _burn_rates(self) -> "Slo":
        if self.slow_burn_rate >= self.fast_burn_rate:
            raise ValueError(f"slow_burn_rate ({self.slow_burn_rate}) is not below fast_burn_rate "
                             f"({self.fast_burn_rate}); lower observability.slo.slow_burn_rate")
        return self

    @property
    def error_budget(self) -> float:
        """Allowed failed-request ratio (0.001 for 99.9 %)."""
        return round(1 - self.availability_percent / 100, 10)


class Tracing(Section):
    """AWS X-Ray sampling, groups and trace-based alarms."""

    default_sampling_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    """Fixed sampling rate of the default rule after the reservoir, 0 to 1. Default 0.05."""
    reservoir_per_second: Annotated[int, Field(ge=0, le=1000)] = 1
    """Traces per second recorded before the fixed rate applies, per rule. Default 1."""
    services: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    """Service name -> sampling rate of a per-service rule (and an X-Ray group per service). Default: none."""
    fault_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    """Trace fault rate (percent of traced requests) that raises the fault alarm. Default 5."""

    @field_validator("services")
    @classmethod
    def _names(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            if not _SERVICE.match(name):
                raise ValueError(f"service name {name!r} must be 1-32 letters, digits, '.', '_' or '-'; rename it")
        return value


class Budget(Section):
    """AWS Budgets, Cost Anomaly Detection and cost allocation tags."""

    monthly_limit_usd: Annotated[float, Field(gt=0)] = 100.0
    """Monthly cost budget of the environment in USD. Default 100."""
    actual_thresholds_percent: tuple[float, ...] = (50.0, 80.0, 100.0)
    """Percentages of the budget at which actual spend notifies, strictly ascending. Default 50, 80, 100."""
    forecast_thresholds_percent: tuple[float, ...] = (100.0,)
    """Percentages of the budget at which forecast spend notifies, strictly ascending. Default 100."""
    anomaly_threshold_usd: Annotated[float, Field(gt=0)] = 20.0
    """Total cost impact in USD from which a cost anomaly is notified. Default 20."""
    cost_allocation_tags: tuple[str, ...] = ("Environment", "Project", "Owner", "CostCenter")
    """Tag keys activated as cost allocation tags. Default Environment, Project, Owner, CostCenter."""
    users_metric: str | None = None
    """``Namespace/MetricName`` of a CloudWatch metric counting active users, used by ``cost report`` for cost per
    user. Default: none (no cost per user)."""

    @field_validator("actual_thresholds_percent", "forecast_thresholds_percent")
    @classmethod
    def _ascending(cls, value: tuple[float, ...], info) -> tuple[float, ...]:  # type: ignore[no-untyped-def]
        name = f"observability.budget.{info.field_name}"
        if not value:
            raise ValueError(f"is empty; list at least one percentage in {name}")
        if any(v <= 0 or v > 1000 for v in value):
            raise ValueError(f"{list(value)} has a value outside 0 < x <= 1000; fix {name}")
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"{list(value)} is not strictly ascending; list {name} in ascending order without "
                             "repeats, e.g. [50, 80, 100]")
        return value

    @field_validator("cost_allocation_tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            problem = aws_catalog.tag_text_problem(key, aws_catalog.TAG_KEY_MAX) if key else "is empty"
            if problem:
                raise ValueError(f"{key!r} is not a user tag key: it {problem}; fix "
                                 "observability.budget.cost_allocation_tags")
        return value

    @field_validator("users_metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") < 1 or not value.rsplit("/", 1)[1]):
            raise ValueError(f"{value!r} is not 'Namespace/MetricName'; fix observability.budget.users_metric")
        return value


class ObservabilitySettings(Section):
    """Settings of observability, SLOs and cost. Every field has a default."""

    enabled: bool = True
    """Build monitoring (log groups, metric filters, dashboards, anomaly alarms), tracing, SLO alarms, budgets and
    cost anomaly detection, and the canary. Default true. When false none of them exist and ``sla report`` refuses
    the environment; the alerting topics (and `contacts`) stay while `security.enabled` is true, because the
    security baseline routes findings to them, and go otherwise (the other tiers' alarms then have no actions)."""

    contacts: Contacts = Contacts()
    """Alert subscribers per severity. Default: none (topics exist, nobody subscribed)."""
    escalation_minutes: Annotated[int, Field(ge=5, le=720)] = 30
    """Minutes a critical alarm stays in ALARM before the escalation topic is notified, 5 to 720. Default 30."""
    slo: Slo = Slo()
    """Availability and latency objectives. Default: 99.9 % and p99 < 500 ms over 30 days."""
    tracing: Tracing = Tracing()
    """X-Ray settings. Default: 5 % sampling, no per-service rules."""
    budget: Budget = Budget()
    """Budget, anomaly detection and cost allocation tags. Default: 100 USD a month."""
    error_log_pattern: str = "?ERROR ?Error ?Exception ?FATAL"
    """CloudWatch Logs filter pattern counting application errors. Default ``?ERROR ?Error ?Exception ?FATAL``."""
    enable_anomaly_detection: bool = True
    """Anomaly-detection alarms on request count and latency. Default true."""
    enable_canary: bool = True
    """A CloudWatch Synthetics canary on the public health endpoint when the app tier exposes one. Default true."""
    health_check_path: str = "/health"
    """Path of the public health endpoint the canary calls. Default ``/health``."""
    canary_url: str | None = None
    """``https://`` URL the canary calls (with certificate verification). Default: ``https://`` + the load
    balancer's DNS name + `health_check_path`, without certificate verification (the service certificate does not
    cover the load balancer's own name)."""
    canary_interval_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    """Minutes between canary runs, 1 to 60. Default 5."""

    @field_validator("canary_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} is not an https:// URL; fix observability.canary_url")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'; fix observability.health_check_path")
        return value

