"""Application instances: the app security group, a least-privilege instance role, and per colour (blue/green) a
launch template (IMDSv2, encrypted EBS with the environment's CMK, no public IP, CloudWatch agent user data) and an
Auto Scaling group in the private subnets with ELB health checks, instance refresh and an optional spot mix.

The Auto Scaling service-linked role gets an ``aws_kms_grant`` on the EBS key: without it AWS cannot launch
instances whose volumes are encrypted with a customer-managed key.
"""
from __future__ import annotations

import base64
import json
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
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.kms_grant import KmsGrant
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate, LaunchTemplateBlockDeviceMappings, LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateIamInstanceProfile, LaunchTemplateMetadataOptions, LaunchTemplateMonitoring,
    LaunchTemplateNetworkInterfaces, LaunchTemplateTagSpecifications)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule
from constructs import Construct

from .base import Context, Module, policy_json, require, tags

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
    """What one colour runs: its image and application version, as Terraform expressions (HCL without ``${}``;
    a literal is a quoted string, e.g. ``'"ami-0123"'``)."""

    image_id: str
    version: str


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
    """The only source allowed to reach the instances. Required (:class:`modules.app_tier.AppTier` sets its load
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


def user_data(app_port: int) -> str:
    """Boot script: install and start the CloudWatch agent (memory and disk metrics per Auto Scaling group).

    Static on purpose (it is base64-encoded at synthesis): the colour's version reaches the instance as the
    ``AppVersion`` instance tag, readable from the instance metadata (``instance_metadata_tags``)."""
    agent = {
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
    }
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        "dnf install -y amazon-cloudwatch-agent",
        "cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'AGENT'",
        json.dumps(agent, indent=1),
        "AGENT",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s "
        "-c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
        "mkdir -p /etc/app",
        "TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')",
        "VERSION=$(curl -s -H \"X-aws-ec2-metadata-token: $TOKEN\" "
        "http://169.254.169.254/latest/meta-data/tags/instance/AppVersion)",
        "echo \"APP_VERSION=$VERSION\" > /etc/app/release.env",
        f"echo 'APP_PORT={app_port}' >> /etc/app/release.env",
        "",
    ])


class Compute(Module):
    """Instances of the application tier, one Auto Scaling group per colour.

    Public attributes: ``security_group`` (escape hatch), ``security_group_id``, ``role`` (escape hatch),
    ``role_name``, ``role_arn``, ``instance_profile_arn``, ``launch_templates`` and ``asgs`` (colour -> resource),
    ``asg_names`` and ``asg_arns`` (colour -> value).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: ComputeSettings,
                 target_group_arns: Mapping[str, str], releases: Mapping[str, ColourRelease]) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        require(set(target_group_arns) == set(s.colours) == set(releases),
                "`target_group_arns` and `releases` must name every colour")
        require(s.load_balancer_security_group_id is not None, "`load_balancer_security_group_id` is required")
        prefix, extra = ctx.name_prefix, s.extra_tags

        self.security_group = SecurityGroup(
            self, "sg", name=f"{prefix}-app", vpc_id=s.vpc_id,
            description=f"{prefix} app instances: from the load balancer only; HTTPS out",
            tags=tags(ctx, f"{prefix}-app", extra))
        self.security_group_id: str = self.security_group.id
        SecurityGroupRule(
            self, "sg-in-lb", type="ingress", security_group_id=self.security_group.id, protocol="tcp",
            from_port=s.app_port, to_port=s.app_port, source_security_group_id=s.load_balancer_security_group_id,
            description="app traffic and health checks from the load balancer")
        # Egress: HTTPS (AWS APIs, SSM, CloudWatch, package repositories via NAT / gateway endpoints) and DNS in the VPC.
        VpcSecurityGroupEgressRule(
            self, "sg-out-https", security_group_id=self.security_group.id, ip_protocol="tcp", from_port=443,
            to_port=443, cidr_ipv4="0.0.0.0/0", description="HTTPS to AWS APIs and package repositories",
            tags=tags(ctx, f"{prefix}-app-out-https", extra))

        self.role = IamRole(
            self, "role", name=f"{prefix}-app-instance",
            assume_role_policy=policy_json({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                            "Action": "sts:AssumeRole"}),
            tags=tags(ctx, f"{prefix}-app-instance", extra))
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

        default_tags = DataAwsDefaultTags(self, "default-tags")
        self.launch_templates: dict[str, LaunchTemplate] = {}
        self.asgs: dict[str, AutoscalingGroup] = {}
        for colour in s.colours:
            release = releases[colour]
            name = f"{prefix}-app-{colour}"
            fixed = tags(ctx, name, {**extra, "Colour": colour})
            hcl_map = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in fixed.items())
            instance_tags = Token.as_string_map(
                f"${{merge({default_tags.fqn}.tags, {{{hcl_map}, \"AppVersion\" = {release.version}}})}}")
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
                user_data=base64.b64encode(user_data(s.app_port).encode()).decode(),
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

    def grant_policy(self, id_: str, policy_arn: str) -> None:
        """Attach one more (customer-managed, least-privilege) policy to the instance role, e.g. read access to
        the application's bucket or secret granted by another module."""
        IamRolePolicyAttachment(self, f"role-grant-{id_}", role=self.role.name, policy_arn=policy_arn)
