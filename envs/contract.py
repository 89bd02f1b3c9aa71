"""The names the constructs, the commands and the reports must agree on, in one place.

The constructs (``modules/``) build resources with these names and metrics; the release command
(``pipeline/release.py``), the SLA report (``pipeline/sla.py``) and the tests find them by the same functions. A name
is changed here or nowhere: nothing else spells ``/<prefix>/app/release`` or ``Platform/<prefix>``.

It lives beside the settings because both sides already import ``envs`` without cdktf (the gate and the commands
must not load the generator), and it imports nothing: it is data, not settings (the construct-side rule "only the
stack layer reads the environment settings" does not cover it; ``tests/test_modules_layout.py``).
"""
from __future__ import annotations

#: The two colours of the blue-green application tier: target groups, Auto Scaling groups, release weights.
COLOURS = ("blue", "green")


# -- metrics the access log turns into numbers (modules/observability/monitoring.py) and the SLA report reads -------

def metric_namespace(name_prefix: str) -> str:
    """Namespace of the service's request metrics (from the access log), ``Platform/<prefix>``: SLO alarms and the
    ``sla report`` read the same metrics."""
    return f"Platform/{name_prefix}"


#: Metric names in :func:`metric_namespace`.
REQUESTS_METRIC = "Requests"
SERVER_ERRORS_METRIC = "ServerErrors"
LATENCY_METRIC = "Latency"
APP_ERRORS_METRIC = "ApplicationErrors"


# -- the application tier that `release` drives (modules/app/) -----------------------------------------------------

def release_parameter_path(name_prefix: str) -> str:
    """The SSM path holding the release record (``/<prefix>/app/``)."""
    return f"/{name_prefix}/app/"


def release_parameter_name(name_prefix: str) -> str:
    """The SSM parameter holding the release record (``/<prefix>/app/release``)."""
    return f"{release_parameter_path(name_prefix)}release"


def load_balancer_name(name_prefix: str) -> str:
    """The application load balancer (``<prefix>-alb``)."""
    return f"{name_prefix}-alb"


def target_group_name(name_prefix: str, colour: str) -> str:
    """The target group of one colour (``<prefix>-<colour>``)."""
    return f"{name_prefix}-{colour}"


def auto_scaling_group_name(name_prefix: str, colour: str) -> str:
    """The Auto Scaling group of one colour (``<prefix>-app-<colour>``)."""
    return f"{name_prefix}-app-{colour}"


def app_alarm_name(name_prefix: str, key: str) -> str:
    """An alarm of the application tier (``<prefix>-app-<key>``)."""
    return f"{name_prefix}-app-{key}"


#: The app tier's alarm the release command watches while it shifts traffic.
RELEASE_ERROR_ALARM = "target-5xx-rate"


# -- the DR region and the database that `dr failover` / `dr failback` drive (pipeline/dr.py) ------------------------

def dr_name_prefix(name_prefix: str) -> str:
    """Prefix of the DR region's resources (the pilot light, modules/stack/pilot_light.py): ``<prefix>-dr``."""
    return f"{name_prefix}-dr"


def database_identifier(name_prefix: str) -> str:
    """The PostgreSQL instance (``<prefix>-postgres``; in the DR region ``<prefix>-dr-postgres``)."""
    return f"{name_prefix}-postgres"


def database_network_name(name_prefix: str) -> str:
    """The database subnet group and the database's security group (``<prefix>-database``)."""
    return f"{name_prefix}-database"


def database_parameter_family(engine_version: str) -> str:
    """The parameter group family of a PostgreSQL engine version (``16.4`` -> ``postgres16``)."""
    return f"postgres{engine_version.split('.')[0]}"


def database_parameter_group_name(name_prefix: str, family: str) -> str:
    """The database's parameter group (``<prefix>-<family>``)."""
    return f"{name_prefix}-{family}"


def kms_alias_name(name_prefix: str, data_class: str) -> str:
    """The alias of the environment's key of one data class (``alias/<prefix>-<data_class>``)."""
    return f"alias/{name_prefix}-{data_class}"


def health_check_name(name_prefix: str, role: str) -> str:
    """The ``Name`` tag of a Route 53 health check of the application (role ``primary`` or ``dr``)."""
    return f"{name_prefix}-{role}-health"


#: Record (in the environment's DR zone) aliasing the load balancer: the host name CloudFront and API Gateway reach
#: it by, failed over with the user-facing record.
ORIGIN_RECORD = "origin"


def artifact_bucket_name(name_prefix: str, account_id: str, region: str) -> str:
    """The application tier's artifact bucket (``<prefix>-artifacts-<account>-<region>``, modules/app/artifacts.py),
    which `release` publishes to."""
    return f"{name_prefix}-artifacts-{account_id}-{region}"
