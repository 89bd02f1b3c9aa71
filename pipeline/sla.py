"""``sla report``: availability, error budget and latency of an environment's service for a period, computed from
its CloudWatch request metrics (namespace ``Platform/<prefix>``: ``Requests``, ``ServerErrors``, ``Latency``; the
SLO alarms watch the same metrics), printed as markdown.

Availability = 1 - server errors / requests over the period. The error budget of the period is
(1 - SLO) x requests; "remaining" is the share of it not yet spent (negative when the SLO is missed).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from compliance.cli import Command

from envs.contract import LATENCY_METRIC, REQUESTS_METRIC, SERVER_ERRORS_METRIC, metric_namespace

DAY = 86400


@dataclass(frozen=True)
class DayFigures:
    day: str
    """ISO date (UTC)."""
    requests: float
    errors: float
    availability_percent: float | None
    """None when there was no request that day."""
    latency_p99_ms: float | None
    """None when the metric source returns no percentile for the day."""


@dataclass(frozen=True)
class SlaReport:
    environment: str
    namespace: str
    start: str
    end: str
    slo_availability_percent: float
    slo_latency_p99_ms: int
    requests: float
    errors: float
    availability_percent: float | None
    """None without requests."""
    error_budget_requests: float
    """Failed requests the SLO allows over the period."""
    error_budget_remaining_percent: float | None
    """100 when nothing failed, 0 when the budget is exactly spent, negative when exceeded; None without requests."""
    slo_met: bool | None
    latency_days_over_objective: int
    days: list[DayFigures] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _query(id_: str, namespace: str, metric: str, stat: str, period: int) -> dict[str, Any]:
    return {"Id": id_, "ReturnData": True,
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric}, "Period": period, "Stat": stat}}


def _series(cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, dict[datetime, float]]:
    out: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in queries}
    token = None
    while True:
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
        if token:
            kwargs["NextToken"] = token
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page.get("MetricDataResults", []):
            series = out.setdefault(result["Id"], {})
            for ts, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                if value is None:
                    continue
                ts = ts.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
                series[ts] = series.get(ts, 0.0) + float(value) if result["Id"] != "p99" else float(value)
        token = page.get("NextToken")
        if not token:
            return out


def day_bounds(end: datetime, days: int) -> tuple[datetime, datetime]:
    """The ``days`` whole UTC days ending with the day of ``end`` (inclusive)."""
    last = end.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return last - timedelta(days=days), last


def compute_report(cloudwatch: Any, settings: Any, start: datetime, end: datetime) -> SlaReport:
    """The report of ``settings`` (an ``EnvironmentSettings``) between ``start`` and ``end`` (UTC day boundaries)."""
    slo = settings.observability.slo
    namespace = metric_namespace(settings.name_prefix)
    series = _series(cloudwatch, [_query("requests", namespace, REQUESTS_METRIC, "Sum", DAY),
                                  _query("errors", namespace, SERVER_ERRORS_METRIC, "Sum", DAY),
                                  _query("p99", namespace, LATENCY_METRIC, "p99", DAY)], start, end)
    days: list[DayFigures] = []
    day = start
    while day < end:
        req = series["requests"].get(day, 0.0)
        err = series["errors"].get(day, 0.0)
        days.append(DayFigures(day.date().isoformat(), req, err,
                               round(100 * (1 - err / req), 4) if req else None, series["p99"].get(day)))
        day += timedelta(days=1)
    requests = sum(d.requests for d in days)
    errors = sum(d.errors for d in days)
    budget = slo.error_budget * requests
    availability = round(100 * (1 - errors / requests), 4) if requests else None
    remaining = round(100 * (1 - errors / budget), 2) if budget else None
    return SlaReport(
        environment=settings.name, namespace=namespace, start=start.isoformat(), end=end.isoformat(),
        slo_availability_percent=slo.availability_percent, slo_latency_p99_ms=slo.latency_p99_ms,
        requests=requests, errors=errors, availability_percent=availability,
        error_budget_requests=round(budget, 4), error_budget_remaining_percent=remaining,
        slo_met=None if availability is None else availability >= slo.availability_percent,
        latency_days_over_objective=sum(1 for d in days if d.latency_p99_ms is not None
                                        and d.latency_p99_ms > slo.latency_p99_ms),
        days=days)


def _fmt(value: float | None, suffix: str = "", digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def render_markdown(report: SlaReport) -> str:
    verdict = {True: "met", False: "MISSED", None: "no traffic"}[report.slo_met]
    lines = [
        f"## SLA report: {report.environment}",
        "",
        f"Period: {report.start[:10]} to {report.end[:10]} (UTC, end exclusive); metrics: `{report.namespace}`",
        "",
        "| measure | objective | actual |",
        "| --- | --- | --- |",
        f"| availability | {report.slo_availability_percent:g} % | {_fmt(report.availability_percent, ' %')} ({verdict}) |",
        f"| error budget remaining | > 0 % | {_fmt(report.error_budget_remaining_percent, ' %', 2)} "
        f"({report.errors:g} of {report.error_budget_requests:g} allowed failed requests) |",
        f"| latency p99 | < {report.slo_latency_p99_ms} ms | {report.latency_days_over_objective} day(s) over the "
        "objective |",
        "",
        f"Requests: {report.requests:g}; server errors: {report.errors:g}.",
        "",
        "| day | requests | errors | availability | p99 latency |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {d.day} | {d.requests:g} | {d.errors:g} | {_fmt(d.availability_percent, ' %')} | "
              f"{_fmt(d.latency_p99_ms, ' ms', 0)} |" for d in report.days]
    if all(d.latency_p99_ms is None for d in report.days):
        lines += ["", "Latency percentiles: the metric source returned none for this period."]
    return "\n".join(lines) + "\n"


def cmd_sla(args: Any) -> int:
    """``sla report``: exit 0 with the report, 2 on bad settings or arguments, 3 when CloudWatch cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    from envs import SettingsError

    from . import cli_helpers as helpers, synth
    from .aws import client
    from .local import EmulatorError

    try:
        settings = synth.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return helpers.bad_settings(exc)
    if not settings.observability.enabled:
        return helpers.refuse_switched_off(args.env, args.envs_dir, "observability.enabled",
                                            "request metrics or SLOs to report on")
    try:
        end_day = (datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=timezone.utc) if args.end
                   else datetime.now(timezone.utc))
    except ValueError:
        helpers.fail(f"error: --end {args.end!r} is not a date; use YYYY-MM-DD")
        return 2
    days = args.days or settings.observability.slo.window_days
    if days < 1:
        helpers.fail("error: --days must be at least 1")
        return 2
    try:
        target = helpers.target(args.target)
        cloudwatch = client("cloudwatch", settings.region, target.endpoint)
        report = compute_report(cloudwatch, settings, *day_bounds(end_day, days))
    except (BotoCoreError, ClientError, EmulatorError) as exc:
        helpers.fail(f"error: cannot read CloudWatch metrics: {exc}")
        return 3
    text = report.to_json() if args.format == "json" else render_markdown(report)
    helpers.emit_report(text, args.output, "sla report")
    return 0


def _sla_arguments(p: Any) -> None:
    from .cli_helpers import env_argument, target_argument

    p.add_argument("action", choices=("report",))
    env_argument(p)
    target_argument(p)
    p.add_argument("--days", type=int, help="period in whole UTC days (default: observability.slo.window_days)")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="last day of the period (default: today)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")


COMMANDS = (Command("sla", "SLA report: availability and error budget from CloudWatch metrics", _sla_arguments,
                    cmd_sla),)
