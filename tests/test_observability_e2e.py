"""Alerting and observability of dev as deployed to the local emulator by the real CLI (session fixture
``deployed_dev``), verified with boto3. The deploy itself asserts the re-plan after apply is empty.

Not on the emulator (left out by EMULATOR_UNSUPPORTED; unit + validate + plan cover them): composite alarms, X-Ray
sampling rules and groups, Logs Insights query definitions, Budgets, Cost Anomaly Detection, cost allocation tags.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]  # the first test pays for the shared deploy

PREFIX = "webplatform-dev"


def _topics(deployed_dev: Any) -> dict[str, str]:
    sns = deployed_dev.client("sns")
    arns = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
    return {arn.rsplit(":", 1)[1].removeprefix(f"{PREFIX}-alerts-"): arn for arn in arns
            if arn.rsplit(":", 1)[1].startswith(f"{PREFIX}-alerts-")}


def _alarms(deployed_dev: Any) -> dict[str, dict[str, Any]]:
    cw = deployed_dev.client("cloudwatch")
    return {a["AlarmName"]: a for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=PREFIX)
            for a in page["MetricAlarms"]}


def test_severity_topics_encrypted_with_the_alerts_key(deployed_dev: Any) -> None:
    topics = _topics(deployed_dev)
    assert set(topics) == {"critical", "warning", "info", "escalation"}
    kms = deployed_dev.client("kms")
    alerts_key = kms.describe_key(KeyId=f"alias/{PREFIX}-alerts")["KeyMetadata"]["Arn"]
    sns = deployed_dev.client("sns")
    for arn in topics.values():
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attrs["KmsMasterKeyId"] == alerts_key
        policy = json.loads(attrs["Policy"])
        assert {s["Sid"] for s in policy["Statement"]} == {"AccountOwner", "AwsServicesOfThisAccount", "TlsOnly"}


def test_subscriptions_from_the_settings(deployed_dev: Any) -> None:
    topics = _topics(deployed_dev)
    sns = deployed_dev.client("sns")
    subs = {(t, s["Protocol"], s["Endpoint"]) for t, arn in topics.items()
            for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
    assert subs == {("critical", "email", "oncall-dev@example.com"), ("warning", "email", "platform-team@example.com")}


def test_log_groups_and_metric_filters(deployed_dev: Any) -> None:
    logs = deployed_dev.client("logs")
    kms = deployed_dev.client("kms")
    logs_key = kms.describe_key(KeyId=f"alias/{PREFIX}-logs")["KeyMetadata"]["Arn"]
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix=f"/app/{PREFIX}/")["logGroups"]}
    assert set(groups) == {f"/app/{PREFIX}/application", f"/app/{PREFIX}/access"}
    for group in groups.values():
        assert group["kmsKeyId"] == logs_key and group["retentionInDays"] == 30
    filters = {f["filterName"]: f for name in groups for f in logs.describe_metric_filters(logGroupName=name)["metricFilters"]}
    ours = {n: f for n, f in filters.items()
            if n in {f"{PREFIX}-{k}" for k in ("requests", "server-errors", "latency", "app-errors")}}
    assert {f["metricTransformations"][0]["metricName"] for f in ours.values()} == {
        "Requests", "ServerErrors", "Latency", "ApplicationErrors"}
    assert filters[f"{PREFIX}-server-errors"]["filterPattern"] == "{ $.status >= 500 }"
    assert all(f["metricTransformations"][0]["metricNamespace"] == f"Platform/{PREFIX}" for f in ours.values())


def test_dashboard(deployed_dev: Any) -> None:
    cw = deployed_dev.client("cloudwatch")
    body = json.loads(cw.get_dashboard(DashboardName=f"{PREFIX}-overview")["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles[:2] == ["Service requests and server errors", "Service latency (ms)"]


def test_slo_anomaly_trace_alarms_and_escalation(deployed_dev: Any) -> None:
    topics = _topics(deployed_dev)
    alarms = _alarms(deployed_dev)
    for name in ("slo-fast-burn-1h", "slo-fast-burn-5m", "slo-slow-burn-6h", "slo-slow-burn-30m", "slo-latency-p99",
                 "anomaly-requests", "anomaly-latency", "traces-faults", "traces-slow"):
        assert f"{PREFIX}-{name}" in alarms, name
    fast = alarms[f"{PREFIX}-slo-fast-burn-5m"]
    assert fast["Threshold"] == 0.144 and fast["AlarmActions"] == [topics["critical"]]
    ratio = {m["Id"]: m for m in fast["Metrics"]}["ratio"]
    assert ratio["Expression"] == "IF(requests > 0, errors / requests, 0)"
    escalation = alarms[f"{PREFIX}-slo-fast-burn-5m-escalation"]
    assert escalation["AlarmActions"] == [topics["escalation"]]
    assert escalation["EvaluationPeriods"] == escalation["DatapointsToAlarm"] == 7
    latency = alarms[f"{PREFIX}-slo-latency-p99"]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 1000)
    assert alarms[f"{PREFIX}-slo-latency-p99-escalation"]["AlarmActions"] == [topics["escalation"]]
    anomaly = alarms[f"{PREFIX}-anomaly-requests"]
    assert anomaly["ThresholdMetricId"] == "band"
    assert anomaly["AlarmActions"] == [topics["warning"]]


def test_release_validation_reads_the_deployed_5xx_alarm(deployed_dev: Any, settings: dict) -> None:
    """The release's validation step (pipeline/release.py) finds the app tier's 5xx-rate alarm by the name it derives
    (``names(prefix)["error_alarm"]``), so the alarm the stack deployed stops a release when it is in ALARM and lets it
    go on when it is not. A name that drifted from modules/app/tier.py would read no alarm and never stop one."""
    from pipeline.release import AppTierApi, Release, ReleasePlan, names

    dev = settings["dev"]
    alarm = names(PREFIX)["error_alarm"]
    assert alarm in _alarms(deployed_dev), "the stack has no alarm by the name the release reads"
    api = AppTierApi(dev.region, deployed_dev.endpoint, PREFIX)
    live = max(dev.app.initial_weights, key=lambda c: dev.app.initial_weights[c])
    release = Release(api, ReleasePlan(env="dev", version="probe", steps=(100,), bake_seconds=0,
                                       health_timeout_seconds=0), dict(dev.app.initial_weights),
                      dev.app.image_ssm_parameter, deploy=lambda: 0, say=lambda _: None,
                      endpoint=deployed_dev.endpoint, region=dev.region)
    cw = deployed_dev.client("cloudwatch")
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e: the release must see it")
    try:
        assert api.error_alarm_state() == "ALARM"
        in_alarm = release._validate(live, 100)
    finally:
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="e2e: back to OK")
    assert in_alarm == "the target 5xx-rate alarm is in ALARM"
    assert release._validate(live, 100) is None  # healthy targets, alarm OK: the step passes
