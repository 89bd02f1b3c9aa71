"""The integration layer deployed to the local emulator (the shared deployment of dev), verified with boto3.

Not on the emulator (left out by EMULATOR_UNSUPPORTED, covered by tests/test_integration.py, validate and plan): the
VPC Lattice service network, services, listeners, target groups and their attachment, and so the Lattice auth
policies and access log subscriptions that only serve them.
"""
from __future__ import annotations


import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy


def _api(deployed_dev, settings) -> tuple[object, dict]:
    client = deployed_dev.client("apigateway")
    name = f"{settings['dev'].name_prefix}-api"
    (api,) = [a for a in client.get_rest_apis(limit=500)["items"] if a["name"] == name]
    return client, api


def test_rest_api_routes_methods_and_proxy(deployed_dev, settings) -> None:
    client, api = _api(deployed_dev, settings)
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    resources = {r["path"]: r for r in client.get_resources(restApiId=api["id"], limit=500)["items"]}
    assert set(resources) == {"/", "/{proxy+}", "/orders"}
    (lb,) = deployed_dev.client("elbv2").describe_load_balancers(
        Names=[f"{settings['dev'].name_prefix}-alb"])["LoadBalancers"]
    # HTTPS to the load balancer by a name its certificate covers: origin.<zone>, a Route 53 alias of the ALB
    # (PLAT_AWS_015; no certificate covers *.elb.amazonaws.com)
    dev = settings["dev"]
    zone_name = dev.data.dr.domain_name or f"{dev.name}.{dev.tags.project}.example.com"  # modules/data/tier.py
    origin = f"origin.{zone_name}"
    r53 = deployed_dev.client("route53")
    (zone,) = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{zone_name}."]
    (alias,) = [r for r in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
                if r["Name"] == f"{origin}." and r["Type"] == "A"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".").lower() == lb["DNSName"].lower()
    for path, method, uri in (("/{proxy+}", "ANY", f"https://{origin}/{{proxy}}"),
                              ("/orders", "POST", f"https://{origin}/orders")):
        got = client.get_method(restApiId=api["id"], resourceId=resources[path]["id"], httpMethod=method)
        assert got["authorizationType"] == "AWS_IAM" and got["apiKeyRequired"] is True
        integration = client.get_integration(restApiId=api["id"], resourceId=resources[path]["id"],
                                             httpMethod=method)
        assert integration["type"] == "HTTP_PROXY" and integration["uri"] == uri


def test_stage_tracing_logs_throttles_and_waf(deployed_dev, settings) -> None:
    s = settings["dev"].integration
    client, api = _api(deployed_dev, settings)
    stage = client.get_stage(restApiId=api["id"], stageName=s.api_stage_name)
    assert stage["tracingEnabled"] is True
    group = f"/aws/apigateway/{settings['dev'].name_prefix}-api/{s.api_stage_name}/access"
    assert stage["accessLogSettings"]["destinationArn"].endswith(f":log-group:{group}")
    methods = stage["methodSettings"]
    assert methods["*/*"]["throttlingRateLimit"] == s.api_rate_limit
    assert methods["*/*"]["throttlingBurstLimit"] == s.api_burst_limit
    assert methods["*/*"]["metricsEnabled"] is True and methods["*/*"]["loggingLevel"] == "ERROR"
    limit = s.api_method_limits[0]
    assert methods[limit.method_path]["throttlingRateLimit"] == limit.rate_limit
    assert methods[limit.method_path]["throttlingBurstLimit"] == limit.burst_limit
    logs = deployed_dev.client("logs")
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described.get("kmsKeyId") and described["retentionInDays"] == settings["dev"].log_retention_days
    region = settings["dev"].region
    stage_arn = f"arn:aws:apigateway:{region}::/restapis/{api['id']}/stages/{s.api_stage_name}"
    acl = deployed_dev.client("wafv2").get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]
    assert acl["Name"].startswith(settings["dev"].name_prefix)


def test_partner_usage_plan_and_generated_key(deployed_dev, settings) -> None:
    partner = settings["dev"].integration.api_partners[0]
    client, api = _api(deployed_dev, settings)
    name = f"{settings['dev'].name_prefix}-api-{partner.name}"
    (plan,) = [p for p in client.get_usage_plans()["items"] if p["name"] == name]
    assert plan["throttle"] == {"burstLimit": partner.burst_limit, "rateLimit": partner.rate_limit}
    assert plan["quota"]["limit"] == partner.quota_limit and plan["quota"]["period"] == partner.quota_period
    assert [(x["apiId"], x["stage"]) for x in plan["apiStages"]] == [(api["id"], "v1")]
    (key_ref,) = client.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    key = client.get_api_key(apiKey=key_ref["id"], includeValue=True)
    assert key["name"] == name and key["enabled"] is True and len(key["value"]) >= 20
    # AWS (here the emulator) generated the value: it is neither in the synthesized configuration nor in the gated
    # plan the deploy applied. (Plans made after the apply carry it from the state, marked sensitive.)
    for name in ("cdk.tf.json", "tfplan.json", "review.md"):
        assert key["value"] not in (deployed_dev.artifacts / name).read_text(), name


def test_api_alarms_exist_with_alerting_actions(deployed_dev, settings) -> None:
    prefix = settings["dev"].name_prefix
    alarms = {a["MetricName"]: a for a in deployed_dev.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"{prefix}-api-v1-")["MetricAlarms"]}
    assert set(alarms) == {"5XXError", "4XXError", "Latency"}
    assert alarms["5XXError"]["AlarmActions"][0].endswith(f":{prefix}-alerts-critical")
    assert alarms["4XXError"]["AlarmActions"][0].endswith(f":{prefix}-alerts-warning")
    assert alarms["Latency"]["ExtendedStatistic"] == "p99"


def test_cloud_map_namespace_resolves_app_to_the_alb(deployed_dev, settings) -> None:
    prefix = settings["dev"].name_prefix
    sd = deployed_dev.client("servicediscovery")
    (namespace,) = [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "dev.webplatform.internal"]
    assert namespace["Type"] == "DNS_PRIVATE"
    (service,) = [x for x in sd.list_services()["Services"] if x["Name"] == "app"]
    (instance,) = sd.list_instances(ServiceId=service["Id"])["Instances"]
    (lb,) = deployed_dev.client("elbv2").describe_load_balancers(Names=[f"{prefix}-alb"])["LoadBalancers"]
    assert instance["Id"] == "app-alb" and instance["Attributes"]["AWS_ALIAS_DNS_NAME"] == lb["DNSName"]


def test_interface_endpoints_in_private_subnets_with_private_dns(deployed_dev, settings) -> None:
    prefix, region = settings["dev"].name_prefix, settings["dev"].region
    ec2 = deployed_dev.client("ec2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{prefix}-vpc"]}])["Vpcs"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                    {"Name": "vpc-endpoint-type", "Values": ["Interface"]}])
    by_service = {e["ServiceName"]: e for e in endpoints["VpcEndpoints"]}
    assert set(by_service) == {f"com.amazonaws.{region}.{s}" for s in settings["dev"].integration.endpoint_services}
    (sg,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{prefix}-endpoints"]}])[
        "SecurityGroups"]
    assert [(p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in sg["IpPermissions"]] == \
        [(443, 443, [vpc["CidrBlock"]])]
    private = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]}
    for endpoint in by_service.values():
        assert endpoint["PrivateDnsEnabled"] is True and set(endpoint["SubnetIds"]) == private
        assert [g["GroupId"] for g in endpoint["Groups"]] == [sg["GroupId"]]


def test_integration_secret_encrypted_without_value_and_error_alarm(deployed_dev, settings) -> None:
    prefix = settings["dev"].name_prefix
    integration = settings["dev"].integration.integrations[0]
    secrets = deployed_dev.client("secretsmanager")
    secret = secrets.describe_secret(SecretId=f"{prefix}/integrations/{integration.name}")
    key = deployed_dev.client("kms").describe_key(KeyId=f"alias/{prefix}-secrets")["KeyMetadata"]
    assert secret["KmsKeyId"] in (key["Arn"], key["KeyId"])
    assert "RotationEnabled" not in secret or secret["RotationEnabled"] is False
    versions = secrets.list_secret_version_ids(SecretId=secret["ARN"])["Versions"]
    assert versions == []  # the value is put out of band, never by Terraform
    group = f"/platform/{prefix}/integrations"
    (metric_filter,) = deployed_dev.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
    transformation = metric_filter["metricTransformations"][0]
    (alarm,) = deployed_dev.client("cloudwatch").describe_alarms(
        AlarmNames=[f"{prefix}-integration-{integration.name}-errors"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (transformation["metricNamespace"],
                                                          transformation["metricName"])
    assert alarm["Threshold"] == integration.error_threshold
