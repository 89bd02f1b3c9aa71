"""One stack per environment: providers, remote state, and the composition of the capability modules."""
from __future__ import annotations

from cdktf import App, S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider
from constructs import Construct

from envs.schema import EnvironmentSettings, NatStrategy
from envs.target import Target

from modules.app.tier import AppTier
from modules.core.base import Context
from modules.core.literal import literal_settings
from modules.data.tier import DataTier
from modules.integration.tier import Integration
from modules.network.vpc import Network, NetworkSettings
from modules.observability.alerting import Alerting
from modules.observability.tier import Observability
from modules.security.keys import EncryptionKey, EncryptionKeySettings, KeyServices
from modules.security.tier import Security
from modules.stack.mapping import (alerting_settings, app_tier_settings, build_integration, build_security,
                                   data_tier_settings, observability_settings, observed_resources)
from modules.stack.mapping import WorkloadDatabase, alarm_topics, grant_workload_access, key_services
from modules.stack.local_variant import apply_local_variant, data_tier_variant
from modules.stack.refs import Providers, TierRefs
from modules.stack.pilot_light import PilotLight, build_pilot_light
from modules.stack.operations import Operations, build_operations

MANAGED_BY = "platform-iac"

#: Provider endpoint names (cdktf-python spelling) pointed at the emulator on the local target: every service the
#: modules use. A service missing here would be sent to real AWS with the emulator's fake credentials and fail.
EMULATOR_SERVICES = (
    "acm", "apigateway", "apigatewayv2", "autoscaling", "backup", "budgets", "ce", "cloudfront", "cloudtrail",
    "cloudwatch", "cloudwatchlogs", "configservice", "dynamodb", "ec2", "elasticache", "elbv2", "events",
    "guardduty", "iam", "inspector2", "kms", "lambda_", "macie2", "rds", "route53", "s3", "secretsmanager",
    "securityhub", "servicediscovery", "shield", "sns", "sqs", "ssm", "ssmcontacts", "ssmincidents", "sts",
    "synthetics", "vpclattice", "wafv2",
    "xray",
)


def default_tags(settings: EnvironmentSettings) -> dict[str, str]:
    """The organisation tags every resource carries through the provider's ``default_tags``.

    The git commit is not a tag: a tag that changes with every commit would make every plan update every resource,
    burying the real change in the review. The commit is in the run record, the release record and the synthesized
    file's ``//`` metadata (``platform.commit``)."""
    return {
        "Environment": settings.name,
        "Project": settings.tags.project,
        "Owner": settings.tags.owner,
        "CostCenter": settings.tags.cost_center,
        "ManagedBy": MANAGED_BY,
    }


def _provider(scope: Construct, id_: str, region: str, settings: EnvironmentSettings, target: Target,
              alias: str | None = None) -> AwsProvider:
    common = dict(region=region, alias=alias, default_tags=[{"tags": default_tags(settings)}])
    if not target.is_local:
        return AwsProvider(scope, id_, allowed_account_ids=[settings.account_id], **common)
    # Emulator-only settings: credentials come from the runner's environment (AWS_ACCESS_KEY_ID=test), never JSON.
    return AwsProvider(
        scope, id_, **common,
        # A list of plain dicts reaches jsii as maps with the schema's own keys: ``lambda``, not the binding's
        # ``lambda_`` (which would be dropped silently and send Lambda calls to AWS).
        endpoints=[{service.rstrip("_"): target.endpoint for service in EMULATOR_SERVICES}],
        skip_credentials_validation=True, skip_requesting_account_id=True, skip_metadata_api_check="true",
        s3_use_path_style=True,
        max_retries=2,  # without it an unimplemented API is retried until the apply hangs
    )


class PlatformStack(TerraformStack):
    """The whole platform of one environment.

    Public attributes: ``settings`` (as handed to the constructs: every string a Terraform literal), ``target``,
    ``providers``, ``ctx``, ``keys`` (data class -> EncryptionKey), ``network``.
    """

    def __init__(self, scope: Construct, settings: EnvironmentSettings, target: Target, commit: str) -> None:
        # Settings are data: the one boundary where settings enter the constructs. From here on every string of
        # the settings is a Terraform literal (``${`` -> ``$${``, ``%{`` -> ``%%{``; see modules/core/literal.py).
        settings = literal_settings(settings)
        super().__init__(scope, settings.name)
        self.settings, self.target = settings, target
        # Traceability without a Terraform diff: "//" is a comment key in Terraform JSON.
        self.add_override("//.platform", {"commit": commit, "environment": settings.name})
        self.providers = Providers(
            primary=_provider(self, "aws", settings.region, settings, target),
            dr=_provider(self, "aws-dr", settings.dr_region, settings, target, alias="dr"),
            us_east_1=_provider(self, "aws-us-east-1", "us-east-1", settings, target, alias="us_east_1"),
        )
        self._backend(settings, target)

        identity = DataAwsCallerIdentity(self, "caller")
        partition = DataAwsPartition(self, "partition")
        self.ctx = Context(name_prefix=settings.name_prefix, region=settings.region, account_id=identity.account_id,
                           partition=partition.partition, target=target)

        # 1. Encryption: one customer-managed key per data class; every module encrypts with these.
        region = settings.region
        self.keys: dict[str, EncryptionKey] = {
            data_class: EncryptionKey(self, f"kms-{data_class}", self.ctx, EncryptionKeySettings(
                data_class=data_class, service_principals=uses.principals, via_services=uses.via,
                logs_encryption_context=data_class == "logs"))
            for data_class, uses in key_services(region).items()
        }

        # 2. Network.
        az_count = settings.network.az_count
        self.network = Network(self, "network", self.ctx, NetworkSettings(
            vpc_cidr=settings.network.vpc_cidr,
            availability_zones=settings.availability_zones,
            nat_gateways=az_count if settings.network.nat_strategy is NatStrategy.ONE_PER_AZ else 1,
            subnet_newbits=settings.network.subnet_newbits,
            flow_log_retention_days=settings.log_retention_days,
            flow_log_kms_key_arn=self.keys["logs"].arn,
        ))

        # 3. Capabilities, in dependency order; each reads what earlier ones expose (None when absent or switched
        #    off in the settings: `app.enabled`, `data.enabled`, `security.enabled`, `integration.enabled`,
        #    `observability.enabled`). Alerting first (every module wires its alarms to it; it exists while
        #    observability or the security baseline, which routes findings to it, is on), then app tier, data tier,
        #    security (the WAF attaches to the app tier's load balancer and the data tier's CDN), the workload's
        #    access, observability last (dashboards over everything).
        s = settings
        self.alerting: Alerting | None = None
        if s.observability.enabled or s.security.enabled:
            self.alerting = Alerting(self, "alerting", self.ctx,
                                     alerting_settings(settings.observability, self.keys["alerts"].arn))
        # The one alarm-topic interface (modules/core/alarms.py), built once: every construct's alarms notify these.
        self.alarm_topics = alarm_topics(self.alerting)
        self.app: AppTier | None = None
        self.data: DataTier | None = None
        self.security: Security | None = None
        if s.app.enabled:
            self.app = AppTier(self, "app", self.ctx, app_tier_settings(
                settings.app, settings.sizes, protected=settings.protected, target=target,
                vpc_id=self.network.vpc_id, public_subnet_ids=self.network.public_subnet_ids,
                private_subnet_ids=self.network.private_subnet_ids, ebs_kms_key_arn=self.keys["data"].arn,
                alarm_topics=self.alarm_topics,
                secrets_kms_key_arn=self.keys["secrets"].arn))
        if s.data.enabled:
            self.data = DataTier(
                self, "data", self.ctx, data_tier_variant(data_tier_settings(settings), target),
                vpc_id=self.network.vpc_id,
                database_subnet_group_name=self.network.database_subnet_group_name,
                private_subnet_ids=self.network.private_subnet_ids,
                keys={data_class: key.arn for data_class, key in self.keys.items()}, dr_provider=self.providers.dr,
                app_security_group_id=self.app.app_security_group_id if self.app is not None else None,
                alb_dns_name=self.app.alb_dns_name if self.app is not None else None,
                alb_zone_id=self.app.alb_zone_id if self.app is not None else None,
                alarm_topics=self.alarm_topics)
            # CloudFront reads the static bucket (SSE-KMS with the data key) through origin access control: the key
            # policy admits cloudfront.amazonaws.com for this distribution only (PLAT_AWS_001).
            if self.data.distribution_arn is not None:
                self.keys["data"].allow_cloudfront_read(self.data.distribution_arn)
        if s.security.enabled:
            self.security = build_security(self._refs(), settings)
        self.integration: Integration | None = build_integration(self._refs(), settings) if s.integration.enabled else None
        if self.integration is not None:
            for name, value in self.integration.outputs().items():
                TerraformOutput(self, name, value=value)
        # On-call and compliance remediation read the security baseline (topics, finding rules, Config rules).
        self.operations: Operations | None = build_operations(self._refs(), settings)
        if self.operations is not None:
            for name, value in self.operations.outputs().items():
                TerraformOutput(self, name, value=value)
        if self.app is not None:
            self._workload_access(settings)
        # The DR region's pilot light / warm standby (`data.dr.mode`, modules/stack/pilot_light.py).
        self.pilot_light: PilotLight | None = build_pilot_light(self._refs(), settings)
        self.observability: Observability | None = None
        if s.observability.enabled:
            self.observability = Observability(
                self, "observability", self.ctx, observability_settings(settings, self.keys["logs"].arn),
                alarm_topics=self.alarm_topics, observed=observed_resources(self.app, self.data, self.security))

        # Outputs only of what exists: a switched-off tier emits none (the pipeline's readers say so by name).
        TerraformOutput(self, "vpc_id", value=self.network.vpc_id)
        TerraformOutput(self, "private_subnet_ids", value=self.network.private_subnet_ids)
        TerraformOutput(self, "database_subnet_group", value=self.network.database_subnet_group_name)
        data, sec, app = self.data, self.security, self.app
        optional: tuple[tuple[str, object], ...] = ()
        if data is not None:
            optional += (("db_endpoint", data.db_endpoint), ("db_identifier", data.db_identifier),
                         ("static_bucket", data.bucket_names.get("static")),
                         ("cdn_distribution_id", data.distribution_id),
                         ("backup_vault_arn", data.backup_vault_arn))
        if sec is not None:
            optional += (
                ("security_dashboard", sec.dashboard_name),
                ("waf_regional_acl_arn", sec.waf.regional_acl_arn if sec.waf is not None else None),
                ("audit_bucket", sec.audit.bucket_name if sec.audit is not None else None),
                ("cloudtrail_arn", sec.audit.trail_arn if sec.audit is not None else None),
                ("containment_document", sec.incident_response.containment_document_name
                 if sec.incident_response is not None else None),
                ("permissions_boundary_arn", sec.iam.boundary_arn))
        if app is not None:
            optional += (("alb_dns_name", app.alb_dns_name), ("alb_arn", app.alb_arn),
                         ("https_listener_arn", app.https_listener_arn),
                         ("app_target_group_arns", app.target_group_arns), ("app_asg_names", app.asg_names))
        for name, value in optional:
            if value is not None:
                TerraformOutput(self, name, value=value)
        # The last step: the emulator's variant of the built tree, decided here and nowhere else.
        apply_local_variant(self, target)

    def _refs(self) -> TierRefs:
        """Typed references to what is built so far, for the composition functions of the stack layer."""
        return TierRefs(scope=self, ctx=self.ctx, providers=self.providers, keys=self.keys, network=self.network,
                        alarm_topics=self.alarm_topics, app=self.app, data=self.data,
                        security=self.security)

    def _workload_access(self, settings: EnvironmentSettings) -> None:
        """What the application instances connect to and may use (docs/app-tier.md, "Grants"): the database entry
        (through the proxy when there is one), then :func:`modules.stack.mapping.grant_workload_access`."""
        app, data = self.app, self.data
        assert app is not None
        db = data.database if data is not None else None
        database = None
        if db is not None:
            user = settings.data.database.master_username  # the proxy's secret user: IAM at the proxy
            config = {"host": db.proxy_endpoint or db.address, "port": db.port,
                      "name": settings.data.database.db_name, "user": user, "auth": "iam"}
            # RDS Proxy presents an ACM certificate that the system trust store verifies; an instance's certificate
            # is signed by the RDS CA, which is not in it (TLS is still required: rds.force_ssl).
            # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.howitworks.html#rds-proxy-security.tls
            config.update({"sslmode": "verify-full", "sslrootcert": "system"} if db.proxy is not None
                          else {"sslmode": "require"})
            database = WorkloadDatabase(
                config=config, grants=db.grant_connect(user),
                security_group_id=db.proxy_security_group_id or db.security_group_id, port=db.port,
                description="PostgreSQL to RDS Proxy" if db.proxy is not None else "PostgreSQL to the database")
        grant_workload_access(app, settings, region=settings.region, storage=data.storage if data is not None else None,
                              bucket_keys=("app", "static"), secret_arn=app.secret_arn, database=database,
                              cache=data.cache if data is not None else None,
                              integrations=self.integration.integrations if self.integration is not None else None)

    def _backend(self, settings: EnvironmentSettings, target: Target) -> None:
        common = dict(bucket=settings.state_bucket, key=settings.state_key, region=settings.region,
                      dynamodb_table=settings.lock_table, encrypt=True)
        if target.is_local:
            S3Backend(self, **common, use_path_style=True, skip_credentials_validation=True,
                      skip_requesting_account_id=True, skip_metadata_api_check=True,
                      endpoints={"s3": target.endpoint, "dynamodb": target.endpoint, "sts": target.endpoint})
        else:
            S3Backend(self, **common, allowed_account_ids=[settings.account_id])
        # S3 native locking (Terraform >= 1.10) beside DynamoDB; cdktf 0.21 predates the field.
        self.add_override("terraform.backend.s3.use_lockfile", True)


def build_app(envs: dict[str, EnvironmentSettings], target: Target, commit: str, outdir: str) -> App:
    """An app holding one stack per environment (not yet synthesized)."""
    app = App(outdir=outdir)
    for settings in envs.values():
        PlatformStack(app, settings, target, commit)
    return app
