"""The reference workload's log lines, fed to the project's own metric filters (read from the synthesized dev
stack), produce the metrics the SLO alarms read. CloudWatch Logs is not evaluated locally (the emulator stores
metric filters but never applies them), so the patterns run through tests/filter_pattern.py, an evaluator of the
documented syntax, itself checked on the documentation's examples below."""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import resources
from tests.filter_pattern import PatternError, matches, metric_value


@pytest.mark.parametrize("pattern, message, expected", [
    ('{ $.eventType = "UpdateTrail" }', '{"eventType": "UpdateTrail"}', True),
    ('{ $.eventType = "UpdateTrail" }', '{"eventType": "CreateTrail"}', False),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "10.0.0.1"}', True),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "123.123.4.5"}', False),
    ("{ $.status >= 500 }", '{"status": 503}', True),
    ("{ $.status >= 500 }", '{"status": 404}', False),
    ("{ $.status >= 500 }", '{"status": "503"}', False),          # numeric comparison: numbers only
    ("{ $.status = * }", '{"status": 200}', True),
    ("{ $.status = * }", '{"path": "/"}', False),
    ("{ $.status = * }", "status 200", False),                    # not JSON: a JSON pattern never matches
    ("{ $.latency_ms >= 0 }", '{"latency_ms": 0.25}', True),
    ('{ ($.a = 1 || $.b = "x") && $.c IS TRUE }', '{"b": "x", "c": true}', True),
    ('{ ($.a = 1 || $.b = "x") && $.c IS TRUE }', '{"a": 1, "c": false}', False),
    ("{ $.user.id NOT EXISTS }", '{"user": {}}', True),
    ("{ $.items[1] = 2 }", '{"items": [1, 2]}', True),
    ("?ERROR ?Error ?Exception ?FATAL", '{"level":"ERROR","message":"x"}', True),
    ("?ERROR ?Error ?Exception ?FATAL", '{"level":"INFO","message":"serving"}', False),
    ("?ERROR ?Error ?Exception ?FATAL", "error in lowercase", False),  # terms are case-sensitive
    ("ERROR -DEBUG", "ERROR something", True),
    ("ERROR -DEBUG", "ERROR DEBUG something", False),
    ('"out of memory"', "kernel: out of memory", True),
    ("", "anything", True),
])
def test_the_evaluator_on_documented_examples(pattern: str, message: str, expected: bool) -> None:
    assert matches(pattern, message) is expected


def test_the_evaluator_refuses_what_it_cannot_parse() -> None:
    with pytest.raises(PatternError):
        matches("{ $.a >>= 1 }", "{}")


def _run_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The service in process: 6 × /health (200), 2 × /missing (404), 2 × /ready failing (503: its database port
    refuses, after an IAM token was generated offline)."""
    from workload import service
    from workload.tests.conftest import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    cfg = service.Config(port=0, region="eu-west-1", version="m1", log_dir=str(tmp_path / "logs"),
                         database={"host": "127.0.0.1", "port": free_port(), "user": "app", "auth": "iam",
                                   "sslmode": "disable"},
                         xray={"daemon": f"127.0.0.1:{free_port()}"})
    svc = service.Service(cfg)
    stop = threading.Event()
    thread = threading.Thread(target=svc.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        for path in ["/health"] * 6 + ["/missing"] * 2 + ["/ready"] * 2:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{svc.port}{path}", timeout=10).read()
            except urllib.error.HTTPError:
                pass
    finally:
        stop.set()
        thread.join(10)
    return tmp_path / "logs"


def test_workload_logs_produce_the_metrics_the_slo_alarms_read(synth_aws: dict, settings: dict, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    doc, prefix = synth_aws["dev"], settings["dev"].name_prefix
    filters = list(resources(doc, "aws_cloudwatch_log_metric_filter").values())
    # the log group of each filter: "${aws_cloudwatch_log_group.<key>.name}" -> the group's name
    by_key = {key: g["name"] for key, g in resources(doc, "aws_cloudwatch_log_group").items()}

    def group_of(f: dict) -> str:
        ref = f["log_group_name"]
        return by_key[ref[2:-1].split(".")[1]] if ref.startswith("${") else ref

    logs = _run_requests(tmp_path, monkeypatch)
    lines = {f"/app/{prefix}/access": (logs / "access.log").read_text().splitlines(),
             f"/app/{prefix}/application": (logs / "application.log").read_text().splitlines()}
    # what the boot script ships where (modules/app/compute.py agent configuration) is these same two groups
    metrics: dict[str, list[float]] = {}
    namespaces = set()
    for f in filters:
        group = group_of(f)
        if group not in lines:
            continue
        t = f["metric_transformation"]
        namespaces.add(t["namespace"])
        values = metrics.setdefault(t["name"], [])
        for line in lines[group]:
            if matches(f["pattern"], line):
                value = metric_value(t["value"], line)
                assert value is not None, (f["pattern"], line)
                values.append(value)
            elif t.get("default_value") is not None:
                values.append(float(t["default_value"]))
    assert namespaces == {f"Platform/{prefix}"}
    assert sum(metrics["Requests"]) == 10
    assert sum(metrics["ServerErrors"]) == 2  # the two failed /ready (503)
    assert len(metrics["Latency"]) == 10 and all(v >= 0 for v in metrics["Latency"])
    assert sum(metrics["ApplicationErrors"]) == 2     # one ERROR line per failed readiness check, nothing else

    # The SLO burn-rate alarms read exactly these metrics: errors / requests over the window.
    slo = [a for a in resources(doc, "aws_cloudwatch_metric_alarm").values() if "-slo-" in a["alarm_name"]
           and "burn" in a["alarm_name"]]
    assert slo
    for alarm in slo:
        used = {(q["metric"]["namespace"], q["metric"]["metric_name"]) for q in alarm["metric_query"] if "metric" in q}
        assert used == {(f"Platform/{prefix}", "ServerErrors"), (f"Platform/{prefix}", "Requests")}
    # The saved Logs Insights queries read fields every access line has; the error query (a case-insensitive
    # regex on the message) matches exactly the ERROR lines of the application log.
    access = [json.loads(line) for line in lines[f"/app/{prefix}/access"]]
    for query in resources(doc, "aws_cloudwatch_query_definition").values():
        if any("access" in g for g in query["log_group_names"]):
            used = {f for f in ("path", "status", "latency_ms") if f in query["query_string"]}
            assert used and all(used <= set(line) for line in access), query["name"]
        elif "like /" in query["query_string"]:
            regex = re.search(r"like /(.*?)/ \|", query["query_string"]).group(1)
            hits = [line for line in lines[f"/app/{prefix}/application"] if re.search(regex, line)]
            assert hits and all(json.loads(h)["level"] == "ERROR" for h in hits)

    ratio = sum(metrics["ServerErrors"]) / sum(metrics["Requests"])
    fast = next(a for a in slo if "fast-burn" in a["alarm_name"])
    assert ratio > fast["threshold"]  # 20 % errors burns the budget: the alarm this run would raise
