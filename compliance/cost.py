"""Offline monthly cost estimate of a Terraform plan (``terraform show -json``), from the shipped price table
``compliance/prices.toml`` (on-demand list prices with their source and date).

For every resource change the estimate prices the state before (prior state) and after the plan, so it gives the
monthly total after the plan and the delta against the prior state. Only fixed charges are estimated (instance,
database, cache, NAT and load-balancer hours, storage provisioned, keys, alarms, dashboards, ...); resources priced
by usage only are listed, and types the table does not know are reported as unpriced, never silently as zero.

Stdlib only: no import of cdktf, modules, envs or the pipeline.
"""
from __future__ import annotations

import json

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PRICES_FILE = Path(__file__).resolve().parent / "prices.toml"


class PriceTableError(ValueError):
    """The price table is missing or malformed."""


@dataclass(frozen=True)
class Prices:
    table: dict[str, Any]

    @property
    def hours(self) -> float:
        return float(self.table["meta"]["hours_per_month"])

    def get(self, section: str, key: str) -> float | None:
        value = self.table.get(section, {}).get(key)
        return None if value is None else float(value)

    @property
    def source(self) -> str:
        return str(self.table["meta"]["source"])

    @property
    def as_of(self) -> str:
        return str(self.table["meta"]["as_of"])

    @property
    def usage_only(self) -> frozenset[str]:
        return frozenset(self.table.get("usage_only", {}).get("types", ()))


def load_prices(path: Path | None = None) -> Prices:
    path = Path(path or PRICES_FILE)
    try:
        table = tomllib.loads(path.read_text())
        for key in ("source", "as_of", "hours_per_month", "spot_price_factor"):
            table["meta"][key]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise PriceTableError(f"{path}: cannot load the price table ({exc!r})") from None
    return Prices(table)


@dataclass(frozen=True)
class CostLine:
    address: str
    type: str
    actions: tuple[str, ...]
    before_usd: float
    after_usd: float
    detail: str
    """How the after (or before, for a delete) figure was computed."""

    @property
    def delta_usd(self) -> float:
        return self.after_usd - self.before_usd


@dataclass(frozen=True)
class CostEstimate:
    total_monthly_usd: float
    """Fixed monthly cost after the plan."""
    prior_monthly_usd: float
    """Fixed monthly cost of the same resources before the plan (prior state)."""
    lines: tuple[CostLine, ...]
    """Priced resources (cost > 0 before or after)."""
    usage_only: tuple[str, ...] = ()
    """Addresses of resources priced by usage only (not in the totals)."""
    unpriced: tuple[str, ...] = ()
    """Addresses of resources whose type or size the price table does not know."""
    unknown: tuple[str, ...] = ()
    """Addresses whose size is only known after apply (priced 0)."""
    source: str = ""
    as_of: str = ""
    currency: str = "USD"

    @property
    def delta_monthly_usd(self) -> float:
        return self.total_monthly_usd - self.prior_monthly_usd


class _Unknown(Exception):
    """A value the price depends on is unknown until apply."""


class _Unpriced(Exception):
    """The table has no price for this type/size."""


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else (None if isinstance(value, list) else value)


def _req(values: dict[str, Any], key: str, unknown: dict[str, Any]) -> Any:
    if unknown.get(key) is True:
        raise _Unknown(key)
    value = values.get(key)
    if value is None:
        raise _Unknown(key)
    return value


class _Pricer:
    def __init__(self, plan: dict[str, Any], prices: Prices) -> None:
        self.plan, self.p = plan, prices
        self.by_address: dict[str, dict[str, Any]] = {}
        for rc in plan.get("resource_changes", []):
            change = rc.get("change", {})
            self.by_address[rc["address"]] = change.get("after") or change.get("before") or {}
        self.config: dict[str, dict[str, Any]] = {
            r["address"]: r for r in plan.get("configuration", {}).get("root_module", {}).get("resources", [])}

    def hourly(self, section: str, key: str) -> float:
        price = self.p.get(section, key)
        if price is None:
            raise _Unpriced(f"{section}.{key}")
        return price * self.p.hours

    # -- per type ---------------------------------------------------------------------------------------------------

    def aws_instance(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        itype = _req(v, "instance_type", u)
        cost = self.hourly("ec2_hourly", itype)
        root = _first(v.get("root_block_device")) or {}
        size = root.get("volume_size") or 0
        storage = size * (self.p.get("ebs_gb_month", root.get("volume_type") or "gp3") or 0)
        return cost + storage, f"{itype} x {self.p.hours:g} h" + (f" + {size} GB root" if size else "")

    def aws_db_instance(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        cls = _req(v, "instance_class", u)
        multi = 2 if v.get("multi_az") else 1
        storage_type = v.get("storage_type") or "gp3"
        gb = v.get("allocated_storage") or 0
        storage_price = self.p.get("rds_storage_gb_month", storage_type)
        if storage_price is None:
            raise _Unpriced(f"rds_storage_gb_month.{storage_type}")
        cost = multi * (self.hourly("rds_hourly", cls) + gb * storage_price)
        return cost, f"{cls}{' Multi-AZ' if multi == 2 else ''} x {self.p.hours:g} h + {gb} GB {storage_type}"

    def aws_elasticache_replication_group(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        node = _req(v, "node_type", u)
        nodes = v.get("num_cache_clusters")
        if not nodes:
            groups = v.get("num_node_groups") or 1
            nodes = groups * ((v.get("replicas_per_node_group") or 0) + 1)
        return nodes * self.hourly("elasticache_hourly", node), f"{nodes} x {node}"

    def aws_elasticache_cluster(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        if v.get("replication_group_id") and not v.get("node_type"):
            return 0.0, "member of a replication group"
        node = _req(v, "node_type", u)
        nodes = v.get("num_cache_nodes") or 1
        return nodes * self.hourly("elasticache_hourly", node), f"{nodes} x {node}"

    def aws_nat_gateway(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        if v.get("connectivity_type") == "private":
            return self.hourly("hourly", "nat_gateway"), "private NAT gateway"
        return self.hourly("hourly", "nat_gateway"), "NAT gateway hours (data processed not included)"

    def aws_lb(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        kind = v.get("load_balancer_type") or "application"
        key = {"application": "application_load_balancer", "network": "network_load_balancer"}.get(kind)
        if key is None:
            raise _Unpriced(f"load balancer type {kind}")
        return self.hourly("hourly", key), f"{kind} load balancer hours (LCUs not included)"

    aws_alb = aws_lb

    def aws_eip(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self.hourly("hourly", "public_ipv4_address"), "public IPv4 address"

    def aws_ebs_volume(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        size = _req(v, "size", u)
        vtype = v.get("type") or "gp3"
        price = self.p.get("ebs_gb_month", vtype)
        if price is None:
            raise _Unpriced(f"ebs_gb_month.{vtype}")
        return size * price, f"{size} GB {vtype}"

    def aws_vpc_endpoint(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        if (v.get("vpc_endpoint_type") or "Gateway") != "Interface":
            return 0.0, "gateway endpoint (free)"
        azs = len(v.get("subnet_ids") or []) or 1
        return azs * self.hourly("hourly", "interface_endpoint_per_az"), f"interface endpoint in {azs} AZ(s)"

    def aws_kms_key(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("kms_key"), "customer-managed key"

    def aws_cloudwatch_metric_alarm(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        queries = v.get("metric_query") or []
        if queries:
            metrics = sum(1 for q in queries if _first(q.get("metric")))
            metrics += sum(2 for q in queries if "ANOMALY_DETECTION_BAND" in (q.get("expression") or ""))
            periods = [(_first(q.get("metric")) or {}).get("period") or 60 for q in queries if _first(q.get("metric"))]
            high_res = any(p < 60 for p in periods)
        else:
            metrics, high_res = 1, (v.get("period") or 60) < 60
        key = "cloudwatch_alarm_high_resolution_metric" if high_res else "cloudwatch_alarm_metric"
        return metrics * self._monthly(key), f"{metrics} metric(s){' high-resolution' if high_res else ''}"

    def aws_cloudwatch_composite_alarm(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("cloudwatch_composite_alarm"), "composite alarm"

    def aws_cloudwatch_dashboard(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("cloudwatch_dashboard"), "dashboard"

    def aws_secretsmanager_secret(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("secretsmanager_secret"), "secret"

    def aws_route53_zone(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("route53_hosted_zone"), "hosted zone (queries not included)"

    def aws_route53_health_check(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        return self._monthly("route53_health_check"), "health check"

    def aws_wafv2_web_acl(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        rules_json = v.get("rule_json")
        if isinstance(rules_json, str) and rules_json:
            try:
                rules = len(json.loads(rules_json))
            except ValueError:
                rules = 0
        elif (u or {}).get("rule_json"):  # rules written as JSON that references resources of the same plan
            return (self._monthly("wafv2_web_acl"),
                    "web ACL; its rules (rule_json) are known after apply (rules and requests not included)")
        else:
            rules = len(v.get("rule") or [])
        return (self._monthly("wafv2_web_acl") + rules * self._monthly("wafv2_rule"),
                f"web ACL + {rules} rule(s) (requests not included)")

    def aws_autoscaling_group(self, v: dict, u: dict, addr: str) -> tuple[float, str]:
        count = v.get("desired_capacity")
        if count is None:
            if u.get("desired_capacity") is True:
                raise _Unknown("desired_capacity")
            count = v.get("min_size") or 0
        itype, on_demand_base, on_demand_pct = self._asg_instance_type(v, addr)
        hourly = self.p.get("ec2_hourly", itype)
        if hourly is None:
            raise _Unpriced(f"ec2_hourly.{itype}")
        on_demand = min(count, on_demand_base) + max(0, count - on_demand_base) * on_demand_pct / 100
        spot = count - on_demand
        factor = float(self.p.table["meta"]["spot_price_factor"])
        cost = (on_demand + spot * factor) * hourly * self.p.hours
        mix = f" ({on_demand:g} on-demand, {spot:g} spot at {factor:g} x on-demand)" if spot else ""
        return cost, f"{count} x {itype}{mix}"

    def _asg_instance_type(self, v: dict, addr: str) -> tuple[str, int, float]:
        mixed = _first(v.get("mixed_instances_policy"))
        base, pct = 0, 100.0
        ref_path: tuple[str, ...] = ("launch_template", "id")
        if mixed:
            dist = _first(mixed.get("instances_distribution")) or {}
            base = dist.get("on_demand_base_capacity") or 0
            pct = dist.get("on_demand_percentage_above_base_capacity")
            pct = 100.0 if pct is None else float(pct)
            lt = _first(mixed.get("launch_template")) or {}
            for override in lt.get("override") or []:
                if override.get("instance_type"):
                    return override["instance_type"], base, pct
            ref_path = ("mixed_instances_policy", "launch_template", "launch_template_specification",
                        "launch_template_id")
        template = self._referenced(addr, ref_path)
        if template is None or not template.get("instance_type"):
            raise _Unknown("instance type of the launch template")
        return template["instance_type"], base, pct

    def _referenced(self, addr: str, path: tuple[str, ...]) -> dict[str, Any] | None:
        """Values of the resource that the configuration expression at ``path`` of ``addr`` references."""
        expr: Any = self.config.get(addr, {}).get("expressions", {})
        for key in path:
            expr = _first(expr) if isinstance(expr, list) else expr
            if not isinstance(expr, dict):
                return None
            expr = expr.get(key)
        refs = (expr or {}).get("references", []) if isinstance(expr, dict) else []
        for ref in refs:
            parts = ref.split(".")
            if len(parts) >= 2 and f"{parts[0]}.{parts[1]}" in self.by_address:
                return self.by_address[f"{parts[0]}.{parts[1]}"]
        return None

    def _monthly(self, key: str) -> float:
        price = self.p.get("monthly", key)
        if price is None:
            raise _Unpriced(f"monthly.{key}")
        return price

    def price(self, rtype: str, values: dict | None, unknown: dict | None, addr: str) -> tuple[float, str] | None:
        fn: Callable[..., tuple[float, str]] | None = getattr(self, rtype, None) if rtype.startswith("aws_") else None
        if fn is None or values is None:
            return None
        return fn(values, unknown or {}, addr)


def estimate(plan: dict[str, Any], prices: Prices | None = None) -> CostEstimate:
    """The fixed monthly cost after ``plan`` and before it (prior state), per resource."""
    prices = prices or load_prices()
    pricer = _Pricer(plan, prices)
    lines: list[CostLine] = []
    usage, unpriced, unknown = [], [], []
    for rc in plan.get("resource_changes", []):
        if rc.get("mode") != "managed":
            continue
        addr, rtype = rc["address"], rc["type"]
        change = rc.get("change", {})
        actions = tuple(change.get("actions", []))
        if rtype in prices.usage_only:
            usage.append(addr)
            continue
        if not hasattr(pricer, rtype):
            continue  # free resource types (VPC, subnets, IAM, SNS subscriptions, ...) are not listed
        figures = []
        detail = ""
        for values, unk in ((change.get("before"), None), (change.get("after"), change.get("after_unknown"))):
            try:
                result = pricer.price(rtype, values, unk, addr)
            except _Unknown:
                unknown.append(addr)
                result = None
            except _Unpriced as exc:
                unpriced.append(f"{addr} ({exc})")
                result = None
            figures.append(0.0 if result is None else result[0])
            if result is not None:
                detail = result[1]
        before, after = figures
        if before or after:
            lines.append(CostLine(addr, rtype, actions, round(before, 4), round(after, 4), detail))
    total = round(sum(line.after_usd for line in lines), 2)
    prior = round(sum(line.before_usd for line in lines), 2)
    return CostEstimate(total, prior, tuple(sorted(lines, key=lambda line: (-line.after_usd, line.address))),
                        tuple(sorted(set(usage))), tuple(sorted(set(unpriced))), tuple(sorted(set(unknown))),
                        prices.source, prices.as_of, str(prices.table["meta"].get("currency", "USD")))


def _usd(value: float, signed: bool = False) -> str:
    text = f"{abs(value):,.2f}"
    if signed:
        return ("+" if value > 0 else "-" if value < 0 else "±") + text
    return text


def render_markdown(estimate: CostEstimate, max_lines: int = 25) -> str:
    """A markdown section for the plan review: totals, the largest lines, and what is not in the figures."""
    e = estimate
    out = [
        "### Estimated monthly cost",
        "",
        f"**{_usd(e.total_monthly_usd)} {e.currency}/month** after this plan "
        f"({_usd(e.delta_monthly_usd, signed=True)} vs {_usd(e.prior_monthly_usd)} before).",
        "",
    ]
    changed = [line for line in e.lines if math.fabs(line.delta_usd) >= 0.005]
    shown = sorted(changed, key=lambda line: -abs(line.delta_usd))[:max_lines]
    if shown:
        out += ["| resource | before | after | delta | basis |", "| --- | ---: | ---: | ---: | --- |"]
        out += [f"| `{line.address}` | {_usd(line.before_usd)} | {_usd(line.after_usd)} | "
                f"{_usd(line.delta_usd, signed=True)} | {line.detail} |" for line in shown]
        if len(changed) > len(shown):
            out.append(f"| ... {len(changed) - len(shown)} more changed line(s) | | | | |")
        out.append("")
    if e.usage_only:
        out.append(f"Priced by usage only, not in the figures: {len(e.usage_only)} resource(s) "
                   f"({', '.join(sorted({a.split('.')[0] for a in e.usage_only}))}).")
    if e.unknown:
        out.append(f"Size known only after apply (counted as 0): {', '.join(f'`{a}`' for a in e.unknown[:10])}"
                   f"{' ...' if len(e.unknown) > 10 else ''}.")
    if e.unpriced:
        out.append(f"Not in the price table (counted as 0): {', '.join(e.unpriced[:10])}"
                   f"{' ...' if len(e.unpriced) > 10 else ''}.")
    out += ["", f"_On-demand list prices: {e.source}, as of {e.as_of}. Fixed charges only; usage, free tiers and "
                "taxes are not included._"]
    return "\n".join(out) + "\n"
