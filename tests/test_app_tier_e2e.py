"""The application tier deployed to the local emulator (the shared deployment of dev), verified with boto3."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy


def _prefix(deployed_dev, settings) -> str:
    return settings["dev"].name_prefix


def test_alb_listeners_and_target_groups(deployed_dev, settings) -> None:
    prefix, app = _prefix(deployed_dev, settings), settings["dev"].app
    elbv2 = deployed_dev.client("elbv2")
    (lb,) = elbv2.describe_load_balancers(Names=[f"{prefix}-alb"])["LoadBalancers"]
    # moto leaves Scheme out when the request omits it, as the provider does for internal = false; AWS then
    # defaults to internet-facing (the synthesized JSON's internal = false is asserted in test_app_tier.py).
    assert lb.get("Scheme", "internet-facing") == "internet-facing" and lb["Type"] == "application"
    attrs = {a["Key"]: a["Value"] for a in
             elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true" and attrs["access_logs.s3.bucket"].startswith(f"{prefix}-alb-logs-")
    listeners = {l["Port"]: l for l in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == app.ssl_policy
    weights = {g["TargetGroupArn"]: g["Weight"] for g in https["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}
    groups = {g["TargetGroupName"]: g for g in elbv2.describe_target_groups(
        Names=[f"{prefix}-blue", f"{prefix}-green"])["TargetGroups"]}
    assert set(weights) == {g["TargetGroupArn"] for g in groups.values()}
    for tg in groups.values():
        assert tg["HealthCheckPath"] == app.health_check_path and tg["Port"] == app.app_port
        assert tg["HealthCheckIntervalSeconds"] == app.health_check_interval_seconds
        assert tg["HealthyThresholdCount"] == app.healthy_threshold


def test_autoscaling_groups_launch_into_the_target_groups(deployed_dev, settings) -> None:
    prefix = _prefix(deployed_dev, settings)
    asg = deployed_dev.client("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{prefix}-app-blue", f"{prefix}-app-green"])
    assert len(groups["AutoScalingGroups"]) == 2
    elbv2, ec2 = deployed_dev.client("elbv2"), deployed_dev.client("ec2")
    for g in groups["AutoScalingGroups"]:
        assert g["HealthCheckType"] == "ELB" and g["MinSize"] == settings["dev"].sizes.min_capacity
        assert g["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == \
            settings["dev"].app.on_demand_percentage_above_base
        assert g["Instances"], f"{g['AutoScalingGroupName']} launched no instance"
        (tg_arn,) = g["TargetGroupARNs"]
        health = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        assert {h["Target"]["Id"] for h in health} == {i["InstanceId"] for i in g["Instances"]}
    templates = ec2.describe_launch_template_versions(LaunchTemplateName=f"{prefix}-app-blue",
                                                      Versions=["$Latest"])["LaunchTemplateVersions"]
    data = templates[0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_scaling_policies_and_alarms(deployed_dev, settings) -> None:
    prefix = _prefix(deployed_dev, settings)
    policies = deployed_dev.client("autoscaling").describe_policies(
        AutoScalingGroupName=f"{prefix}-app-blue")["ScalingPolicies"]
    assert sorted(p["PolicyType"] for p in policies) == ["StepScaling", "TargetTrackingScaling",
                                                         "TargetTrackingScaling"]
    alarms = deployed_dev.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-app-")["MetricAlarms"]
    names = {a["AlarmName"] for a in alarms}
    assert {f"{prefix}-app-blue-unhealthy-hosts", f"{prefix}-app-target-5xx-rate", f"{prefix}-app-blue-cpu-burst"} <= names
    burst = next(a for a in alarms if a["AlarmName"] == f"{prefix}-app-blue-cpu-burst")
    assert any("scalingPolicy" in action for action in burst["AlarmActions"])
