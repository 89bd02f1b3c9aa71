"""``sla report`` against real metric data put into the session's emulator (moto server) with boto3, through the CLI.

Hand-computed figures for three days of traffic:
  day 1: 1000 requests (600 + 400 datapoints), 2 server errors
  day 2: 2000 requests, 10 server errors
  day 3: 1000 requests, 0 server errors
  total: 4000 requests, 12 errors -> availability 1 - 12/4000 = 99.7 %
  dev  (SLO 99.0 %): budget 0.01 x 4000 = 40 failed requests; remaining 1 - 12/40 = 70 %  -> met
  prod (SLO 99.9 %): budget 0.001 x 4000 = 4 failed requests; remaining 1 - 12/4 = -200 % -> MISSED
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TRAFFIC = [  # (day offset from the first day, requests datapoints, server errors)
    (0, [600, 400], 2),
    (1, [2000], 10),
    (2, [1000], 0),
]


@pytest.fixture(scope="module")
def period(emulator: Any) -> tuple[str, dict[str, str]]:
    """Puts the traffic into the emulator for dev and prod; returns the last day and the namespaces."""
    from pipeline.aws import client

    cloudwatch = client("cloudwatch", "us-east-1", emulator.endpoint)
    first = (datetime.now(timezone.utc) - timedelta(days=12)).replace(hour=12, minute=0, second=0, microsecond=0)
    namespaces = {env: f"Platform/webplatform-{env}" for env in ("dev", "prod")}
    for namespace in namespaces.values():
        for offset, requests, errors in TRAFFIC:
            ts = first + timedelta(days=offset)
            data = [{"MetricName": "Requests", "Value": v, "Unit": "Count", "Timestamp": ts + timedelta(minutes=i)}
                    for i, v in enumerate(requests)]
            data.append({"MetricName": "ServerErrors", "Value": errors, "Unit": "Count", "Timestamp": ts})
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    last = (first + timedelta(days=2)).date().isoformat()
    return last, namespaces


def test_report_markdown_from_emulator_metrics(period: tuple[str, dict[str, str]], workspace: Path) -> None:
    last, _ = period
    proc = cli("sla", "report", "--env", "dev", "--end", last, "--days", "3", cwd=workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "## SLA report: dev" in out
    assert "| availability | 99 % | 99.700 % (met) |" in out
    assert "| error budget remaining | > 0 % | 70.00 % (12 of 40 allowed failed requests) |" in out
    assert "Requests: 4000; server errors: 12." in out
    rows = [line for line in out.splitlines() if line.startswith("| 20")]
    assert [r.split(" | ")[1:4] for r in rows] == [["1000", "2", "99.800 %"], ["2000", "10", "99.500 %"],
                                                    ["1000", "0", "100.000 %"]]


def test_report_json_prod_misses_slo(period: tuple[str, dict[str, str]], workspace: Path) -> None:
    last, _ = period
    proc = cli("sla", "report", "--env", "prod", "--end", last, "--days", "3", "--format", "json",
               cwd=workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["requests"] == 4000 and report["errors"] == 12
    assert report["availability_percent"] == pytest.approx(99.7)
    assert report["error_budget_requests"] == pytest.approx(4.0)
    assert report["error_budget_remaining_percent"] == pytest.approx(-200.0)
    assert report["slo_met"] is False
    assert [d["requests"] for d in report["days"]] == [1000, 2000, 1000]


def test_period_without_traffic(period: tuple[str, dict[str, str]], workspace: Path) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=40)).date().isoformat()
    proc = cli("sla", "report", "--env", "dev", "--end", old, "--days", "2", cwd=workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| availability | 99 % | n/a (no traffic) |" in proc.stdout


def test_bad_arguments_exit_2(workspace: Path) -> None:
    proc = cli("sla", "report", "--env", "dev", "--end", "yesterday", cwd=workspace, timeout=120)
    assert proc.returncode == 2
    assert "--end 'yesterday' is not a date; use YYYY-MM-DD" in proc.stderr
    proc = cli("sla", "report", cwd=workspace, timeout=60)
    assert proc.returncode == 2 and "--env" in proc.stderr
