"""The DR region's pilot light (`data.dr.mode` = ``pilot-light`` or ``warm-standby``, docs/data-tier.md).

What runs in the DR region, built from the SAME constructs as the primary region's (moved there by the stack's ``dr``
provider with :func:`in_region`), named ``<prefix>-dr-*``:

- keys: ``logs``, ``data`` and ``secrets`` customer-managed keys of the DR region (:class:`modules.kms.EncryptionKey`;
  KMS keys are regional);
- the network (:class:`modules.network.Network`, one NAT gateway for a pilot light, the primary's strategy for a warm
  standby);
- the app tier (:class:`modules.app_tier.AppTier`): load balancer (HTTPS with `data.dr.certificate_arn`), blue/green
  Auto Scaling groups from the same launch template settings and the same artifact, at `data.dr.standby_capacity`
  instances (0 for a pilot light); `dr failover` scales them to the primary's capacity;
- the database (:class:`modules.dr_database.DrDatabase`): a cross-region read replica of the primary where the target
  supports it, else what a restore from the latest cross-region copy needs;
- the application's secret, replicated by Secrets Manager (``replica`` block of the primary's secret, encrypted with
  the DR ``secrets`` key); the DR instances read the replica;
- DNS (:class:`FailoverRecords`): PRIMARY/SECONDARY alias pairs for ``<record_name>.<zone>`` and for
  ``origin.<zone>`` (the name CloudFront's ``/api/*`` behaviour and API Gateway reach the app by, so API traffic fails
  over too), with HTTPS health checks of the application through each region's load balancer.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from cdktf import Fn, TerraformDataSource, TerraformOutput, TerraformProvider, TerraformResource
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecretReplica
from constructs import Construct

from envs import dr as dr_rules

from envs.contract import ORIGIN_RECORD, dr_name_prefix

from modules.app.tier import AppTier
from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module
from modules.data.disaster_recovery import app_health_check, primary_health_alarm
from modules.data.tier import DataTier
from modules.data.dr_database import DrDatabase, DrDatabaseSettings
from modules.network.vpc import Network, NetworkSettings
from modules.security.keys import EncryptionKey, EncryptionKeySettings
from modules.security.waf import Waf
from envs.schema import EnvironmentSettings
from modules.stack.mapping import (WorkloadDatabase, app_tier_settings, grant_workload_access, key_services,
                                   waf_settings)
from modules.stack.refs import TierRefs


#: Data classes with a key of their own in the DR region.
DR_KEY_CLASSES = ("logs", "data", "secrets")


def in_region(construct: Construct, provider: TerraformProvider) -> Construct:
    """Move every resource and data source under ``construct`` to ``provider`` (the stack's ``dr`` alias): one
    construct, two regions, no copy of its code."""
    for node in construct.node.find_all():
        if isinstance(node, (TerraformResource, TerraformDataSource)):
            node.provider = provider
    return construct


class FailoverRecords(Module):
    """Route 53 active-passive failover between the primary and the DR load balancer.

    For each name in ``record_names``: a PRIMARY alias of the primary load balancer carrying the primary's health
    check, and a SECONDARY alias of the DR load balancer carrying the DR's; both evaluate target health. Route 53
    answers the SECONDARY once the primary's check fails (and the PRIMARY again when both fail).
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-types.html
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-failover-alias.html
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html

    Public attributes: ``primary_health_check_id``, ``dr_health_check_id``, ``alarms``.
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, *, zone_id: str, record_names: Sequence[str],
                 primary: tuple[str, str], standby: tuple[str, str], health_check_path: str, rto_minutes: int,
                 alarm_topics: AlarmTopics = AlarmTopics(), extra_tags: dict[str, str] | None = None) -> None:
        super().__init__(scope, id_, ctx)
        prefix = ctx.name_prefix
        checks = {"primary": app_health_check(self, "primary-health", ctx, primary[0], health_check_path,
                                              rto_minutes, "primary", extra_tags),
                  "secondary": app_health_check(self, "dr-health", ctx, standby[0], health_check_path,
                                                rto_minutes, "dr", extra_tags)}
        self.primary_health_check_id: str = checks["primary"].id
        self.dr_health_check_id: str = checks["secondary"].id
        for name in record_names:
            for role, (dns, zone) in (("primary", primary), ("secondary", standby)):
                Route53Record(self, f"{name}-{role}", zone_id=zone_id, name=name, type="A",
                              set_identifier=f"{prefix}-{name}-{role}",
                              failover_routing_policy={"type": role.upper()}, health_check_id=checks[role].id,
                              alias={"name": dns, "zone_id": zone, "evaluate_target_health": True})
        self.alarms = [primary_health_alarm(self, ctx, self.primary_health_check_id, alarm_topics, extra_tags,
                                            failover=True)]


class PilotLight(Module):
    """Public attributes: ``keys`` (class -> EncryptionKey), ``network``, ``app``, ``database`` (None without the
    primary database), ``secret_replica_arn``, ``dns`` (:class:`FailoverRecords`), ``asg_names``, ``alb_dns_name``."""

    def __init__(self, scope: Construct, id_: str, refs: TierRefs, settings: EnvironmentSettings) -> None:
        provider = refs.providers.dr
        dr_region = settings.dr_region
        ctx = replace(refs.ctx, name_prefix=dr_name_prefix(settings.name_prefix), region=dr_region)
        super().__init__(scope, id_, ctx)

        data, app = refs.data, refs.app
        assert data is not None and app is not None and data.dr is not None
        dr = settings.data.dr
        rto, rpo = dr_rules.objectives(settings)

        # Keys of the DR region, with the same per-class service grants as the primary's.
        services = key_services(dr_region)
        self.keys = {c: EncryptionKey(self, f"kms-{c}", ctx, EncryptionKeySettings(
            data_class=c, service_principals=services[c].principals, via_services=services[c].via,
            logs_encryption_context=c == "logs"), provider=provider) for c in DR_KEY_CLASSES}

        # The network: same CIDR (nothing peers the two VPCs), the DR region's AZs.
        azs = tuple(f"{dr_region}{letter}" for letter in "abcd"[: settings.network.az_count])
        primary_nat = len(azs) if settings.network.nat_strategy.value == "one_per_az" else 1
        self.network = in_region(Network(self, "network", ctx, NetworkSettings(
            vpc_cidr=settings.network.vpc_cidr, availability_zones=azs,
            nat_gateways=primary_nat if dr.mode == "warm-standby" else 1,
            subnet_newbits=settings.network.subnet_newbits, flow_log_retention_days=settings.log_retention_days,
            flow_log_kms_key_arn=self.keys["logs"].arn)), provider)
        net: Any = self.network

        # The application's secret, replicated by Secrets Manager; the replica's ARN differs only by its region.
        # https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html
        assert app.secret is not None
        app.secret.put_replica([SecretsmanagerSecretReplica(region=dr_region, kms_key_id=self.keys["secrets"].arn)])
        self.secret_replica_arn: str = Fn.replace(app.secret_arn, f":{settings.region}:", f":{dr_region}:")
        # IAM names it by name and the six random characters Secrets Manager appends (a literal the gate can read):
        # https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
        secret_name = f"{settings.name_prefix}/app/runtime"
        replica_grant_arn = (f"arn:{ctx.partition}:secretsmanager:{dr_region}:{ctx.account_id}:secret:"
                             f"{secret_name}-??????")

        # The app tier: the same settings and artifact, at the standby capacity.
        standby = dr_rules.standby_capacity(settings)
        sizes = settings.sizes.model_copy(update={"min_capacity": standby, "desired_capacity": standby})
        # the listener's certificate is the DR region's (ACM certificates are regional); the mapping decides the target
        dr_app_section = settings.app.model_copy(update={"certificate_arn": dr.certificate_arn})
        app_settings = app_tier_settings(
            dr_app_section, sizes, protected=settings.protected, target=refs.ctx.target, vpc_id=net.vpc_id,
            public_subnet_ids=net.public_subnet_ids, private_subnet_ids=net.private_subnet_ids,
            ebs_kms_key_arn=self.keys["data"].arn, alarm_topics=AlarmTopics(),
            secrets_kms_key_arn=self.keys["secrets"].arn)
        app_settings = replace(app_settings, existing_secret_arn=replica_grant_arn)
        self.app = in_region(AppTier(self, "app", ctx, app_settings), provider)
        dr_app: Any = self.app
        self.asg_names: dict[str, str] = dict(dr_app.asg_names)
        self.alb_dns_name: str = dr_app.alb_dns_name

        # The database.
        self.database: DrDatabase | None = None
        if data.database is not None:
            self.database = in_region(DrDatabase(self, "database", ctx, DrDatabaseSettings(
                vpc_id=net.vpc_id, subnet_group_name=net.database_subnet_group_name,
                storage_kms_key_arn=self.keys["data"].arn, log_kms_key_arn=self.keys["logs"].arn,
                allowed_security_group_ids=(dr_app.app_security_group_id,), replica_lag_alarm_seconds=rpo * 60),
                source=data.database), provider)  # type: ignore[assignment]
        self._workload_access(settings, data, provider)

        # The DR load balancer's own regional web ACL (the security baseline's rules, modules/security/waf.py), as the
        # primary's: CloudFront's origin name fails over to it, so it must not be an unprotected way around the CDN.
        self.waf: Waf | None = None
        if settings.security.enabled and settings.security.enable_waf:
            logs = self.keys["logs"].arn
            self.waf = in_region(Waf(self, "waf", ctx, waf_settings(settings, logs_key_arn=logs, regional=True,
                                                                     cloudfront=False, cloudfront_logs_key_arn=logs),
                                     us_east_1=refs.providers.us_east_1, alb_arn=dr_app.alb_arn), provider)

        # DNS: the record users resolve and the origin name of CloudFront's dynamic paths and API Gateway.
        names = [dr.record_name] + ([ORIGIN_RECORD] if data.origin_hostname != app.alb_dns_name else [])
        self.dns = FailoverRecords(self, "dns", refs.ctx, zone_id=data.dr.zone_id, record_names=names,
                                   primary=(app.alb_dns_name, app.alb_zone_id),
                                   standby=(dr_app.alb_dns_name, dr_app.alb_zone_id),
                                   health_check_path=dr.health_check_path, rto_minutes=rto,
                                   alarm_topics=data.alarm_topics)
        data.alarms.extend(self.dns.alarms)

        for name, value in (("dr_alb_dns_name", self.alb_dns_name), ("dr_asg_names", self.asg_names),
                            ("primary_health_check_id", self.dns.primary_health_check_id),
                            ("dr_health_check_id", self.dns.dr_health_check_id)):
            TerraformOutput(refs.scope, name, value=value)

    def _workload_access(self, settings: EnvironmentSettings, data: DataTier, provider: TerraformProvider) -> None:
        """What the DR instances connect to: the replica buckets (when replicated), the replicated secret, the DR
        database (when it is a replica; a restored instance is found by `dr failover`), as for the primary
        (modules/stack/platform.py ``_workload_access``), all in the DR region."""
        dr_app: Any = self.app
        db, database = self.database, None
        if db is not None:
            user = settings.data.database.master_username
            config = None
            if db.address is not None:
                config = {"host": db.address, "port": 5432, "name": settings.data.database.db_name,
                          "user": user, "auth": "iam", "sslmode": "require"}
            database = WorkloadDatabase(config=config, grants=db.grant_connect(user),
                                        security_group_id=db.security_group_id, port=5432,
                                        description="PostgreSQL to the DR database")
        # The replicas' key is used through S3 of the DR region.
        grant_workload_access(dr_app, settings, region=settings.dr_region, storage=data.storage,
                              bucket_keys=("app-dr", "static-dr"), secret_arn=self.secret_replica_arn,
                              database=database, replica_key_region=settings.dr_region)
        in_region(dr_app, provider)  # the configuration parameter and policy added above


def build_pilot_light(refs: TierRefs, settings: EnvironmentSettings) -> PilotLight | None:
    """The pilot light of the stack of ``refs`` when its settings ask for one (`data.dr.mode`), else None."""
    s = settings
    if not (s.data.enabled and s.data.dr.enabled and s.data.dr.runs_in_dr and refs.app is not None
            and refs.data is not None):
        return None
    return PilotLight(refs.scope, "pilot-light", refs, settings)
