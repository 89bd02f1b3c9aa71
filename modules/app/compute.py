"""Application instances: the app security group, a least-privilege instance role, and per colour (blue/green) a
launch template (IMDSv2, encrypted EBS with the environment's CMK, no public IP, CloudWatch agent user data) and an
Auto Scaling group in the private subnets with ELB health checks, instance refresh and an optional spot mix.

The Auto Scaling service-linked role gets an ``aws_kms_grant`` on the EBS key: without it AWS cannot launch
instances whose volumes are encrypted with a customer-managed key.
"""
from __future__ import annotations

import base64
import json
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from cdktf import TerraformResourceLifecycle, Token
from cdktf_cdktf_provider_aws.autoscaling_group import (
    AutoscalingGroup, AutoscalingGroupInstanceRefresh, AutoscalingGroupInstanceRefreshPreferences,
    AutoscalingGroupMixedInstancesPolicy, AutoscalingGroupMixedInstancesPolicyInstancesDistribution,
    AutoscalingGroupMixedInstancesPolicyLaunchTemplate,
    AutoscalingGroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecification,
    AutoscalingGroupLaunchTemplate, AutoscalingGroupMixedInstancesPolicyLaunchTemplateOverride, AutoscalingGroupTag)
from cdktf_cdktf_provider_aws.data_aws_default_tags import DataAwsDefaultTags
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.kms_grant import KmsGrant
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate, LaunchTemplateBlockDeviceMappings, LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateIamInstanceProfile, LaunchTemplateMetadataOptions, LaunchTemplateMonitoring,
    LaunchTemplateNetworkInterfaces, LaunchTemplateTagSpecifications)
from constructs import Construct

from envs.contract import auto_scaling_group_name
from modules.core.base import Context, Module, require
from modules.core.helpers import (allow_tcp, allow_tcp_between_groups, policy_json, security_group, service_role,
                                   tags)

#: AWS-managed policies of the instance role: SSM Session Manager, the CloudWatch agent, X-Ray. Nothing else.
MANAGED_POLICIES = ("AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy", "AWSXRayDaemonWriteAccess")
#: Operations the Auto Scaling service-linked role needs on the EBS key to launch encrypted instances.
EBS_GRANT_OPERATIONS = ("Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
                        "GenerateDataKeyWithoutPlaintext", "DescribeKey", "CreateGrant")
ASG_METRICS = ("GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
               "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances")
#: Namespace and metric names the CloudWatch agent publishes (used by the memory target-tracking policy).
AGENT_NAMESPACE = "CWAgent"
MEMORY_METRIC = "mem_used_percent"
DISK_METRIC = "disk_used_percent"


@dataclass(frozen=True)
class ColourRelease:
    """What one colour runs: its image, application version, artifact key and the artifact's SHA-256, as Terraform
    expressions (HCL without ``${}``; a literal is a quoted string, e.g. ``'"ami-0123"'``). ``artifact_key`` is
    ``"none"`` when the image holds the application."""

    image_id: str
    version: str
    artifact_key: str = '"none"'
    sha256: str = '"none"'


@dataclass(frozen=True)
class ComputeSettings:
    """Inputs of :class:`Compute`."""

    vpc_id: str
    """VPC of the app security group. Required."""
    private_subnet_ids: tuple[str, ...]
    """Subnets of the Auto Scaling groups (private tier, one per AZ). Required."""
    ebs_kms_key_arn: str
    """Customer-managed key encrypting the EBS volumes. Required."""
    load_balancer_security_group_id: str | None = None
    """The only source allowed to reach the instances. Required (:class:`modules.app.tier.AppTier` sets its load
    balancer's group)."""
    instance_type: str = "t3.micro"
    """Primary instance type. Default ``t3.micro``."""
    min_capacity: int = 1
    """Minimum instances per colour. Default 1."""
    max_capacity: int = 2
    """Maximum instances per colour. Default 2; at least `min_capacity`."""
    desired_capacity: int | None = None
    """Instances per colour at creation. Default `min_capacity`; scaling policies own it afterwards."""
    app_port: int = 8080
    """Port the instances serve on. Default 8080."""
    root_volume_size_gb: int = 20
    """Root volume size. Default 20."""
    detailed_monitoring: bool = True
    """One-minute EC2 metrics. Default true."""
    enable_spot: bool = False
    """Mixed instances policy (spot above an on-demand base). Default false."""
    spot_instance_types: tuple[str, ...] = ()
    """More instance types for the mixed policy. Default none; at least one when `enable_spot`."""
    on_demand_base_capacity: int = 0
    """On-demand instances before any spot. Default 0."""
    on_demand_percentage_above_base: int = 100
    """On-demand percent above the base, 0 to 100. Default 100."""
    spot_allocation_strategy: str = "price-capacity-optimized"
    """Spot allocation strategy. Default ``price-capacity-optimized``."""
    health_check_grace_period_seconds: int = 300
    """Seconds after launch before ELB health checks count. Default 300."""
    enable_instance_refresh: bool = True
    """Rolling instance refresh when the launch template changes. Default true."""
    instance_refresh_min_healthy_percentage: int = 90
    """Capacity kept in service during a refresh. Default 90."""
    wait_for_capacity_timeout: str | None = None
    """Terraform's wait for the desired capacity. Default none (the provider's 10 minutes); the local target sets
    ``"0"`` because the emulator launches one instance too few for a mixed instances policy."""
    start_command: str = "bin/start"
    """Command the instances run as the application's systemd service. Default ``bin/start``."""
    health_check_path: str = "/health"
    """The load balancer's health check path, passed to the application. Default ``/health``."""
    shutdown_grace_seconds: int = 60
    """Seconds the application may drain after SIGTERM (the deregistration delay). Default 60."""
    grant_ebs_key_to_autoscaling: bool = True
    """Create the KMS grant for the Auto Scaling service-linked role on `ebs_kms_key_arn`. Default true."""
    colours: tuple[str, ...] = ("blue", "green")
    """One launch template and Auto Scaling group per colour. Default blue and green."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(len(self.private_subnet_ids) >= 1, "`private_subnet_ids` must list at least one subnet")
        require(0 <= self.min_capacity <= self.max_capacity,
                f"`min_capacity` ({self.min_capacity}) must be between 0 and `max_capacity` ({self.max_capacity})")
        require(self.desired_capacity is None or self.min_capacity <= self.desired_capacity <= self.max_capacity,
                "`desired_capacity` must be between `min_capacity` and `max_capacity`")
        require(0 <= self.on_demand_percentage_above_base <= 100,
                f"`on_demand_percentage_above_base` must be 0..100, got {self.on_demand_percentage_above_base}")
        require(not self.enable_spot or len(self.spot_instance_types) >= 1,
                "`spot_instance_types` must list at least one type when `enable_spot` is true")
        require(self.root_volume_size_gb >= 8, "`root_volume_size_gb` must be at least 8")


#: Where the instance keeps the application (one folder per release, ``current`` -> the running one).
APP_HOME = "/opt/app"
LOG_DIR = "/var/log/app"
#: Instance tags (read from the instance metadata) carrying what a colour runs; set by the launch template.
RELEASE_TAGS = ("AppVersion", "AppArtifact", "AppSha256", "AppArtifactBucket")
#: Value of ``AppArtifact`` when the image holds the application (``app.workload = "image"``): nothing to fetch.
NO_ARTIFACT = "none"


@dataclass(frozen=True)
class WorkloadBoot:
    """What the boot script installs and runs (static: rendered at synthesis, base64 in the launch template).
    What changes per release (version, artifact key, its SHA-256, the bucket) reaches the instance as instance
    tags (:data:`RELEASE_TAGS`), read from the instance metadata."""

    name_prefix: str
    """Names the log groups and the configuration parameter. Required."""
    app_port: int = 8080
    """Port the service listens on. Default 8080."""
    health_check_path: str = "/health"
    """Path the load balancer checks (given to the service as ``APP_HEALTH_PATH``). Default ``/health``."""
    start_command: str = "bin/start"
    """ExecStart of the systemd service; relative to the release folder unless absolute. Default ``bin/start``."""
    shutdown_grace_seconds: int = 60
    """The service's drain time on SIGTERM (the target group's deregistration delay). Default 60."""

    @property
    def config_parameter(self) -> str:
        return f"/{self.name_prefix}/workload/config"

    @property
    def log_groups(self) -> dict[str, str]:
        """Log file stem -> CloudWatch Logs group (the groups ``modules/observability/monitoring.py`` creates)."""
        return {"application": f"/app/{self.name_prefix}/application", "access": f"/app/{self.name_prefix}/access"}

    def exec_start(self) -> str:
        command = self.start_command if self.start_command.startswith("/") else \
            f"{APP_HOME}/current/{self.start_command}"
        return command.replace("%", "%%")  # systemd specifiers: a literal percent sign


def agent_config(boot: WorkloadBoot) -> dict:
    """CloudWatch agent configuration: memory and disk metrics per Auto Scaling group, the service's two log files
    to their log groups, and the X-Ray daemon endpoint (UDP/TCP 127.0.0.1:2000) forwarding traces to X-Ray.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html"""
    return {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "cwagent"},
        "metrics": {
            "namespace": AGENT_NAMESPACE,
            "append_dimensions": {"AutoScalingGroupName": "${aws:AutoScalingGroupName}",
                                  "InstanceId": "${aws:InstanceId}"},
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {
                "mem": {"measurement": [MEMORY_METRIC]},
                "disk": {"measurement": [DISK_METRIC], "resources": ["/"]},
            },
        },
        "logs": {"logs_collected": {"files": {"collect_list": [
            {"file_path": f"{LOG_DIR}/{stem}.log", "log_group_name": group, "log_stream_name": "{instance_id}"}
            for stem, group in boot.log_groups.items()]}}},
        "traces": {"traces_collected": {"xray": {"bind_address": "127.0.0.1:2000",
                                                 "tcp_proxy": {"bind_address": "127.0.0.1:2000"}}}},
    }


def user_data(boot: WorkloadBoot) -> str:
    """Boot script of the application instances (bash, ``set -euo pipefail``; passes ``bash -n`` and shellcheck).

    1. Reads the release from the instance tags (IMDSv2): version, artifact key, SHA-256, artifact bucket.
    2. Unless the image holds the application, downloads the artifact with the instance role (``aws s3api
       get-object``), refuses it unless its SHA-256 matches (``sha256sum --check``), unpacks it into
       ``/opt/app/releases/<version>``, installs its ``requirements.txt`` into a virtualenv there, and points
       ``/opt/app/current`` at it.
    3. Writes the service's configuration (``/etc/app/config.json`` from the SSM parameter
       ``/<prefix>/workload/config``, ``/etc/app/app.env``), a systemd unit running `start_command` as user
       ``app`` (SIGTERM on stop, ``TimeoutStopSec`` = drain time + 15 s), and starts it.
    4. Configures and starts the CloudWatch agent (:func:`agent_config`): logs, memory metrics, traces.
    """
    unit = "\n".join([
        "[Unit]",
        f"Description=Application of {boot.name_prefix}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "User=app",
        "Group=app",
        f"WorkingDirectory={APP_HOME}/current",
        "EnvironmentFile=/etc/app/app.env",
        f"ExecStart={boot.exec_start()}",
        "Restart=always",
        "RestartSec=2",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={boot.shutdown_grace_seconds + 15}",
        f"StandardOutput=append:{LOG_DIR}/application.log",
        f"StandardError=append:{LOG_DIR}/application.log",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ])
    agent = json.dumps(agent_config(boot), indent=1)
    lines = [
        "#!/bin/bash",
        # The path below names this file's old place (modules/compute.py): the text is part of every launch template,
        # and changing it would roll every instance; it changes the next time the boot script changes anyway.
        "# Boot script of the application instances (rendered by modules/compute.py; see docs/app-tier.md).",
        "set -euo pipefail",
        "",
        f"readonly CONFIG_PARAMETER={shlex.quote(boot.config_parameter)}",
        f"readonly APP_HOME='{APP_HOME}'",
        f"readonly LOG_DIR='{LOG_DIR}'",
        "",
        "# imds PATH: one instance metadata read with the IMDSv2 session token.",
        "imds() {",
        '  curl -sf -H "X-aws-ec2-metadata-token: ${IMDS_TOKEN}" "http://169.254.169.254/latest/$1"',
        "}",
        "",
        "# fetch_artifact BUCKET KEY SHA256 DEST: download with the instance role, verify, unpack into DEST.",
        "fetch_artifact() {",
        '  local bucket="$1" key="$2" sha="$3" dest="$4" tmp',
        "  tmp=$(mktemp -d)",
        '  if ! aws s3api get-object --bucket "$bucket" --key "$key" "$tmp/app.tar.gz" >/dev/null; then',
        '    echo "cannot download s3://$bucket/$key" >&2',
        '    rm -rf "$tmp"',
        "    return 1",
        "  fi",
        '  if ! echo "$sha  $tmp/app.tar.gz" | sha256sum --check --status; then',
        '    echo "checksum mismatch: s3://$bucket/$key is not $sha" >&2',
        '    rm -rf "$tmp"',
        "    return 1",
        "  fi",
        '  mkdir -p "$dest"',
        '  tar -xzf "$tmp/app.tar.gz" -C "$dest" --no-same-owner',
        '  rm -rf "$tmp"',
        "}",
        "",
        "main() {",
        "  IMDS_TOKEN=$(curl -sfX PUT http://169.254.169.254/latest/api/token "
        "-H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
        "  local region version artifact sha bucket release",
        "  region=$(imds meta-data/placement/region)",
        "  version=$(imds meta-data/tags/instance/AppVersion)",
        "  artifact=$(imds meta-data/tags/instance/AppArtifact)",
        "  sha=$(imds meta-data/tags/instance/AppSha256)",
        "  bucket=$(imds meta-data/tags/instance/AppArtifactBucket)",
        '  export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"',
        "",
        "  dnf install -y amazon-cloudwatch-agent python3-pip",
        "  id app >/dev/null 2>&1 || useradd --system --home-dir \"$APP_HOME\" --shell /sbin/nologin app",
        '  mkdir -p /etc/app "$LOG_DIR" "$APP_HOME/releases"',
        '  touch "$LOG_DIR/application.log" "$LOG_DIR/access.log"',
        '  chown app:app "$LOG_DIR" "$LOG_DIR/application.log" "$LOG_DIR/access.log"',
        '  chmod 0755 "$LOG_DIR"',
        '  aws ssm get-parameter --name "$CONFIG_PARAMETER" --query Parameter.Value --output text '
        "> /etc/app/config.json",
        "",
        f'  if [ "$artifact" != "{NO_ARTIFACT}" ]; then',
        '    release="$APP_HOME/releases/$version"',
        '    fetch_artifact "$bucket" "$artifact" "$sha" "$release"',
        '    if [ -f "$release/requirements.txt" ]; then',
        '      python3 -m venv "$release/venv"',
        '      "$release/venv/bin/pip" install --quiet --no-input -r "$release/requirements.txt"',
        "    fi",
        '    ln -sfn "$release" "$APP_HOME/current"',
        "  else",
        '    mkdir -p "$APP_HOME/current"',
        "  fi",
        "",
        "  {",
        f"    echo {shlex.quote(f'APP_PORT={boot.app_port}')}",
        f"    echo {shlex.quote(f'APP_HEALTH_PATH={boot.health_check_path}')}",
        f"    echo {shlex.quote(f'APP_SHUTDOWN_GRACE_SECONDS={boot.shutdown_grace_seconds}')}",
        "    echo 'APP_CONFIG_FILE=/etc/app/config.json'",
        '    echo "APP_LOG_DIR=$LOG_DIR"',
        '    echo "APP_VERSION=$version"',
        '    echo "AWS_REGION=$region"',
        "  } > /etc/app/app.env",
        "",
        "  cat > /etc/systemd/system/app.service <<'UNIT'",
        unit,
        "UNIT",
        "  systemctl daemon-reload",
        "  systemctl enable --now app.service",
        "",
        "  cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'AGENT'",
        agent,
        "AGENT",
        "  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s "
        "-c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
        "}",
        "",
        'main "$@"',
        "",
    ]
    return "\n".join(lines)


class Compute(Module):
    """Instances of the application tier, one Auto Scaling group per colour.

    Public attributes: ``security_group`` (escape hatch), ``security_group_id``, ``role`` (escape hatch),
    ``role_name``, ``role_arn``, ``instance_profile_arn``, ``launch_templates`` and ``asgs`` (colour -> resource),
    ``asg_names`` and ``asg_arns`` (colour -> value).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ComputeSettings,
                 target_group_arns: Mapping[str, str], releases: Mapping[str, ColourRelease],
                 artifact_bucket: str | None = None) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        require(set(target_group_arns) == set(s.colours) == set(releases),
                "`target_group_arns` and `releases` must name every colour")
        require(s.load_balancer_security_group_id is not None, "`load_balancer_security_group_id` is required")
        prefix, extra = ctx.name_prefix, s.extra_tags

        self.security_group = security_group(
            self, "sg", ctx, name=f"{prefix}-app", vpc_id=s.vpc_id,
            description=f"{prefix} app instances: from the load balancer only; HTTPS out", extra_tags=extra)
        self.security_group_id: str = self.security_group.id
        allow_tcp_between_groups(self, "sg-in-lb", security_group_id=self.security_group.id, port=s.app_port,
                                 peer_security_group_id=s.load_balancer_security_group_id, inbound=True,
                                 description="app traffic and health checks from the load balancer")
        # Egress: HTTPS (AWS APIs, SSM, CloudWatch, package repositories via NAT / gateway endpoints) and DNS in the VPC.
        allow_tcp(self, "sg-out-https", ctx, security_group_id=self.security_group.id, port=443, inbound=False,
                  cidr="0.0.0.0/0", description="HTTPS to AWS APIs and package repositories",
                  tag_name=f"{prefix}-app-out-https", extra_tags=extra)

        self.role = service_role(self, "role", ctx, name=f"{prefix}-app-instance", service="ec2.amazonaws.com",
                                 extra_tags=extra, this_account_only=False)
        for policy in MANAGED_POLICIES:
            IamRolePolicyAttachment(self, f"role-{policy}", role=self.role.name,
                                    policy_arn=f"arn:{ctx.partition}:iam::aws:policy/{policy}")
        self.role_name: str = self.role.name
        self.role_arn: str = self.role.arn
        profile = IamInstanceProfile(self, "profile", name=f"{prefix}-app-instance", role=self.role.name,
                                     tags=tags(ctx, f"{prefix}-app-instance", extra))
        self.instance_profile_arn: str = profile.arn

        grants = []
        if s.grant_ebs_key_to_autoscaling:
            grants.append(KmsGrant(
                self, "ebs-key-grant", name=f"{prefix}-autoscaling-ebs", key_id=s.ebs_kms_key_arn,
                grantee_principal=(f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/"
                                   "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
                operations=list(EBS_GRANT_OPERATIONS)))

        self.boot = WorkloadBoot(name_prefix=prefix, app_port=s.app_port, health_check_path=s.health_check_path,
                                 start_command=s.start_command, shutdown_grace_seconds=s.shutdown_grace_seconds)
        self.user_data = user_data(self.boot)
        # The artifact bucket as an HCL expression (e.g. ``aws_s3_bucket.x.bucket``), like the releases' fields.
        bucket_hcl = json.dumps(NO_ARTIFACT) if artifact_bucket is None else artifact_bucket
        default_tags = DataAwsDefaultTags(self, "default-tags")
        self.launch_templates: dict[str, LaunchTemplate] = {}
        self.asgs: dict[str, AutoscalingGroup] = {}
        for colour in s.colours:
            release = releases[colour]
            name = auto_scaling_group_name(prefix, colour)
            fixed = tags(ctx, name, {**extra, "Colour": colour})
            hcl_map = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in fixed.items())
            instance_tags = Token.as_string_map(
                f"${{merge({default_tags.fqn}.tags, {{{hcl_map}, \"AppVersion\" = {release.version}, "
                f"\"AppArtifact\" = {release.artifact_key}, \"AppSha256\" = {release.sha256}, "
                f"\"AppArtifactBucket\" = {bucket_hcl}}})}}")
            lt = LaunchTemplate(
                self, f"lt-{colour}", name=name, description=f"{name}: application instances ({colour})",
                image_id=f"${{{release.image_id}}}", instance_type=s.instance_type, update_default_version=True,
                ebs_optimized="true",
                iam_instance_profile=LaunchTemplateIamInstanceProfile(arn=profile.arn),
                metadata_options=LaunchTemplateMetadataOptions(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
                    instance_metadata_tags="enabled"),
                monitoring=LaunchTemplateMonitoring(enabled=s.detailed_monitoring),
                network_interfaces=[LaunchTemplateNetworkInterfaces(
                    associate_public_ip_address="false", delete_on_termination="true", device_index=0,
                    security_groups=[self.security_group.id])],
                block_device_mappings=[LaunchTemplateBlockDeviceMappings(
                    device_name="/dev/xvda", ebs=LaunchTemplateBlockDeviceMappingsEbs(
                        volume_size=s.root_volume_size_gb, volume_type="gp3", encrypted="true",
                        kms_key_id=s.ebs_kms_key_arn, delete_on_termination="true"))],
                user_data=base64.b64encode(self.user_data.encode()).decode(),
                tag_specifications=[LaunchTemplateTagSpecifications(resource_type=kind, tags=instance_tags)
                                    for kind in ("instance", "volume", "network-interface")],
                tags=tags(ctx, name, {**extra, "Colour": colour}))
            self.launch_templates[colour] = lt
            lt_spec = AutoscalingGroupLaunchTemplate(id=lt.id, version=Token.as_string(lt.latest_version))
            placement: dict = {}
            if s.enable_spot:
                placement["mixed_instances_policy"] = AutoscalingGroupMixedInstancesPolicy(
                    instances_distribution=AutoscalingGroupMixedInstancesPolicyInstancesDistribution(
                        on_demand_base_capacity=s.on_demand_base_capacity,
                        on_demand_percentage_above_base_capacity=s.on_demand_percentage_above_base,
                        spot_allocation_strategy=s.spot_allocation_strategy,
                        on_demand_allocation_strategy="prioritized"),
                    launch_template=AutoscalingGroupMixedInstancesPolicyLaunchTemplate(
                        launch_template_specification=(
                            AutoscalingGroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecification(
                                launch_template_id=lt.id, version=Token.as_string(lt.latest_version))),
                        override=[AutoscalingGroupMixedInstancesPolicyLaunchTemplateOverride(instance_type=t)
                                  for t in (s.instance_type, *s.spot_instance_types)]))
                placement["capacity_rebalance"] = True
            else:
                placement["launch_template"] = lt_spec
            if s.enable_instance_refresh:
                placement["instance_refresh"] = AutoscalingGroupInstanceRefresh(
                    strategy="Rolling", preferences=AutoscalingGroupInstanceRefreshPreferences(
                        min_healthy_percentage=s.instance_refresh_min_healthy_percentage, skip_matching=True))
            if s.wait_for_capacity_timeout is not None:
                placement["wait_for_capacity_timeout"] = s.wait_for_capacity_timeout
            asg = AutoscalingGroup(
                self, f"asg-{colour}", name=name, vpc_zone_identifier=list(s.private_subnet_ids),
                min_size=s.min_capacity, max_size=s.max_capacity,
                desired_capacity=s.desired_capacity if s.desired_capacity is not None else s.min_capacity,
                health_check_type="ELB", health_check_grace_period=s.health_check_grace_period_seconds,
                default_instance_warmup=120, target_group_arns=[target_group_arns[colour]],
                enabled_metrics=list(ASG_METRICS), metrics_granularity="1Minute",
                termination_policies=["OldestLaunchTemplate", "OldestInstance"],
                tag=[AutoscalingGroupTag(key="Name", value=name, propagate_at_launch=False),
                     AutoscalingGroupTag(key="Colour", value=colour, propagate_at_launch=False)],
                depends_on=grants,
                # Scaling policies own the desired capacity once the group exists; a deploy must not reset it.
                lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_capacity"]),
                **placement)
            self.asgs[colour] = asg
        self.asg_names: dict[str, str] = {c: a.name for c, a in self.asgs.items()}
        self.asg_arns: dict[str, str] = {c: a.arn for c, a in self.asgs.items()}

    def allow_to(self, id_: str, security_group_id: str, port: int, description: str) -> None:
        """Let the instances open TCP connections to ``port`` of another security group (a database, a cache)."""
        allow_tcp_between_groups(self, f"sg-out-{id_}", security_group_id=self.security_group.id, port=port,
                                 peer_security_group_id=security_group_id, description=description, inbound=False)

    def grant(self, id_: str, statements: list[dict]) -> None:
        """Add one inline policy to the instance role (the platform's grants: see ``modules/stack/platform.py``)."""
        require(bool(statements), f"grant {id_}: no statements")
        IamRolePolicy(self, f"role-{id_}", name=f"{self.ctx.name_prefix}-app-{id_}", role=self.role.id,
                      policy=policy_json(*statements))
