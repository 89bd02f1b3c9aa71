"""Cost: a monthly budget per environment with actual and forecast notifications, Cost Anomaly Detection (monitor +
subscription) and cost allocation tags.

The budget counts the costs tagged with this environment (``user:Environment``), so environments sharing an account
each get their own. Notifications: actual spend below 100 % of the budget goes to the warning topic, 100 % and above
to critical; forecasts go to warning.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.budgets_budget import BudgetsBudget, BudgetsBudgetCostFilter, BudgetsBudgetNotification
from cdktf_cdktf_provider_aws.ce_anomaly_monitor import CeAnomalyMonitor
from cdktf_cdktf_provider_aws.ce_anomaly_subscription import (CeAnomalySubscription, CeAnomalySubscriptionSubscriber,
                                                             CeAnomalySubscriptionThresholdExpression,
                                                             CeAnomalySubscriptionThresholdExpressionDimension)
from cdktf_cdktf_provider_aws.ce_cost_allocation_tag import CeCostAllocationTag
from constructs import Construct

from modules.core.alarms import AlarmTopics
from modules.core.base import Context, Module, require
from modules.core.helpers import tags


def _ascending(values: tuple[float, ...]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


@dataclass(frozen=True)
class CostSettings:
    """Inputs of :class:`Cost`."""

    environment: str
    """Value of the ``Environment`` tag the budget and the anomaly monitor count. Required."""
    monthly_limit_usd: float = 100.0
    """Monthly budget in USD. Default 100."""
    actual_thresholds_percent: tuple[float, ...] = (50.0, 80.0, 100.0)
    """Actual-spend notification thresholds, ascending. Default 50, 80, 100."""
    forecast_thresholds_percent: tuple[float, ...] = (100.0,)
    """Forecast notification thresholds, ascending. Default 100."""
    anomaly_threshold_usd: float = 20.0
    """Total impact from which an anomaly is notified. Default 20."""
    cost_allocation_tags: tuple[str, ...] = ("Environment", "Project", "Owner", "CostCenter")
    """Tag keys to activate for cost allocation. Default Environment, Project, Owner, CostCenter."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource of the module on top of the context tags. Default: none."""

    def __post_init__(self) -> None:
        require(self.monthly_limit_usd > 0, "`monthly_limit_usd` must be positive")
        require(bool(self.actual_thresholds_percent) and _ascending(self.actual_thresholds_percent),
                "`actual_thresholds_percent` must be non-empty and strictly ascending")
        require(bool(self.forecast_thresholds_percent) and _ascending(self.forecast_thresholds_percent),
                "`forecast_thresholds_percent` must be non-empty and strictly ascending")
        require(self.anomaly_threshold_usd > 0, "`anomaly_threshold_usd` must be positive")


class Cost(Module):
    """Budget, anomaly detection and cost allocation tags.

    Public attributes: ``budget`` (escape hatch or None on the local target), ``budget_name``,
    ``anomaly_monitor_name``, ``cost_allocation_tags`` (the keys activated on this target).
    """

    def __init__(self, scope: Construct, id_: str, ctx: Context, settings: CostSettings,
                 alarm_topics: AlarmTopics) -> None:
        super().__init__(scope, id_, ctx)
        self.settings = s = settings
        prefix, extra = ctx.name_prefix, settings.extra_tags
        self.budget_name = f"{prefix}-monthly"
        self.anomaly_monitor_name = f"{prefix}-cost-anomalies"
        self.budget: BudgetsBudget | None = None
        notifications = [
            BudgetsBudgetNotification(comparison_operator="GREATER_THAN", notification_type="ACTUAL", threshold=pct,
                                      threshold_type="PERCENTAGE", subscriber_sns_topic_arns=alarm_topics.actions(
                                          "critical" if pct >= 100 else "warning"))
            for pct in s.actual_thresholds_percent
        ] + [
            BudgetsBudgetNotification(comparison_operator="GREATER_THAN", notification_type="FORECASTED",
                                      threshold=pct, threshold_type="PERCENTAGE",
                                      subscriber_sns_topic_arns=alarm_topics.actions("warning"))
            for pct in s.forecast_thresholds_percent
        ]
        self.budget = BudgetsBudget(
            self, "budget", name=self.budget_name, budget_type="COST", time_unit="MONTHLY",
            limit_amount=f"{s.monthly_limit_usd:.2f}", limit_unit="USD",
            cost_filter=[BudgetsBudgetCostFilter(name="TagKeyValue",
                                                 values=[f"user:Environment${s.environment}"])],
            notification=notifications, tags=tags(ctx, self.budget_name, extra))
        monitor = CeAnomalyMonitor(
            self, "anomaly-monitor", name=self.anomaly_monitor_name, monitor_type="CUSTOM",
            monitor_specification=_json({"Tags": {"Key": "Environment", "Values": [s.environment],
                                                  "MatchOptions": ["EQUALS"]}}),
            tags=tags(ctx, self.anomaly_monitor_name, extra))
        CeAnomalySubscription(
            self, "anomaly-subscription", name=f"{prefix}-cost-anomaly-alerts", frequency="IMMEDIATE",
            monitor_arn_list=[monitor.arn],
            subscriber=[CeAnomalySubscriptionSubscriber(type="SNS", address=alarm_topics.arn("warning"))],
            threshold_expression=CeAnomalySubscriptionThresholdExpression(
                dimension=CeAnomalySubscriptionThresholdExpressionDimension(
                    key="ANOMALY_TOTAL_IMPACT_ABSOLUTE", match_options=["GREATER_THAN_OR_EQUAL"],
                    values=[f"{s.anomaly_threshold_usd:g}"])),
            tags=tags(ctx, f"{prefix}-cost-anomaly-alerts", extra))
        for key in s.cost_allocation_tags:
            CeCostAllocationTag(self, f"allocation-tag-{key}", tag_key=key, status="Active")
        self.cost_allocation_tags: tuple[str, ...] = s.cost_allocation_tags


def _json(value: object) -> str:
    import json

    return json.dumps(value)
