"""``cost report``: actual monthly cost of an environment from Cost Explorer (costs tagged ``Environment=<env>``,
by service), cost per user from the settings' users metric, and optimization suggestions: rightsizing, Savings
Plans and reserved instances from the Cost Explorer recommendation APIs, and spot from the environment's settings.

A recommendation API the endpoint does not offer (the local emulator implements only ``GetCostAndUsage``) is listed
as unavailable with the reason; it never fails the report.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from compliance.cli import Command


@dataclass(frozen=True)
class MonthCost:
    month: str
    """``YYYY-MM``."""
    total_usd: float
    by_service: dict[str, float]
    estimated: bool
    users: float | None = None
    """Average of the users metric over the month; None without a users metric or data."""
    cost_per_user_usd: float | None = None


@dataclass(frozen=True)
class CostReport:
    environment: str
    budget_usd: float
    months: list[MonthCost]
    suggestions: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def month_starts(today: date, months: int) -> list[date]:
    """First days of the last ``months`` months, the current month included, oldest first."""
    first = today.replace(day=1)
    out = [first]
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _amount(metrics: dict[str, Any]) -> float:
    for key in ("UnblendedCost", "BlendedCost", "AmortizedCost"):
        if key in metrics:
            return float(metrics[key]["Amount"])
    return 0.0


def actual_costs(ce: Any, environment: str, start: date, end: date) -> list[MonthCost]:
    """Monthly cost of ``environment`` between ``start`` and ``end`` (exclusive), by service."""
    months: list[MonthCost] = []
    kwargs: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()}, "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"], "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Tags": {"Key": "Environment", "Values": [environment], "MatchOptions": ["EQUALS"]}},
    }
    while True:
        page = ce.get_cost_and_usage(**kwargs)
        for result in page.get("ResultsByTime", []):
            by_service = {g["Keys"][0]: round(_amount(g["Metrics"]), 2) for g in result.get("Groups", [])}
            total = sum(by_service.values()) if by_service else _amount(result.get("Total", {}))
            months.append(MonthCost(result["TimePeriod"]["Start"][:7], round(total, 2), by_service,
                                    bool(result.get("Estimated"))))
        token = page.get("NextPageToken")
        if not token:
            return months
        kwargs["NextPageToken"] = token


def users_per_month(cloudwatch: Any, metric: str, months: list[str]) -> dict[str, float]:
    """Average of the users metric (``Namespace/MetricName``) per month."""
    namespace, name = metric.rsplit("/", 1)
    out: dict[str, float] = {}
    for month in months:
        start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=timezone.utc)
        end = datetime.combine(_next_month(start.date()), datetime.min.time(), tzinfo=timezone.utc)
        points = cloudwatch.get_metric_statistics(Namespace=namespace, MetricName=name, StartTime=start,
                                                  EndTime=end, Period=86400, Statistics=["Average"])
        values = [p["Average"] for p in points.get("Datapoints", [])]
        if values:
            out[month] = sum(values) / len(values)
    return out


def _recommendations(ce: Any, unavailable: list[str]) -> list[str]:
    """Suggestions from the Cost Explorer recommendation APIs; what cannot be read goes to ``unavailable``."""
    from botocore.exceptions import BotoCoreError, ClientError

    out: list[str] = []
    calls = [
        ("rightsizing (GetRightsizingRecommendation)",
         lambda: ce.get_rightsizing_recommendation(Service="AmazonEC2"),
         lambda r: [f"rightsize {x.get('CurrentInstance', {}).get('ResourceId', '?')}: {x.get('RightsizingType')}, "
                    f"saves {x.get('ModifyRecommendationDetail', {}).get('TargetInstances', [{}])[0].get('EstimatedMonthlySavings', '?')} USD/month"
                    for x in r.get("RightsizingRecommendations", [])]),
        ("Savings Plans (GetSavingsPlansPurchaseRecommendation)",
         lambda: ce.get_savings_plans_purchase_recommendation(SavingsPlansType="COMPUTE_SP", TermInYears="ONE_YEAR",
                                                              PaymentOption="NO_UPFRONT", LookbackPeriodInDays="THIRTY_DAYS"),
         lambda r: [f"Compute Savings Plan: commit {s.get('HourlyCommitmentToPurchase')} USD/hour, saves "
                    f"{s.get('EstimatedMonthlySavingsAmount')} USD/month"
                    for s in r.get("SavingsPlansPurchaseRecommendation", {}).get("SavingsPlansPurchaseRecommendationDetails", [])]),
        ("reserved instances (GetReservationPurchaseRecommendation)",
         lambda: ce.get_reservation_purchase_recommendation(Service="Amazon Relational Database Service",
                                                            TermInYears="ONE_YEAR", PaymentOption="NO_UPFRONT"),
         lambda r: [f"RDS reserved instance: {d.get('RecommendedNumberOfInstancesToPurchase')} x "
                    f"{d.get('InstanceDetails', {}).get('RDSInstanceDetails', {}).get('InstanceType', '?')}, saves "
                    f"{d.get('EstimatedMonthlySavingsAmount')} USD/month"
                    for rec in r.get("Recommendations", []) for d in rec.get("RecommendationDetails", [])]),
    ]
    for what, call, parse in calls:
        try:
            out += parse(call())
        except (ClientError, BotoCoreError) as exc:
            unavailable.append(f"{what}: {_reason(exc)}")
    return out


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return text if len(text) < 200 else text[:197] + "..."


def _settings_suggestions(settings: Any, months: list[MonthCost]) -> list[str]:
    out: list[str] = []
    app = getattr(settings, "app", None)
    if app is not None and getattr(app, "enable_spot", None) is False and not settings.protected:
        out.append("spot: app.enable_spot is false in a non-protected environment; a spot mix (app.enable_spot = "
                   "true) typically saves 60-70 % of the instance cost")
    budget = settings.observability.budget.monthly_limit_usd
    if months and months[-1].total_usd > budget:
        out.append(f"budget: {months[-1].month} cost {months[-1].total_usd:.2f} USD exceeds the budget of "
                   f"{budget:.2f} USD")
    top = sorted(((v, k) for m in months[-1:] for k, v in m.by_service.items()), reverse=True)[:3]
    if top:
        out.append("largest services this month: " + ", ".join(f"{k} {v:.2f} USD" for v, k in top))
    return out


def build_report(settings: Any, ce: Any, cloudwatch: Any, today: date, months: int) -> CostReport:
    starts = month_starts(today, months)
    costs = actual_costs(ce, settings.name, starts[0], _next_month(starts[-1]))
    metric = settings.observability.budget.users_metric
    if metric and costs:
        users = users_per_month(cloudwatch, metric, [m.month for m in costs])
        costs = [MonthCost(m.month, m.total_usd, m.by_service, m.estimated, users.get(m.month),
                           round(m.total_usd / users[m.month], 4) if users.get(m.month) else None) for m in costs]
    unavailable: list[str] = []
    suggestions = _recommendations(ce, unavailable) + _settings_suggestions(settings, costs)
    return CostReport(settings.name, settings.observability.budget.monthly_limit_usd, costs, suggestions, unavailable)


def render_markdown(report: CostReport) -> str:
    lines = [f"## Cost report: {report.environment}", "", f"Monthly budget: {report.budget_usd:.2f} USD", "",
             "| month | cost (USD) | of budget | users | cost per user (USD) |", "| --- | --- | --- | --- | --- |"]
    for m in report.months:
        lines.append(f"| {m.month}{' (estimated)' if m.estimated else ''} | {m.total_usd:.2f} | "
                     f"{100 * m.total_usd / report.budget_usd:.1f} % | "
                     f"{'n/a' if m.users is None else f'{m.users:g}'} | "
                     f"{'n/a' if m.cost_per_user_usd is None else f'{m.cost_per_user_usd:.4f}'} |")
    if not report.months:
        lines.append("| (no cost data) | | | | |")
    services = sorted({s for m in report.months for s in m.by_service})
    if services:
        lines += ["", "| service | " + " | ".join(m.month for m in report.months) + " |",
                  "| --- |" + " --- |" * len(report.months)]
        lines += [f"| {s} | " + " | ".join(f"{m.by_service.get(s, 0):.2f}" for m in report.months) + " |"
                  for s in services]
    lines += ["", "### Optimization suggestions", ""]
    lines += [f"- {s}" for s in report.suggestions] or ["- none"]
    if report.unavailable:
        lines += ["", "Not available from this endpoint:", ""] + [f"- {u}" for u in report.unavailable]
    return "\n".join(lines) + "\n"


def cmd_cost(args: Any) -> int:
    """``cost report``: exit 0 with the report, 2 on bad settings, 3 when Cost Explorer cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    from envs import SettingsError

    from . import cli_helpers as helpers, synth
    from .aws import client
    from .local import EmulatorError

    try:
        settings = synth.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return helpers.bad_settings(exc)
    if args.months < 1:
        helpers.fail("error: --months must be at least 1")
        return 2
    try:
        target = helpers.target(args.target)
        # Cost Explorer is a global service answered in us-east-1.
        ce = client("ce", "us-east-1", target.endpoint)
        cloudwatch = client("cloudwatch", settings.region, target.endpoint)
        report = build_report(settings, ce, cloudwatch, datetime.now(timezone.utc).date(), args.months)
    except (BotoCoreError, ClientError, EmulatorError) as exc:
        helpers.fail(f"error: cannot read Cost Explorer: {_reason(exc)}")
        return 3
    text = report.to_json() if args.format == "json" else render_markdown(report)
    helpers.emit_report(text, args.output, "cost report")
    return 0


def _cost_arguments(p: Any) -> None:
    from .cli_helpers import env_argument, target_argument

    p.add_argument("action", choices=("report",))
    env_argument(p)
    target_argument(p)
    p.add_argument("--months", type=int, default=3, help="months back, the current one included (default: 3)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")


COMMANDS = (Command("cost", "cost report: Cost Explorer actuals, cost per user, optimization suggestions",
                    _cost_arguments, cmd_cost),)
