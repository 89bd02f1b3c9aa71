"""The stack layer's mapping: an environment's settings (``EnvironmentSettings``, ``envs/``) onto each tier's typed
settings and references. The only place besides :mod:`modules.stack.platform` that reads the environment settings;
the constructs take only what these functions give them (``tests/test_modules_layout.py``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from envs.contract import database_identifier, metric_namespace
from envs.dr import objectives as dr_objectives, standby_capacity as dr_standby_capacity
from envs.integration import IntegrationSettings
from envs.observability import ObservabilitySettings, endpoint_protocol
from envs.schema import EnvironmentSettings
from modules.app.compute import AGENT_NAMESPACE, MEMORY_METRIC, ComputeSettings
from modules.app.load_balancer import LoadBalancerSettings
from modules.app.tier import AppTier, AppTierModuleSettings
from modules.core.base import require
from modules.data.disaster_recovery import RunbookInputs
from modules.data.buckets import Storage
from modules.data.cache import Cache
from modules.data.tier import DataTierSettings
from modules.integration.api_gateway import ApiGatewaySettings, MethodThrottle, PartnerPlan
from modules.integration.outbound import ExternalIntegration, Integrations, IntegrationsSettings
from modules.integration.service_network import LatticeService, ServiceNetworkSettings
from modules.integration.tier import Integration, IntegrationInputs, IntegrationModuleSettings, ShippedRotation
from modules.core.alarms import AlarmTopics
from modules.observability.alerting import TOPICS, Alerting, AlertingSettings, Subscription
from modules.observability.cost import CostSettings
from modules.observability.monitoring import MonitoringSettings, ObservedResources
from modules.observability.slo import SloSettings
from modules.observability.tier import ObservabilityModuleSettings
from modules.observability.tracing import TracingSettings
from modules.security.audit import AuditSettings
from modules.security.iam import IamSettings
from modules.security.keys import KeyServices
from modules.security.threat_detection import ThreatDetectionSettings
from modules.security.tier import Security, SecurityBaselineSettings
from modules.security.waf import WafSettings
from modules.stack.refs import TierRefs


# -- from modules/observability/alerting.py ---------------------------------------------------------------------------

def alerting_settings(observability: ObservabilitySettings, kms_key_arn: str) -> AlertingSettings:
    """Map the environment's ``[observability]`` section onto :class:`AlertingSettings`."""
    contacts = observability.contacts
    return AlertingSettings(
        kms_key_arn=kms_key_arn,
        subscriptions={topic: tuple(Subscription(endpoint_protocol(e), e) for e in getattr(contacts, topic))
                       for topic in TOPICS if getattr(contacts, topic)},
        escalation_minutes=observability.escalation_minutes,
    )


def alarm_topics(alerting: Alerting | None) -> AlarmTopics:
    """The one alarm-topic interface every construct that wires alarms takes, built once per stack from the
    alerting module (its topics by severity, the escalation topic and delay); empty without alerting: alarms then
    exist without actions."""
    if alerting is None:
        return AlarmTopics()
    arns = alerting.topic_arns
    return AlarmTopics(critical=arns["critical"], warning=arns["warning"], info=arns["info"],
                       escalation=alerting.escalation_topic_arn, escalation_minutes=alerting.escalation_minutes)


# -- from modules/observability/tier.py -------------------------------------------------------------------------------

def observability_settings(settings: Any, logs_kms_key_arn: str) -> ObservabilityModuleSettings:
    """Map an environment's settings (``EnvironmentSettings``) onto :class:`ObservabilityModuleSettings`."""
    o: ObservabilitySettings = settings.observability
    return ObservabilityModuleSettings(
        monitoring=MonitoringSettings(logs_kms_key_arn=logs_kms_key_arn, log_retention_days=settings.log_retention_days,
                                      error_log_pattern=o.error_log_pattern,
                                      enable_anomaly_detection=o.enable_anomaly_detection,
                                      latency_objective_ms=o.slo.latency_p99_ms),
        tracing=TracingSettings(default_sampling_rate=o.tracing.default_sampling_rate,
                                reservoir_per_second=o.tracing.reservoir_per_second, services=dict(o.tracing.services),
                                fault_rate_percent=o.tracing.fault_rate_percent, latency_ms=o.slo.latency_p99_ms),
        slo=SloSettings(namespace=metric_namespace(settings.name_prefix),
                        availability_percent=o.slo.availability_percent, latency_p99_ms=o.slo.latency_p99_ms,
                        fast_burn_rate=o.slo.fast_burn_rate, slow_burn_rate=o.slo.slow_burn_rate),
        cost=CostSettings(environment=settings.name, monthly_limit_usd=o.budget.monthly_limit_usd,
                          actual_thresholds_percent=o.budget.actual_thresholds_percent,
                          forecast_thresholds_percent=o.budget.forecast_thresholds_percent,
                          anomaly_threshold_usd=o.budget.anomaly_threshold_usd,
                          cost_allocation_tags=o.budget.cost_allocation_tags),
        enable_canary=o.enable_canary, canary_url=o.canary_url, health_check_path=o.health_check_path,
        canary_interval_minutes=o.canary_interval_minutes,
    )


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict):
        return tuple(v for v in value.values() if isinstance(v, str))
    try:
        return tuple(v for v in value if isinstance(v, str))
    except TypeError:
        return ()


def observed_resources(app: Any, data: Any, security: Any) -> ObservedResources:
    """What the tiers expose (documented public attributes), for dashboards and alarms; None tiers give nothing."""
    agent_ns = memory = None
    if app is not None:
        try:
            from modules.app.compute import AGENT_NAMESPACE, MEMORY_METRIC

            agent_ns, memory = AGENT_NAMESPACE, MEMORY_METRIC
        except ImportError:  # compute module absent: no memory widget
            pass
    database = _get(data, "database")
    db_ids = (*_strs(_get(database, "identifier")), *_strs(_get(database, "replica_identifiers")))
    cache_ids = _strs(_get(data, "cache", "member_cluster_ids"))
    acls = _get(security, "web_acl_names")
    if isinstance(acls, dict):  # scope -> name
        web_acls = tuple(v for k, v in sorted(acls.items()) if k != "cloudfront" and isinstance(v, str))
        cloudfront_acls = tuple(v for k, v in acls.items() if k == "cloudfront" and isinstance(v, str))
    else:
        web_acls, cloudfront_acls = _strs(acls), ()
    return ObservedResources(
        alb_arn_suffix=_get(app, "alb_arn_suffix"),
        target_group_arn_suffixes=dict(_get(app, "target_group_arn_suffixes") or {}),
        asg_names=dict(_get(app, "asg_names") or {}),
        agent_namespace=agent_ns, memory_metric=memory,
        db_identifiers=db_ids, cache_cluster_ids=cache_ids,
        cloudfront_distribution_id=_get(data, "cdn", "distribution_id") or _get(data, "distribution_id"),
        web_acl_names=web_acls, cloudfront_web_acl_names=cloudfront_acls,
        public_endpoint=_get(app, "alb_dns_name"),
        artifact_bucket_name=(_get(data, "bucket_names") or {}).get("logs"),
    )


# -- from modules/integration/tier.py ---------------------------------------------------------------------------------

def integration_inputs(refs: TierRefs, env: EnvironmentSettings) -> IntegrationInputs:
    """Collect the integration layer's inputs from the stack's earlier tiers (each may be absent)."""
    app, security, network = refs.app, refs.security, refs.network
    waf = security.waf if security is not None else None
    return IntegrationInputs(
        vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr,
        private_subnet_ids=tuple(network.private_subnet_ids),
        logs_kms_key_arn=refs.keys["logs"].arn, secrets_kms_key_arn=refs.keys["secrets"].arn,
        log_retention_days=env.log_retention_days, namespace=f"{env.name}.{env.tags.project}.internal",
        alb_arn=app.alb_arn if app is not None else None,
        alb_dns_name=app.alb_dns_name if app is not None else None,
        alb_origin_hostname=refs.data.origin_hostname if app is not None and refs.data is not None else None,
        waf_acl_arn=waf.regional_acl_arn if waf is not None else None,
        alarm_topics=refs.alarm_topics)


def integration_settings(s: IntegrationSettings, i: IntegrationInputs) -> IntegrationModuleSettings:
    """Map the environment's ``[integration]`` section and the stack's values onto the layer's parts."""
    has_alb = i.alb_arn is not None and i.alb_dns_name is not None
    api = None
    if s.enable_api_gateway and has_alb:
        api = ApiGatewaySettings(
            backend_host=s.api_backend_hostname or i.alb_origin_hostname or i.alb_dns_name,
            log_kms_key_arn=i.logs_kms_key_arn,
            stage_name=s.api_stage_name, authorization=s.api_authorization,
            cognito_user_pool_arns=tuple(s.api_cognito_user_pool_arns),
            rate_limit=s.api_rate_limit, burst_limit=s.api_burst_limit,
            routes=tuple(tuple(r.split(" ")) for r in s.api_routes),
            method_throttles=tuple(MethodThrottle(m.method_path, m.rate_limit, m.burst_limit)
                                   for m in s.api_method_limits),
            partners=tuple(PartnerPlan(p.name, p.rate_limit, p.burst_limit, p.quota_limit, p.quota_period)
                           for p in s.api_partners),
            log_retention_days=s.api_access_log_retention_days or i.log_retention_days,
            waf_acl_arn=i.waf_acl_arn, alarm_topics=i.alarm_topics,
            alarm_5xx_rate_percent=s.api_alarm_5xx_rate_percent,
            alarm_4xx_rate_percent=s.api_alarm_4xx_rate_percent,
            alarm_latency_p99_ms=s.api_alarm_latency_p99_ms)
    service_network = None
    if s.enable_service_network:
        services = (LatticeService("app", i.alb_arn, i.alb_dns_name),) if has_alb else ()
        service_network = ServiceNetworkSettings(
            vpc_id=i.vpc_id, vpc_cidr=i.vpc_cidr, log_kms_key_arn=i.logs_kms_key_arn,
            namespace=s.discovery_namespace or i.namespace, services=services,
            allowed_principals=tuple(s.lattice_allowed_principals), log_retention_days=i.log_retention_days)
    outbound = IntegrationsSettings(
        vpc_id=i.vpc_id, vpc_cidr=i.vpc_cidr, subnet_ids=i.private_subnet_ids,
        secrets_kms_key_arn=i.secrets_kms_key_arn, logs_kms_key_arn=i.logs_kms_key_arn,
        endpoint_services=tuple(s.endpoint_services) if s.enable_interface_endpoints else (),
        integrations=tuple(ExternalIntegration(
            name=x.name, description=x.description, rotation_lambda_arn=x.rotation_lambda_arn,
            rotation_days=x.rotation_days if x.rotation_lambda_arn else None, error_pattern=x.error_pattern,
            error_threshold=x.error_threshold, error_period_seconds=x.error_period_seconds)
            for x in s.integrations),
        secret_recovery_window_days=s.secret_recovery_window_days, log_retention_days=i.log_retention_days,
        alarm_topics=i.alarm_topics)
    rotations = tuple(ShippedRotation(name=x.name, rotation_days=x.rotation_days, endpoint=x.rotation_endpoint,
                                      test_endpoint=x.rotation_test_endpoint, method=x.rotation_method)
                      for x in s.integrations if x.rotation_days is not None and x.rotation_lambda_arn is None)
    return IntegrationModuleSettings(outbound=outbound, api=api, service_network=service_network,
                                     rotations=rotations)


def build_integration(refs: TierRefs, env: EnvironmentSettings) -> Integration:
    """The stack's integration layer (``stack.integration``)."""
    return Integration(refs.scope, "integration", refs.ctx,
                       integration_settings(env.integration, integration_inputs(refs, env)))


# -- from modules/data/tier.py ----------------------------------------------------------------------------------------

def data_tier_settings(env: EnvironmentSettings) -> DataTierSettings:
    """Resolve an environment's ``[data.*]`` settings, filling the defaults that depend on `protection_level`."""
    d, protected = env.data, env.protected
    db = d.database
    rto, rpo = dr_objectives(env)
    database = None
    if db.enabled:
        database = dict(
            instance_class=env.sizes.db_instance_class, engine_version=db.engine_version,
            allocated_storage_gb=env.sizes.db_allocated_storage_gb,
            max_allocated_storage_gb=env.sizes.db_max_allocated_storage_gb, db_name=db.db_name,
            master_username=db.master_username, multi_az=protected if db.multi_az is None else db.multi_az,
            backup_retention_days=db.backup_retention_days, backup_window=db.backup_window,
            maintenance_window=db.maintenance_window,
            deletion_protection=protected if db.deletion_protection is None else db.deletion_protection,
            final_snapshot=protected if db.deletion_protection is None else db.deletion_protection,
            slow_query_ms=db.slow_query_ms, monitoring_interval_seconds=db.monitoring_interval_seconds,
            performance_insights_retention_days=db.performance_insights_retention_days,
            read_replicas=db.read_replicas, enable_proxy=db.enable_proxy, cpu_alarm_percent=db.cpu_alarm_percent,
            replicate_backups=protected if db.replicate_backups_to_dr is None else db.replicate_backups_to_dr,
            backup_replication_retention_days=db.backup_retention_days,
            replica_lag_alarm_seconds=rpo * 60)
    c = d.cache
    cache = None
    if c.enabled:
        multi_az = protected if c.multi_az is None else c.multi_az
        cache = dict(node_type=env.sizes.cache_node_type, engine_version=c.engine_version,
                     nodes=c.nodes if c.nodes is not None else (2 if multi_az else 1), multi_az=multi_az,
                     snapshot_retention_days=c.snapshot_retention_days, snapshot_window=c.snapshot_window,
                     maintenance_window=c.maintenance_window, maxmemory_policy=c.maxmemory_policy,
                     cpu_alarm_percent=c.cpu_alarm_percent, memory_alarm_percent=c.memory_alarm_percent,
                     evictions_alarm_threshold=c.evictions_alarm_threshold)
    st = d.storage
    storage = dict(transition_to_ia_days=st.transition_to_ia_days,
                   transition_to_glacier_days=st.transition_to_glacier_days,
                   noncurrent_version_expiration_days=st.noncurrent_version_expiration_days,
                   abort_incomplete_multipart_days=st.abort_incomplete_multipart_days,
                   log_expiration_days=st.log_expiration_days,
                   # Nothing to replicate without a data bucket.
                   replicate_to_dr=bool(st.data_buckets) and (
                       protected if st.replicate_to_dr is None else st.replicate_to_dr),
                   create_cdn_log_bucket=d.cdn.enabled, force_destroy=not protected,
                   data_buckets=tuple(st.data_buckets))
    cdn = None
    if d.cdn.enabled:
        cdn = dict(price_class=d.cdn.price_class, aliases=d.cdn.aliases, acm_certificate_arn=d.cdn.acm_certificate_arn,
                   dynamic_paths=d.cdn.dynamic_paths, default_root_object=d.cdn.default_root_object)
    b = d.backup
    backup = dict(daily_retention_days=b.daily_retention_days, weekly_retention_days=b.weekly_retention_days,
                  copy_to_dr=b.copy_to_dr, dr_retention_days=b.dr_retention_days,
                  vault_lock=protected if b.vault_lock is None else b.vault_lock, restore_testing=b.restore_testing,
                  selection_tag=b.selection_tag)
    dr = dict(rto_minutes=rto, rpo_minutes=rpo,
              zone_name=d.dr.domain_name or f"{env.name}.{env.tags.project}.example.com",
              record_name=d.dr.record_name, secondary_endpoint=d.dr.secondary_endpoint,
              health_check_path=d.dr.health_check_path, standby=d.dr.runs_in_dr)
    return DataTierSettings(environment=env.name, protected=protected, dr_region=env.dr_region,
                            log_retention_days=env.log_retention_days, database=database, cache=cache,
                            storage=storage, cdn=cdn, backup=backup, dr=dr, enable_backup=b.enabled,
                            enable_dr=d.dr.enabled)


def runbook_inputs(env: EnvironmentSettings) -> RunbookInputs:
    """What the DR runbook of ``env`` says (see :func:`modules.data.disaster_recovery.render_runbook`)."""
    s = data_tier_settings(env)
    db, cache = s.database or {}, s.cache or {}
    return RunbookInputs(
        environment=env.name, name_prefix=env.name_prefix, region=env.region, dr_region=env.dr_region,
        protected=s.protected, rto_minutes=s.dr["rto_minutes"], rpo_minutes=s.dr["rpo_minutes"],
        database=s.database is not None, db_identifier=database_identifier(env.name_prefix),
        db_multi_az=bool(db.get("multi_az")), db_read_replicas=int(db.get("read_replicas", 0)),
        db_backup_retention_days=int(db.get("backup_retention_days", 0)),
        db_backups_replicated=bool(db.get("replicate_backups")), db_proxy=bool(db.get("enable_proxy")),
        cache=s.cache is not None, cache_multi_az=bool(cache.get("multi_az")), cache_nodes=int(cache.get("nodes", 0)),
        buckets_replicated=bool(s.storage["replicate_to_dr"]), cdn=s.cdn is not None,
        backup_copy_to_dr=bool(s.backup["copy_to_dr"]), backup_daily_days=s.backup["daily_retention_days"],
        backup_weekly_days=s.backup["weekly_retention_days"],
        backup_dr_days=s.backup["dr_retention_days"] or s.backup["weekly_retention_days"],
        vault_lock=bool(s.backup["vault_lock"]), restore_testing=bool(s.backup["restore_testing"]),
        zone_name=s.dr["zone_name"], record_name=s.dr["record_name"], health_check_path=s.dr["health_check_path"],
        secondary_endpoint=s.dr["secondary_endpoint"], mode=env.data.dr.mode,
        standby_capacity=dr_standby_capacity(env), app=env.app.enabled)


# -- from modules/security/tier.py ------------------------------------------------------------------------------------

def security_settings(env: EnvironmentSettings, *, logs_key_arn: str, data_bucket_arns: tuple[str, ...] = (),
                      data_bucket_names: tuple[str, ...] = (),
                      data_bucket_key_arns: tuple[str, ...] = ()) -> SecurityBaselineSettings:
    """Map an environment's settings (``[security]`` and the environment-wide values) onto the module settings."""
    sec = env.security
    baseline = sec.manage_account_baseline
    return SecurityBaselineSettings(
        iam=IamSettings(
            manage_account_baseline=baseline, github_repository=sec.ci_github_repository,
            deploy_branches=sec.ci_deploy_branches, plan_on_pull_requests=sec.ci_plan_on_pull_requests,
            github_environment=env.name, run_log_prefix=f"runs/{env.name}/",
            state_bucket=env.state_bucket, lock_table=env.lock_table, audit_account_id=sec.audit_account_id,
            audit_external_id=sec.audit_external_id, human_groups=sec.human_groups,
            password_min_length=sec.password_min_length, password_max_age_days=sec.password_max_age_days,
            password_reuse_prevention=sec.password_reuse_prevention),
        audit=AuditSettings(
            logs_kms_key_arn=logs_key_arn, manage_account_baseline=baseline,
            retention_days=sec.audit_log_retention_days, log_group_retention_days=env.log_retention_days,
            data_bucket_arns=data_bucket_arns,
            enable_config_rules=sec.config_rules, password_min_length=sec.password_min_length,
            password_max_age_days=sec.password_max_age_days,
            password_reuse_prevention=sec.password_reuse_prevention, force_destroy=not env.protected),
        threat_detection=ThreatDetectionSettings(
            manage_account_baseline=baseline, s3_protection=sec.guardduty_s3_protection,
            eks_protection=sec.guardduty_eks_protection, runtime_monitoring=sec.guardduty_runtime_monitoring,
            malware_protection=sec.guardduty_malware_protection, finding_frequency=sec.guardduty_finding_frequency,
            enable_security_hub=sec.enable_security_hub,
            security_hub_standards=sec.security_hub_standards if sec.enable_security_hub else (),
            inspector_resource_types=sec.inspector_resource_types, enable_macie=sec.enable_macie,
            macie_bucket_names=data_bucket_names, macie_kms_key_arns=data_bucket_key_arns),
        incident={"playbooks_url": sec.playbooks_url, "critical_severity": sec.critical_finding_severity,
                  "route_security_hub": sec.enable_security_hub, "auto_contain": sec.auto_contain_instances},
        log_retention_days=env.log_retention_days, enable_audit=sec.enable_audit,
        enable_threat_detection=sec.enable_threat_detection, enable_incident_response=sec.enable_incident_response,
    )


def waf_settings(env: EnvironmentSettings, *, logs_key_arn: str, cloudfront_logs_key_arn: str,
                 regional: bool = True, cloudfront: bool = True) -> WafSettings:
    """The WAF's settings; ``regional`` / ``cloudfront``: which ACLs exist (each only with something to protect)."""
    sec = env.security
    return WafSettings(logs_kms_key_arn=logs_key_arn, cloudfront_logs_kms_key_arn=cloudfront_logs_key_arn,
                       enable_regional_acl=regional, enable_cloudfront_acl=cloudfront,
                       rate_limit=sec.waf_rate_limit, rate_window_seconds=sec.waf_rate_window_seconds,
                       blocked_countries=sec.waf_blocked_countries, allowed_cidrs=sec.waf_allowed_cidrs,
                       blocked_cidrs=sec.waf_blocked_cidrs, log_retention_days=env.log_retention_days,
                       enable_shield_advanced=sec.enable_shield_advanced)


def build_security(refs: TierRefs, settings: EnvironmentSettings) -> Security:
    """Compose the baseline for a :class:`modules.stack.platform.PlatformStack` (reads what earlier tiers expose)."""
    app, data, topics = refs.app, refs.data, refs.alarm_topics
    bucket_arns: Mapping[str, str] = data.bucket_arns if data is not None else {}
    bucket_names: Mapping[str, str] = data.bucket_names if data is not None else {}
    data_keys = [k for k in ("app", "static") if k in bucket_arns]
    logs_key = refs.keys["logs"]
    us_east_1 = refs.providers.us_east_1
    require(bool(topics), "the security baseline routes findings to the alerting topics; build alerting first")
    sec = security_settings(settings, logs_key_arn=logs_key.arn,
                            data_bucket_arns=tuple(bucket_arns[k] for k in data_keys),
                            data_bucket_names=tuple(bucket_names[k] for k in data_keys),
                            data_bucket_key_arns=(refs.keys["data"].arn,) if data_keys else ())
    # A web ACL is created only with something to protect: the regional one needs the app tier's load balancer
    # (the API stage fronts it too), the CloudFront one the distribution.
    regional = app is not None
    cloudfront = data is not None and data.cdn is not None
    waf = None
    if settings.security.enable_waf and (regional or cloudfront):
        waf = waf_settings(settings, logs_key_arn=logs_key.arn, regional=regional, cloudfront=cloudfront,
                           cloudfront_logs_key_arn=Security.cloudfront_logs_key(refs.scope, refs.ctx, us_east_1, logs_key)
                           if cloudfront else logs_key.arn)
    return Security(refs.scope, "security", refs.ctx, sec, waf=waf, vpc_id=refs.network.vpc_id, us_east_1=us_east_1,
                    critical_topic_arn=topics.arn("critical"), notify_topic_arn=topics.arn("warning"),
                    alb_arn=app.alb_arn if app is not None else None,
                    attach_cloudfront_acl=data.attach_web_acl if data is not None else None)


# -- from modules/app/tier.py -----------------------------------------------------------------------------------------

def app_tier_settings(app, sizes, *, protected: bool, target, vpc_id: str, public_subnet_ids, private_subnet_ids,
                      ebs_kms_key_arn: str, alarm_topics: AlarmTopics,
                      secrets_kms_key_arn: str | None = None) -> AppTierModuleSettings:
    """Map the environment's ``[app]`` and ``[sizes]`` sections (``envs.app.AppTierSettings``, ``envs.schema.Sizes``)
    onto the module's settings for ``target``.

    Target differences (emulator-only, see docs/app-tier.md): on the local target the HTTPS listener uses an ACM
    certificate requested on the emulator (it has no copy of the account's certificates), instance refresh is left
    out (moto does not implement ``StartInstanceRefresh``), and a spot mix does not wait for capacity (moto launches
    one instance too few). The KMS grant for the Auto Scaling service-linked role is created on every target.
    """
    local = target.is_local
    load_balancer = LoadBalancerSettings(
        public_subnet_ids=tuple(public_subnet_ids), vpc_id=vpc_id,
        certificate_arn=None if local else app.certificate_arn,
        request_local_certificate=local, ssl_policy=app.ssl_policy, target_port=app.app_port,
        health_check_path=app.health_check_path, health_check_matcher=app.health_check_matcher,
        healthy_threshold=app.healthy_threshold, unhealthy_threshold=app.unhealthy_threshold,
        health_check_interval_seconds=app.health_check_interval_seconds,
        health_check_timeout_seconds=app.health_check_timeout_seconds,
        deregistration_delay_seconds=app.deregistration_delay_seconds, idle_timeout_seconds=app.idle_timeout_seconds,
        deletion_protection=protected, access_log_retention_days=app.access_log_retention_days)
    compute = ComputeSettings(
        vpc_id=vpc_id, private_subnet_ids=tuple(private_subnet_ids), ebs_kms_key_arn=ebs_kms_key_arn,
        instance_type=sizes.instance_type,
        min_capacity=sizes.min_capacity, max_capacity=sizes.max_capacity, desired_capacity=sizes.desired_capacity,
        app_port=app.app_port, root_volume_size_gb=app.root_volume_size_gb,
        detailed_monitoring=app.detailed_monitoring, enable_spot=app.enable_spot,
        spot_instance_types=tuple(app.spot_instance_types), on_demand_base_capacity=app.on_demand_base_capacity,
        on_demand_percentage_above_base=app.on_demand_percentage_above_base,
        spot_allocation_strategy=app.spot_allocation_strategy,
        enable_instance_refresh=target.supports_feature("asg_instance_refresh"),
        instance_refresh_min_healthy_percentage=app.instance_refresh_min_healthy_percentage,
        wait_for_capacity_timeout="0" if local and app.enable_spot else None,
        start_command=app.start_command, health_check_path=app.health_check_path,
        shutdown_grace_seconds=app.deregistration_delay_seconds)
    return AppTierModuleSettings(
        load_balancer=load_balancer, compute=compute, initial_weights=dict(app.initial_weights),
        image_ssm_parameter=app.image_ssm_parameter, cpu_target_percent=app.cpu_target_percent,
        memory_target_percent=app.memory_target_percent, burst_cpu_percent=app.burst_cpu_percent,
        burst_step_instances=app.burst_step_instances, error_rate_percent=app.error_rate_percent,
        alarm_topics=alarm_topics, workload=app.workload, artifact_key=app.artifact_key,
        artifact_sha256=app.artifact_sha256, image_id=app.image_id, secrets_kms_key_arn=secrets_kms_key_arn,
        force_destroy_artifacts=not protected)


def key_services(region: str) -> dict[str, KeyServices]:
    """Data class -> the services its key policy grants, nothing broader (see modules/security/keys.py):
    ``principals`` call KMS themselves; ``via`` are the services through which this account's principals use it."""
    def via(*services: str) -> tuple[str, ...]:
        return tuple(f"{s}.{region}.amazonaws.com" for s in services)

    return {
        # CloudWatch Logs (log groups), CloudTrail (trail), vended logs and Config (audit bucket deliveries).
        "logs": KeyServices(principals=(f"logs.{region}.amazonaws.com", "cloudtrail.amazonaws.com",
                                        "delivery.logs.amazonaws.com", "config.amazonaws.com",
                                        "logging.s3.amazonaws.com"),
                            via=via("s3")),
        "data": KeyServices(via=via("s3", "rds", "elasticache", "dynamodb", "ec2")),
        "backups": KeyServices(via=via("backup")),
        "secrets": KeyServices(via=via("secretsmanager", "ssm")),
        # Alarms, EventBridge rules, Budgets and cost anomaly alerts publish to the encrypted topics.
        "alerts": KeyServices(principals=("cloudwatch.amazonaws.com", "events.amazonaws.com",
                                          "budgets.amazonaws.com", "costalerts.amazonaws.com"),
                              via=via("sns")),
    }


def workload_config(settings: EnvironmentSettings, region: str, bucket: str | None, static_bucket: str | None,
                    secret_arn: str) -> dict[str, Any]:
    """The application configuration the boot script reads (docs/app-tier.md), before the database entry: the same
    shape for the primary (modules/stack/platform.py) and the DR region's instances (modules/stack/pilot_light.py)."""
    return {"region": region, "bucket": bucket, "static_bucket": static_bucket, "secret_arn": secret_arn,
            "xray": {"daemon": "127.0.0.1:2000", "service_name": settings.name_prefix,
                     "sample_rate": settings.observability.tracing.default_sampling_rate}}


@dataclass(frozen=True)
class WorkloadDatabase:
    """How the application instances reach a database (primary: the instance or its proxy; DR: the replica)."""

    config: dict[str, Any] | None
    """The ``database`` entry of the application configuration; None while the address is unknown at synthesis
    (a DR instance that `dr failover` restores)."""
    grants: list[dict[str, Any]]
    """IAM statements to connect as the application's user."""
    security_group_id: str
    """The security group the instances open connections to."""
    port: Any
    description: str


def grant_workload_access(app: AppTier, settings: EnvironmentSettings, *, region: str, storage: Storage | None,
                          bucket_keys: tuple[str, str], secret_arn: str, database: WorkloadDatabase | None = None,
                          cache: Cache | None = None, integrations: Integrations | None = None,
                          replica_key_region: str | None = None) -> None:
    """What the application instances of ``app`` connect to and may use (docs/app-tier.md, "Grants"), the same for
    the primary (modules/stack/platform.py) and the DR region's instances (modules/stack/pilot_light.py): the
    configuration parameter the boot script reads, the instance role's one inline policy assembled from the tiers'
    ``grant_*`` helpers (tests/test_workload_platform.py fails on a helper nobody calls), and the security group egress
    to the database and the cache.

    ``bucket_keys``: the application and static buckets of ``storage`` (the DR replicas in the DR region);
    ``replica_key_region``: the region whose S3 uses the replicas' key (their grants' ``kms:ViaService``)."""
    buckets = storage.bucket_names if storage is not None else {}
    config = workload_config(settings, region, buckets.get(bucket_keys[0]), buckets.get(bucket_keys[1]), secret_arn)
    statements = [*app.artifacts.grant_read(), *app.grant_secret_read()]
    for key in bucket_keys:
        if storage is not None and key in buckets:
            for statement in storage.grant_read_write(key):
                if replica_key_region is not None and "Condition" in statement:
                    statement = {**statement, "Condition": {"StringEquals": {
                        "kms:ViaService": f"s3.{replica_key_region}.amazonaws.com"}}}
                statements.append(statement)
    if database is not None:
        if database.config is not None:
            config["database"] = database.config
        statements += database.grants
        app.compute.allow_to("database", database.security_group_id, database.port, database.description)
    if cache is not None:
        config["cache"] = {"host": cache.primary_endpoint, "port": cache.port, "user": cache.app_user_name,
                           "cache_name": cache.replication_group_id, "auth": "iam", "tls": True}
        statements += cache.grant_connect()
        app.compute.allow_to("cache", cache.security_group_id, cache.port, "Redis (TLS) to the cache")
    for name in sorted(integrations.secret_arns if integrations is not None else ()):
        statements += integrations.grant_read_secret(name)
    app.publish_config(config)
    statements += app.grant_config_read()
    app.compute.grant("workload", statements)
