"""Cost estimate (compliance/cost.py) on a REAL plan: a small configuration applied to the session's emulator with
terraform and the provider mirror, changed, planned again, ``terraform show -json``. And ``cost report`` against
Cost Explorer results fed to the emulator.

Hand-checked figures (compliance/prices.toml, 730 h/month):
  prior state (stage A, applied): KMS key 1.00 + alarm 0.10 + dashboard 3.00 + EIP 0.005 x 730 = 3.65  ->  7.75
  after the plan (stage B): KMS key 1.00 + alarm 0.10 + EIP 3.65 (unchanged); dashboard deleted;
    db.t4g.micro 0.016 x 730 = 11.68 + 20 GB gp3 x 0.115 = 2.30                                   -> 13.98
    t3.micro 0.0104 x 730                                                                          ->  7.592
    anomaly-detection alarm, 3 metrics x 0.10                                                      ->  0.30
    cache.t4g.micro 0.016 x 730                                                                    -> 11.68
    application load balancer 0.0225 x 730                                                         -> 16.425
  total after = 1 + 0.10 + 3.65 + 13.98 + 7.592 + 0.30 + 11.68 + 16.425 = 54.727 -> 54.73
  delta = 54.727 - 7.75 = 46.977 -> +46.98
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compliance.cost import CostEstimate, estimate, load_prices, render_markdown
from tests.conftest import cli, require_tools

PROVIDER = """
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = "5.100.0" }}
  }}
}}
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1
  endpoints {{
    cloudwatch  = "{endpoint}"
    ec2         = "{endpoint}"
    elasticache = "{endpoint}"
    elbv2       = "{endpoint}"
    kms         = "{endpoint}"
    rds         = "{endpoint}"
    sts         = "{endpoint}"
  }}
}}
"""

STAGE_A = """
resource "aws_kms_key" "key" {
  description         = "cost estimate test"
  enable_key_rotation = true
}
resource "aws_eip" "ip" {
  domain = "vpc"
}
resource "aws_cloudwatch_metric_alarm" "cpu" {
  alarm_name          = "cost-test-cpu"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  metric_name         = "CPUUtilization"
  namespace           = "AWS/EC2"
  period              = 300
  statistic           = "Average"
  threshold           = 80
}
"""

DASHBOARD = """
resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "cost-test"
  dashboard_body = jsonencode({ widgets = [{ type = "text", x = 0, y = 0, width = 6, height = 2,
                                             properties = { markdown = "cost test" } }] })
}
"""

STAGE_B_EXTRA = """
resource "aws_db_instance" "db" {
  identifier                  = "cost-test"
  engine                      = "postgres"
  instance_class              = "db.t4g.micro"
  allocated_storage           = 20
  storage_type                = "gp3"
  username                    = "app"
  manage_master_user_password = true
  skip_final_snapshot         = true
}
resource "aws_instance" "app" {
  ami           = "ami-12345678"
  instance_type = "t3.micro"
}
resource "aws_cloudwatch_metric_alarm" "requests_anomaly" {
  alarm_name          = "cost-test-anomaly"
  comparison_operator = "GreaterThanUpperThreshold"
  evaluation_periods  = 2
  threshold_metric_id = "band"
  metric_query {
    id          = "m1"
    return_data = true
    metric {
      metric_name = "RequestCount"
      namespace   = "AWS/ApplicationELB"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "band"
    expression  = "ANOMALY_DETECTION_BAND(m1, 2)"
    return_data = true
  }
}
resource "aws_elasticache_cluster" "cache" {
  cluster_id      = "cost-test"
  engine          = "redis"
  node_type       = "cache.t4g.micro"
  num_cache_nodes = 1
}
resource "aws_lb" "alb" {
  name               = "cost-test"
  load_balancer_type = "application"
  subnets            = ["subnet-aaaa1111", "subnet-bbbb2222"]
}
"""


def _tf(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"terraform {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def real_plan(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stage A applied to the emulator, then the plan of stage B as ``terraform show -json`` output."""
    require_tools()
    from pipeline.tfconfig import write_cli_config

    work = tmp_path_factory.mktemp("cost-plan")
    rc = write_cli_config(work / ".build")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    main = work / "main.tf"
    main.write_text(PROVIDER.format(endpoint=emulator.endpoint) + STAGE_A + DASHBOARD)
    _tf(["init", "-input=false", "-no-color"], work, env)
    _tf(["apply", "-auto-approve", "-input=false", "-no-color"], work, env)
    main.write_text(PROVIDER.format(endpoint=emulator.endpoint) + STAGE_A + STAGE_B_EXTRA)
    _tf(["plan", "-input=false", "-no-color", "-out=tfplan"], work, env)
    shown = _tf(["show", "-json", "tfplan"], work, env)
    (work / "tfplan.json").write_text(shown.stdout)
    return json.loads(shown.stdout)


@pytest.fixture(scope="module")
def result(real_plan: dict[str, Any]) -> CostEstimate:
    return estimate(real_plan)


@pytest.mark.e2e
def test_total_and_delta_match_hand_computed_figures(result: CostEstimate) -> None:
    assert result.prior_monthly_usd == pytest.approx(7.75)
    assert result.total_monthly_usd == pytest.approx(54.73)
    assert result.delta_monthly_usd == pytest.approx(46.98)


@pytest.mark.e2e
def test_per_resource_lines(result: CostEstimate) -> None:
    lines = {line.address: line for line in result.lines}
    assert lines["aws_db_instance.db"].after_usd == pytest.approx(13.98)
    assert lines["aws_instance.app"].after_usd == pytest.approx(7.592)
    assert lines["aws_elasticache_cluster.cache"].after_usd == pytest.approx(11.68)
    assert lines["aws_lb.alb"].after_usd == pytest.approx(16.425)
    assert lines["aws_cloudwatch_metric_alarm.requests_anomaly"].after_usd == pytest.approx(0.30)
    dash = lines["aws_cloudwatch_dashboard.main"]
    assert (dash.before_usd, dash.after_usd, dash.actions) == (3.0, 0.0, ("delete",))
    eip = lines["aws_eip.ip"]
    assert eip.before_usd == eip.after_usd == pytest.approx(3.65) and eip.actions == ("no-op",)
    assert result.unpriced == () and result.unknown == ()


@pytest.mark.e2e
def test_markdown_for_the_review(result: CostEstimate) -> None:
    text = render_markdown(result)
    assert "**54.73 USD/month** after this plan (+46.98 vs 7.75 before)." in text
    assert "| `aws_lb.alb` | 0.00 | 16.43 | +16.43 | application load balancer hours (LCUs not included) |" in text
    assert "| `aws_cloudwatch_dashboard.main` | 3.00 | 0.00 | -3.00 | dashboard |" in text
    assert "as of 2025" in text and "us-east-1" in text
    # unchanged lines are not listed
    assert "aws_eip.ip" not in text


def test_unknown_sizes_and_unpriced_types_are_reported_not_zeroed_silently() -> None:
    plan = {"resource_changes": [
        {"address": "aws_instance.big", "mode": "managed", "type": "aws_instance",
         "change": {"actions": ["create"], "before": None, "after": {"instance_type": "x9.mega"}, "after_unknown": {}}},
        {"address": "aws_db_instance.later", "mode": "managed", "type": "aws_db_instance",
         "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {"instance_class": True}}},
        {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket",
         "change": {"actions": ["create"], "before": None, "after": {"bucket": "x"}, "after_unknown": {}}},
    ]}
    result = estimate(plan)
    assert result.total_monthly_usd == 0
    assert result.unpriced == ("aws_instance.big (ec2_hourly.x9.mega)",)
    assert result.unknown == ("aws_db_instance.later",)
    assert result.usage_only == ("aws_s3_bucket.logs",)
    text = render_markdown(result)
    assert "Not in the price table (counted as 0): aws_instance.big" in text


def test_asg_with_spot_mix_uses_the_launch_template_and_spot_factor() -> None:
    prices = load_prices()
    plan = {
        "resource_changes": [
            {"address": "aws_launch_template.lt", "mode": "managed", "type": "aws_launch_template",
             "change": {"actions": ["create"], "before": None, "after": {"instance_type": "t3.micro"}}},
            {"address": "aws_autoscaling_group.asg", "mode": "managed", "type": "aws_autoscaling_group",
             "change": {"actions": ["create"], "before": None, "after_unknown": {}, "after": {
                 "desired_capacity": 4, "min_size": 1,
                 "mixed_instances_policy": [{"instances_distribution": [{
                     "on_demand_base_capacity": 1, "on_demand_percentage_above_base_capacity": 0}],
                     "launch_template": [{"override": []}]}]}}},
        ],
        "configuration": {"root_module": {"resources": [{"address": "aws_autoscaling_group.asg", "expressions": {
            "mixed_instances_policy": [{"launch_template": [{"launch_template_specification": [{
                "launch_template_id": {"references": ["aws_launch_template.lt.id", "aws_launch_template.lt"]}}]}]}]}}]}},
    }
    result = estimate(plan, prices)
    # 1 on-demand + 3 spot at 0.35: (1 + 3 x 0.35) x 0.0104 x 730 = 15.5636
    assert result.total_monthly_usd == pytest.approx(15.56)
    assert "1 on-demand, 3 spot" in result.lines[0].detail


def test_compliance_cost_imports_no_project_layer() -> None:
    source = (Path(__file__).resolve().parents[1] / "compliance" / "cost.py").read_text()
    for forbidden in ("import cdktf", "from cdktf", "from modules", "import modules", "from envs", "import envs",
                      "from pipeline", "import pipeline"):
        assert forbidden not in source


# -- cost report against Cost Explorer results fed to the emulator ------------------------------------------------

@pytest.mark.e2e
def test_cost_report_from_emulator(emulator: Any, workspace: Path) -> None:
    import urllib.request
    from datetime import datetime, timezone

    from pipeline.cost_report import month_starts

    today = datetime.now(timezone.utc).date()
    months = month_starts(today, 2)
    results = [{"ResultsByTime": [
        {"TimePeriod": {"Start": months[0].isoformat(), "End": months[1].isoformat()}, "Estimated": False,
         "Total": {}, "Groups": [
             {"Keys": ["Amazon Elastic Compute Cloud - Compute"], "Metrics": {"UnblendedCost": {"Amount": "120.50", "Unit": "USD"}}},
             {"Keys": ["Amazon Relational Database Service"], "Metrics": {"UnblendedCost": {"Amount": "80.25", "Unit": "USD"}}}]},
        {"TimePeriod": {"Start": months[1].isoformat(), "End": today.isoformat()}, "Estimated": True,
         "Total": {}, "Groups": [
             {"Keys": ["Amazon Elastic Compute Cloud - Compute"], "Metrics": {"UnblendedCost": {"Amount": "300.00", "Unit": "USD"}}},
             {"Keys": ["Amazon Relational Database Service"], "Metrics": {"UnblendedCost": {"Amount": "50.00", "Unit": "USD"}}}]},
    ]}]
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": results}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    proc = cli("cost", "report", "--env", "dev", "--months", "2", cwd=workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Monthly budget: 300.00 USD" in out
    assert f"| {months[0].isoformat()[:7]} | 200.75 | 66.9 % | n/a | n/a |" in out
    assert f"| {months[1].isoformat()[:7]} (estimated) | 350.00 | 116.7 % |" in out
    assert f"budget: {months[1].isoformat()[:7]} cost 350.00 USD exceeds the budget of 300.00 USD" in out
    assert "largest services this month: Amazon Elastic Compute Cloud - Compute 300.00 USD" in out
    # the emulator has no recommendation APIs: listed as unavailable, the report still succeeds
    assert "rightsizing (GetRightsizingRecommendation):" in out
