"""The network module and the stack skeleton, on the synthesized JSON of every environment (aws target)."""
from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from modules.core.base import ModuleSettingsError
from modules.network.vpc import NetworkSettings
from tests.conftest import primary_region, resources

REQUIRED_TAGS = {"Environment", "Project", "Owner", "CostCenter", "ManagedBy"}


@pytest.fixture(scope="session")
def synth_aws(synth_aws: dict[str, Any]) -> dict[str, Any]:
    """The primary region's resources (prod's pilot light in the DR region is tests/test_dr.py's)."""
    return {env: primary_region(doc) for env, doc in synth_aws.items()}


def by_tier(doc: dict[str, Any], tier: str) -> list[dict[str, Any]]:
    return [s for s in resources(doc, "aws_subnet").values() if s["tags"]["Tier"] == tier]


@pytest.mark.parametrize("env,azs,nats", [("dev", 2, 1), ("staging", 2, 2), ("prod", 3, 3)])
def test_subnets_nat_and_routes_per_environment(synth_aws: dict, settings: dict, env: str, azs: int,
                                                nats: int) -> None:
    doc = synth_aws[env]
    vpc = next(iter(resources(doc, "aws_vpc").values()))
    assert vpc["cidr_block"] == settings[env].network.vpc_cidr
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    cidrs = []
    for tier in ("public", "private", "database"):
        subnets = by_tier(doc, tier)
        assert sorted(s["availability_zone"] for s in subnets) == list(settings[env].availability_zones)
        assert all(s["map_public_ip_on_launch"] is False for s in subnets)
        cidrs += [ipaddress.IPv4Network(s["cidr_block"]) for s in subnets]
    assert len(cidrs) == 3 * azs
    assert all(a == b or not a.overlaps(b) for a in cidrs for b in cidrs)
    assert all(c.subnet_of(ipaddress.IPv4Network(settings[env].network.vpc_cidr)) for c in cidrs)
    assert len(resources(doc, "aws_nat_gateway")) == nats
    assert len(resources(doc, "aws_eip")) == nats
    # private route tables: one per NAT gateway, each with a default route to its own NAT gateway
    routes = resources(doc, "aws_route")
    nat_routes = [r for r in routes.values() if "nat_gateway_id" in r]
    assert len(nat_routes) == nats
    assert len({r["nat_gateway_id"] for r in nat_routes}) == nats
    igw_routes = [r for r in routes.values() if "gateway_id" in r]
    assert len(igw_routes) == 1 and igw_routes[0]["destination_cidr_block"] == "0.0.0.0/0"
    assert len(resources(doc, "aws_route_table_association")) == 3 * azs


def test_database_tier_has_no_route_out(synth_aws: dict) -> None:
    doc = synth_aws["prod"]
    tables = {name: rt for name, rt in resources(doc, "aws_route_table").items() if "database" in name}
    assert len(tables) == 1
    (db_table_name,) = tables
    assert not [r for r in resources(doc, "aws_route").values() if db_table_name in r["route_table_id"]]


def test_default_security_group_denies_everything(synth_aws: dict) -> None:
    for doc in synth_aws.values():
        (sg,) = resources(doc, "aws_default_security_group").values()
        assert sg["ingress"] == [] and sg["egress"] == []


def test_nacls_per_tier_never_open_admin_ports_to_the_internet(synth_aws: dict) -> None:
    doc = synth_aws["prod"]
    assert len(resources(doc, "aws_network_acl")) == 3
    for rule in resources(doc, "aws_network_acl_rule").values():
        if rule["egress"] or rule["cidr_block"] != "0.0.0.0/0":
            continue
        assert rule["protocol"] == "tcp", rule
        for port in (22, 3389):  # ephemeral return ranges are split around RDP
            assert not rule["from_port"] <= port <= rule["to_port"], rule
    database_in = [r for n, r in resources(doc, "aws_network_acl_rule").items()
                   if "database-nacl-in" in n]
    assert {r["from_port"] for r in database_in} == {5432, 6379}
    assert all(ipaddress.IPv4Network(r["cidr_block"]).subnet_of(ipaddress.IPv4Network("10.30.0.0/16"))
               for r in database_in)


def test_flow_logs_to_encrypted_log_group_with_retention(synth_aws: dict, settings: dict) -> None:
    for env, doc in synth_aws.items():
        (flow,) = resources(doc, "aws_flow_log").values()
        assert flow["traffic_type"] == "ALL" and flow["log_destination_type"] == "cloud-watch-logs"
        group = next(g for g in resources(doc, "aws_cloudwatch_log_group").values() if "flow-logs" in g["name"])
        assert group["retention_in_days"] == settings[env].log_retention_days
        assert group["kms_key_id"].startswith("${aws_kms_key.") and group["kms_key_id"].endswith(".arn}")
        role = next(r for r in resources(doc, "aws_iam_role").values() if r["name"].endswith("vpc-flow-logs"))
        trust = json.loads(role["assume_role_policy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
        (policy,) = [p for p in resources(doc, "aws_iam_role_policy").values() if p["name"] == "deliver-flow-logs"]
        statement = json.loads(policy["policy"])["Statement"][0]
        assert "*" not in statement["Resource"] and "*" not in statement["Action"]


def test_gateway_endpoints_and_db_subnet_group(synth_aws: dict) -> None:
    doc = synth_aws["staging"]
    endpoints = {n: e for n, e in resources(doc, "aws_vpc_endpoint").items() if e["vpc_endpoint_type"] == "Gateway"}
    assert sorted(e["service_name"] for e in endpoints.values()) == ["com.amazonaws.us-east-1.dynamodb",
                                                                     "com.amazonaws.us-east-1.s3"]
    assert all(e["vpc_endpoint_type"] == "Gateway" and len(e["route_table_ids"]) == 3 for e in endpoints.values())
    (group,) = resources(doc, "aws_db_subnet_group").values()
    assert group["name"] == "webplatform-staging-database" and len(group["subnet_ids"]) == 2


def test_kms_keys_rotate_and_name_their_services(synth_aws: dict) -> None:
    for doc in synth_aws.values():
        keys = resources(doc, "aws_kms_key")
        assert keys and all(k["enable_key_rotation"] is True for k in keys.values())
        logs = next(k for k in keys.values() if k["description"].endswith("for logs"))
        services = [s for s in json.loads(logs["policy"])["Statement"] if s["Sid"] == "ServiceUse"]
        assert "logs.us-east-1.amazonaws.com" in services[0]["Principal"]["Service"]


def test_provider_default_tags_backend_and_account_guard(synth_aws: dict, settings: dict) -> None:
    for env, doc in synth_aws.items():
        providers = doc["provider"]["aws"]
        assert {p.get("alias") for p in providers} == {None, "dr", "us_east_1"}
        for provider in providers:
            assert set(provider["default_tags"][0]["tags"]) == REQUIRED_TAGS
            assert provider["default_tags"][0]["tags"]["Environment"] == env
            assert provider["allowed_account_ids"] == [settings[env].account_id]
            assert "endpoints" not in provider, "the aws target must never point at an emulator"
        assert doc["//"]["platform"]["environment"] == env and doc["//"]["platform"]["commit"]
        backend = doc["terraform"]["backend"]["s3"]
        assert backend["key"] == f"{env}/terraform.tfstate" and backend["encrypt"] is True
        assert backend["dynamodb_table"] == "webplatform-tflock" and backend["use_lockfile"] is True


def test_every_resource_gets_a_name_tag(synth_aws: dict) -> None:
    untagged = {"aws_route", "aws_route_table_association", "aws_network_acl_rule", "aws_iam_role_policy",
                "aws_kms_alias"}
    doc = synth_aws["dev"]
    for rtype in ("aws_vpc", "aws_subnet", "aws_nat_gateway", "aws_eip", "aws_route_table", "aws_network_acl",
                  "aws_flow_log", "aws_cloudwatch_log_group", "aws_vpc_endpoint", "aws_db_subnet_group"):
        assert rtype not in untagged
        assert all("Name" in r["tags"] for r in resources(doc, rtype).values()), rtype


def test_local_target_points_every_service_at_the_emulator(synth_local) -> None:
    doc = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    for provider in doc["provider"]["aws"]:
        endpoints = provider["endpoints"][0]
        assert set(endpoints.values()) == {endpoints["ec2"]} and endpoints["ec2"].startswith("http://127.0.0.1:")
        from modules.stack.platform import EMULATOR_SERVICES  # every service, under its schema name (lambda, not lambda_)
        assert set(endpoints) == {service.rstrip("_") for service in EMULATOR_SERVICES}
        assert provider["max_retries"] == 2 and provider["skip_credentials_validation"] is True
        assert "access_key" not in provider and "secret_key" not in provider
    backend = doc["terraform"]["backend"]["s3"]
    assert backend["endpoints"]["s3"] == endpoints["s3"] and backend["use_path_style"] is True


def test_conflicting_network_settings_are_rejected() -> None:
    with pytest.raises(ModuleSettingsError, match=r"`nat_gateways` must be 0, 1 or one per AZ \(3\), got 2"):
        NetworkSettings(vpc_cidr="10.0.0.0/16", availability_zones=("a", "b", "c"), nat_gateways=2,
                        flow_log_kms_key_arn="arn")
    with pytest.raises(ModuleSettingsError, match="`flow_log_kms_key_arn` is required"):
        NetworkSettings(vpc_cidr="10.0.0.0/16", availability_zones=("a",), nat_gateways=1)
    with pytest.raises(ModuleSettingsError, match="smaller than /28"):
        NetworkSettings(vpc_cidr="10.0.0.0/24", availability_zones=("a",), nat_gateways=1, subnet_newbits=6,
                        flow_log_kms_key_arn="arn")
