"""Settings of the integration layer (``[integration]`` in ``envs/<name>.toml``): the partner-facing API Gateway in
front of the application load balancer, service networking (VPC Lattice + Cloud Map), and outbound integrations
(interface VPC endpoints, integration credentials in Secrets Manager, error-rate alarms).

Every field has a default; validators raise ``ValueError`` whose message names the field and ends with the fix.
Reference: ``docs/integration.md``.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import Section

_NAME = r"^[a-z][a-z0-9-]{1,30}$"
_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$")
_USER_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:userpool/[\w-]+_[0-9A-Za-z]+$")
#: A DNS name (RFC 1123 labels), as API Gateway's HTTPS backend and Cloud Map's namespace need.
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
#: An IAM principal ARN (account root, role, user; IAM name characters only).
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(root|(role|user|assumed-role)/[\w+=,.@/-]+)$")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_SEGMENT = r"[a-z0-9][a-z0-9._-]{0,63}"
_METHOD_PATH = re.compile(rf"^{_SEGMENT}/({'|'.join(HTTP_METHODS)})$")
_ROUTE = re.compile(rf"^({'|'.join(HTTP_METHODS)}) {_SEGMENT}$")
#: Interface endpoint services the module knows (service name suffix after ``com.amazonaws.<region>.``).
ENDPOINT_SERVICES = ("secretsmanager", "ssm", "ssmmessages", "ec2messages", "sts", "logs", "ecr.api", "ecr.dkr",
                     "kms", "monitoring", "sqs", "sns")
#: Periods of usage-plan quotas.
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")


class MethodLimit(Section):
    """Throttling of one method of the API stage (an ``aws_api_gateway_method_settings`` entry)."""

    method_path: str
    """``<path segment>/<HTTP method>`` of a route in `api_routes`, e.g. ``orders/POST`` for the route
    ``POST orders``. Required."""
    rate_limit: Annotated[float, Field(gt=0, le=10000)]
    """Steady-state requests per second for this method. Required."""
    burst_limit: Annotated[int, Field(ge=1, le=5000)]
    """Bucket size (concurrent burst) for this method. Required; at least `rate_limit`."""

    @field_validator("method_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _METHOD_PATH.match(value):
            raise ValueError(f"{value!r} is not '<path segment>/<METHOD>'; write e.g. 'orders/POST' (no leading "
                             "slash) for a route listed in api_routes")
        return value

    @model_validator(mode="after")
    def _burst(self) -> "MethodLimit":
        if self.burst_limit < self.rate_limit:
            raise ValueError(f"burst_limit ({self.burst_limit}) is below rate_limit ({self.rate_limit}) for "
                             f"{self.method_path}; raise burst_limit to at least the rate")
        return self


class Partner(Section):
    """One API consumer: a usage plan with its own throttle and quota, and an API key AWS generates (its value is
    never in the configuration; read it with ``aws apigateway get-api-key --include-value``)."""

    name: Annotated[str, Field(pattern=_NAME)]
    """Partner name, lowercase with dashes (names the usage plan and the key). Required."""
    rate_limit: Annotated[float, Field(gt=0, le=10000)] = 10
    """Requests per second for this partner. Default 10; at most the stage's `api_rate_limit`."""
    burst_limit: Annotated[int, Field(ge=1, le=5000)] = 20
    """Burst for this partner. Default 20; at most the stage's `api_burst_limit`."""
    quota_limit: Annotated[int, Field(ge=1)] = 100000
    """Requests per `quota_period`. Default 100000."""
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    """``DAY``, ``WEEK`` or ``MONTH``. Default ``DAY``."""


class Integration(Section):
    """One external system the platform calls: its credentials secret, and an alarm on its error rate counted from
    the integration log group by a metric filter."""

    name: Annotated[str, Field(pattern=_NAME)]
    """Integration name, lowercase with dashes (names the secret, the metric and the alarm). Required."""
    description: str = ""
    """What the integration is. Default: empty."""
    rotation_lambda_arn: str | None = None
    """ARN of your own Lambda function that rotates this secret (e.g. one deployed from the AWS Secrets Manager
    rotation templates for another credential type). Default none: with `rotation_days`, the platform's shipped
    API-key rotation function (modules/integration/rotation/api_key_rotation.py) rotates it."""
    rotation_days: Annotated[int, Field(ge=1, le=365)] | None = None
    """Days between automatic rotations, 1 to 365. Default none (no rotation). The secret's value must be JSON with
    the key under ``api_key`` for the shipped function."""
    rotation_endpoint: str | None = None
    """The partner's documented key endpoint (https://): the shipped rotation function registers each new key there
    (``rotation_method``, authenticated with the current key as a Bearer token, body ``{"api_key": "<new>"}``) and
    tests it with a GET of `rotation_test_endpoint`. Default none: the new random key is the platform's own (the
    partner reads it from the secret). Needs `rotation_days`, not `rotation_lambda_arn`."""
    rotation_test_endpoint: str | None = None
    """https:// URL a GET with the new key must succeed on (2xx) before the key becomes current. Default:
    `rotation_endpoint`."""
    rotation_method: Literal["POST", "PUT"] = "POST"
    """HTTP method of the key registration call. Default ``POST``."""
    error_pattern: str | None = None
    """CloudWatch Logs filter pattern matching one error of this integration in the integration log group. Default:
    ``{ $.integration = "<name>" && $.level = "ERROR" }`` (JSON log lines with ``integration`` and ``level``)."""
    error_threshold: Annotated[int, Field(ge=1)] = 5
    """Errors per `error_period_seconds` that raise the alarm. Default 5."""
    error_period_seconds: Literal[60, 300, 900, 3600] = 300
    """Alarm period in seconds: 60, 300, 900 or 3600. Default 300."""

    @field_validator("rotation_lambda_arn")
    @classmethod
    def _lambda(cls, value: str | None) -> str | None:
        if value is not None and not _LAMBDA_ARN.match(value):
            raise ValueError(f"{value!r} is not a Lambda function ARN; use "
                             "arn:aws:lambda:<region>:<account>:function:<name>")
        return value

    @field_validator("rotation_endpoint", "rotation_test_endpoint")
    @classmethod
    def _https(cls, value: str | None, info) -> str | None:  # type: ignore[no-untyped-def]
        if value is not None and not _HTTPS_URL.match(value):
            raise ValueError(f"{value!r} is not an https:// URL; the rotation function sends keys over TLS only: fix "
                             f"integration.integrations[].{info.field_name}")
        return value

    @model_validator(mode="after")
    def _rotation(self) -> "Integration":
        if (self.rotation_endpoint or self.rotation_test_endpoint) and self.rotation_days is None:
            raise ValueError(f"rotation_endpoint is set for integration {self.name!r} without rotation_days; set "
                             "rotation_days (e.g. 30) or remove the endpoint")
        if (self.rotation_endpoint or self.rotation_test_endpoint) and self.rotation_lambda_arn is not None:
            raise ValueError(f"integration {self.name!r}: rotation_endpoint configures the shipped rotation function, "
                             "but rotation_lambda_arn names your own; remove one of them")
        if self.rotation_test_endpoint and not self.rotation_endpoint:
            raise ValueError(f"integration {self.name!r}: rotation_test_endpoint needs rotation_endpoint")
        if self.rotation_lambda_arn is not None and self.rotation_days is None:
            raise ValueError(f"rotation_lambda_arn is set for integration {self.name!r} without rotation_days; "
                             "set rotation_days (e.g. 30)")
        return self


class IntegrationSettings(Section):
    """Settings of the integration layer (API Gateway, VPC Lattice + Cloud Map, VPC endpoints, integration
    secrets). Every field has a default."""

    enabled: bool = True
    """Build the integration layer (the parts switched on below, and the integration log group). Default true. When
    false none of it exists and every other ``[integration]`` field is ignored."""

    # -- API Gateway -------------------------------------------------------------------------------------------------
    enable_api_gateway: bool = True
    """A regional REST API proxying to the application load balancer over HTTPS. Default true, with `enabled`; it
    needs the app tier: with `app.enabled` false the settings are refused until this is false (or `enabled` is)."""
    api_stage_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] = "v1"
    """Name of the API stage (the first path segment of its URL). Default ``v1``."""
    api_backend_hostname: str | None = None
    """Host name the API calls over HTTPS; it must match the load balancer's certificate (API Gateway verifies
    TLS), e.g. a DNS name of the ALB covered by `app.certificate_arn`. Default: the ALB's own DNS name."""
    api_authorization: Literal["AWS_IAM", "COGNITO_USER_POOLS"] = "AWS_IAM"
    """How callers authenticate: ``AWS_IAM`` (SigV4-signed requests) or ``COGNITO_USER_POOLS`` (a JWT of one of
    `api_cognito_user_pool_arns`). Default ``AWS_IAM``."""
    api_cognito_user_pool_arns: list[str] = []
    """User pools whose tokens the Cognito authorizer accepts. Default: none; required (1 to 1000) when
    `api_authorization` is ``COGNITO_USER_POOLS``, forbidden otherwise."""
    api_rate_limit: Annotated[float, Field(gt=0, le=10000)] = 100
    """Stage-wide steady-state requests per second (every method). Default 100."""
    api_burst_limit: Annotated[int, Field(ge=1, le=5000)] = 200
    """Stage-wide burst. Default 200; at least `api_rate_limit`."""
    api_routes: list[str] = []
    """Methods with their own resource (and so their own method settings), ``"<METHOD> <path segment>"``, e.g.
    ``"POST orders"`` proxies ``POST /orders`` to ``https://<backend>/orders``. Every other request goes through the
    catch-all ``ANY /{proxy+}``. Default: none."""
    api_method_limits: list[MethodLimit] = []
    """Per-method throttles tighter than the stage's, each naming a route of `api_routes`. Default: none."""
    api_partners: list[Partner] = []
    """Partners, each with a usage plan and an API key; when there is any, every method requires an API key.
    Default: none (no key required)."""
    api_access_log_retention_days: Annotated[int, Field(ge=1, le=3653)] | None = None
    """Retention of the API access log group (KMS-encrypted). Default: the environment's `log_retention_days`."""
    api_alarm_5xx_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5
    """Percentage of 5XX answers over 5 minutes that raises the critical alarm. Default 5."""
    api_alarm_4xx_rate_percent: Annotated[float, Field(gt=0, le=100)] = 25
    """Percentage of 4XX answers over 5 minutes that raises the warning alarm. Default 25."""
    api_alarm_latency_p99_ms: Annotated[int, Field(ge=10, le=29000)] = 2000
    """p99 latency in milliseconds over 5 minutes that raises the warning alarm. Default 2000."""

    # -- service networking -----------------------------------------------------------------------------------------
    enable_service_network: bool = True
    """A VPC Lattice service network associated with the VPC, a service for the application tier (target group =
    the ALB), IAM auth policies and access logs; and a Cloud Map private DNS namespace. Default true."""
    lattice_allowed_principals: list[str] = []
    """IAM principal ARNs allowed to invoke Lattice services. Default: principals of this account only."""
    discovery_namespace: str | None = None
    """Cloud Map private DNS namespace. Default ``<environment>.<project>.internal``."""

    # -- outbound integrations --------------------------------------------------------------------------------------
    enable_interface_endpoints: bool = True
    """Interface VPC endpoints (private DNS) in the private subnets for `endpoint_services`. Default true."""
    endpoint_services: list[str] = ["secretsmanager", "ssm", "sts", "logs", "ecr.api", "ecr.dkr"]
    """Services reached through interface endpoints. Default Secrets Manager, SSM, STS, CloudWatch Logs, ECR API and
    ECR Docker registry (S3 and DynamoDB use the network's gateway endpoints). Other traffic leaves through NAT."""
    integrations: list[Integration] = []
    """External systems called from the platform. Default: none."""
    secret_recovery_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    """Days a deleted integration secret can be restored, 7 to 30. Default 30."""

    @field_validator("endpoint_services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in ENDPOINT_SERVICES]
        if unknown:
            raise ValueError(f"unknown interface endpoint services {unknown}; use some of "
                             f"{', '.join(ENDPOINT_SERVICES)}")
        if len(set(value)) != len(value):
            raise ValueError("endpoint_services lists a service twice; list each once")
        return value

    @field_validator("api_backend_hostname", "discovery_namespace")
    @classmethod
    def _dns_name(cls, value: str | None, info) -> str | None:  # type: ignore[no-untyped-def]
        if value is not None and not _DNS_NAME.match(value):
            raise ValueError(f"{value!r} is not a DNS name (no scheme, path or port); set "
                             f"integration.{info.field_name} to e.g. 'api.example.com'")
        return value

    @field_validator("lattice_allowed_principals")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _PRINCIPAL_ARN.match(v)]
        if bad:
            raise ValueError(f"{bad} are not IAM principal ARNs; list e.g. 'arn:aws:iam::111111111111:root' or "
                             "'arn:aws:iam::111111111111:role/name' in integration.lattice_allowed_principals")
        return value

    @field_validator("api_routes")
    @classmethod
    def _routes(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not _ROUTE.match(r)]
        if bad:
            raise ValueError(f"{bad} are not '<METHOD> <path segment>' routes; write e.g. 'POST orders' (methods: "
                             f"{', '.join(HTTP_METHODS)}; segment: lowercase letters, digits, '.', '_', '-')")
        if len(set(value)) != len(value):
            raise ValueError("api_routes lists a route twice; list each once")
        return value

    @field_validator("api_cognito_user_pool_arns")
    @classmethod
    def _pools(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _USER_POOL_ARN.match(v)]
        if bad:
            raise ValueError(f"{bad} are not Cognito user pool ARNs; use "
                             "arn:aws:cognito-idp:<region>:<account>:userpool/<region>_<id>")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> "IntegrationSettings":
        if self.api_burst_limit < self.api_rate_limit:
            raise ValueError(f"api_burst_limit ({self.api_burst_limit}) is below api_rate_limit "
                             f"({self.api_rate_limit}); set integration.api_burst_limit >= integration.api_rate_limit")
        if self.api_authorization == "COGNITO_USER_POOLS" and not self.api_cognito_user_pool_arns:
            raise ValueError("api_authorization is COGNITO_USER_POOLS but api_cognito_user_pool_arns is empty; "
                             "list the user pool ARNs or use api_authorization = \"AWS_IAM\"")
        if self.api_authorization == "AWS_IAM" and self.api_cognito_user_pool_arns:
            raise ValueError("api_cognito_user_pool_arns is set but api_authorization is AWS_IAM; set "
                             "api_authorization = \"COGNITO_USER_POOLS\" or remove the user pools")
        routes = {"/".join(reversed(r.split(" "))) for r in self.api_routes}
        for limit in self.api_method_limits:
            if limit.method_path not in routes:
                raise ValueError(f"api_method_limits {limit.method_path} names no route of api_routes "
                                 f"({', '.join(sorted(self.api_routes)) or 'none'}); add \"{limit.method_path.split('/')[1]} "
                                 f"{limit.method_path.split('/')[0]}\" to integration.api_routes")
            if limit.rate_limit > self.api_rate_limit or limit.burst_limit > self.api_burst_limit:
                raise ValueError(f"api_method_limits {limit.method_path}: {limit.rate_limit}/s burst "
                                 f"{limit.burst_limit} exceeds the stage's {self.api_rate_limit}/s burst "
                                 f"{self.api_burst_limit}; lower the method limit or raise the stage's")
        names = [p.name for p in self.api_partners]
        if len(set(names)) != len(names):
            raise ValueError("api_partners names a partner twice; give each partner a unique name")
        for partner in self.api_partners:
            if partner.rate_limit > self.api_rate_limit or partner.burst_limit > self.api_burst_limit:
                raise ValueError(f"api_partners {partner.name}: {partner.rate_limit}/s burst {partner.burst_limit} "
                                 f"exceeds the stage's {self.api_rate_limit}/s burst {self.api_burst_limit}; lower "
                                 "the partner's limits or raise integration.api_rate_limit/api_burst_limit")
        names = [i.name for i in self.integrations]
        if len(set(names)) != len(names):
            raise ValueError("integrations names an integration twice; give each a unique name")
        return self
