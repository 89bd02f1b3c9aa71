"""Properties (hypothesis) where the inputs are rich: settings validation (CIDR and subnet arithmetic, capacity bounds,
time windows), the plan review's size, the plan digest's stability and the drift / re-plan filters on arbitrary plan
shapes. Each property is checked against an oracle written here from the rule itself (AWS's or the project's), not
from the code under test. Examples are few and small (``max_examples``, ``deadline``) so the module stays fast; a
property that found a bug keeps its shrunk example as a plain test below it."""
from __future__ import annotations

import copy
import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import envs
from envs.schema import MAX_AZS, SUBNET_TIERS, EnvironmentSettings

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEV = tomllib.loads((ROOT / "envs" / "dev.toml").read_text())


# -- settings: every valid one loads, every invalid one is refused naming a real field ----------------------------

def field_exists(path: str) -> bool:
    """Whether ``path`` (``network.subnet_newbits``) names a field of the settings schema (or a section)."""
    model: Any = EnvironmentSettings
    for part in path.split("."):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return False
        annotation = fields[part].annotation
        model = next((a for a in (annotation, *getattr(annotation, "__args__", ())) if hasattr(a, "model_fields")),
                     None)
    return True


def write_env(folder: Path, doc: dict[str, Any]) -> Path:
    from tests.harness.delivery import dump_toml as _dump

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc['name']}.toml"
    path.write_text(_dump(doc))
    return path


def check(doc: dict[str, Any], tmp: Path) -> list[envs.Problem] | EnvironmentSettings:
    """Load ``doc`` as a settings file: the settings, or the problems reported."""
    try:
        return envs.load_file(write_env(tmp, doc))
    except envs.SettingsError as exc:
        return list(exc.problems)


def with_changes(**sections: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(DEV)
    for name, values in sections.items():
        table = doc
        for part in name.split("__"):
            table = table.setdefault(part, {})
        table.update(values)
    return doc


PRIVATE_BASES = (("10.0.0.0", 8), ("172.16.0.0", 12), ("192.168.0.0", 16))
DOCKER_BRIDGE = ipaddress.IPv4Network("172.17.0.0/16")


@st.composite
def private_networks(draw: Any) -> ipaddress.IPv4Network:
    base, room = draw(st.sampled_from(PRIVATE_BASES))
    prefix = draw(st.integers(min_value=max(16, room), max_value=24))
    start = ipaddress.IPv4Network(f"{base}/{room}")
    index = draw(st.integers(min_value=0, max_value=2 ** (prefix - room) - 1))
    net = list(start.subnets(new_prefix=prefix))[index] if prefix - room <= 8 else \
        ipaddress.IPv4Network((int(start.network_address) + index * 2 ** (32 - prefix), prefix))
    assume(not net.overlaps(DOCKER_BRIDGE))  # AWS services use 172.17.0.0/16: refused at load (envs/aws_catalog.py)
    return net


@FAST
@given(net=private_networks(), newbits=st.integers(min_value=4, max_value=12),
       azs=st.integers(min_value=1, max_value=MAX_AZS))
def test_network_settings_valid_iff_subnets_fit_and_subnets_never_overlap(net: ipaddress.IPv4Network, newbits: int,
                                                                          azs: int, tmp_path: Path) -> None:
    doc = with_changes(network={"vpc_cidr": str(net), "subnet_newbits": newbits, "az_count": max(azs, 1)})
    result = check(doc, tmp_path)
    fits = net.prefixlen + newbits <= 28  # AWS: a subnet is /16 to /28
    if not fits:
        assert isinstance(result, list), f"{net} with newbits {newbits} makes /{net.prefixlen + newbits} subnets"
        assert [p.field for p in result] == ["network"] and "subnet_newbits" in result[0].message
        return
    assert isinstance(result, EnvironmentSettings), result
    subnets = [ipaddress.IPv4Network(result.network.subnet_cidr(t, i)) for t in SUBNET_TIERS for i in range(azs)]
    assert all(s.subnet_of(net) and s.prefixlen == net.prefixlen + newbits for s in subnets)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])


@FAST
@given(cidr=st.one_of(
    st.builds(lambda a, b, p: f"{a}.{b}.0.0/{p}", st.sampled_from([8, 11, 100, 169, 172, 192, 203]),
              st.integers(0, 255), st.integers(0, 32)),
    st.text(alphabet="0123456789./x", min_size=1, max_size=18)))
def test_any_vpc_cidr_is_accepted_only_when_private_and_16_to_24(cidr: str, tmp_path: Path) -> None:
    try:
        net = ipaddress.IPv4Network(cidr, strict=True)
        # AWS's rule for a VPC (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html): an RFC 1918
        # range, not 172.17.0.0/16 (used by AWS services); Python's `is_private` is broader (documentation and
        # benchmarking ranges such as 198.51.100.0/24 count as private there), hence written out here.
        rfc1918 = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
        ok = (any(net.subnet_of(r) for r in rfc1918) and not net.overlaps(ipaddress.IPv4Network("172.17.0.0/16"))
              and 16 <= net.prefixlen <= 24 and net.prefixlen + 4 <= 28)
    except ValueError:
        ok = False
    result = check(with_changes(network={"vpc_cidr": cidr}), tmp_path)
    if ok:
        assert isinstance(result, EnvironmentSettings), result
    else:
        assert isinstance(result, list) and result, cidr
        assert all(field_exists(p.field) for p in result), [str(p) for p in result]
        assert any(p.field == "network.vpc_cidr" for p in result), [str(p) for p in result]


@pytest.mark.parametrize("cidr", ["198.51.100.0/24", "172.17.0.0/16", "172.17.5.0/24", "100.64.0.0/16"])
def test_vpc_cidrs_python_calls_private_but_aws_refuses_exit_with_the_field(cidr: str, tmp_path: Path) -> None:
    """The examples hypothesis shrank to (the property's own rule was Python's `is_private`, which is broader)."""
    result = check(with_changes(network={"vpc_cidr": cidr}), tmp_path)
    assert isinstance(result, list) and any(p.field == "network.vpc_cidr" for p in result), result


@FAST
@given(lo=st.integers(-2, 12), hi=st.integers(-2, 12), desired=st.one_of(st.none(), st.integers(-2, 12)),
       storage=st.integers(0, 70000), max_storage=st.integers(0, 70000))
def test_capacity_bounds(lo: int, hi: int, desired: int | None, storage: int, max_storage: int,
                         tmp_path: Path) -> None:
    sizes = {"min_capacity": lo, "max_capacity": hi, "db_allocated_storage_gb": storage,
             "db_max_allocated_storage_gb": max_storage}
    if desired is not None:
        sizes["desired_capacity"] = desired
    result = check(with_changes(sizes=sizes), tmp_path)
    valid = (lo >= 0 and hi >= 1 and lo <= hi and (desired is None or lo <= desired <= hi)
             and 20 <= storage <= 65536 and 20 <= max_storage <= 65536 and max_storage >= storage)
    if valid:
        assert isinstance(result, EnvironmentSettings), [str(p) for p in result]
        assert (result.sizes.min_capacity, result.sizes.max_capacity) == (lo, hi)
    else:
        assert isinstance(result, list) and result
        assert all(p.field.startswith("sizes") and field_exists(p.field) for p in result), [str(p) for p in result]


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hhmm(minute: int) -> str:
    return f"{minute % 1440 // 60:02d}:{minute % 60:02d}"


def minutes_of(start: int, length: int) -> set[int]:
    """Minutes of the day a daily window covers (a window may run past midnight)."""
    return {(start + i) % 1440 for i in range(length)}


@FAST
@given(b_start=st.one_of(st.integers(0, 1439), st.integers(1200, 1439)), b_len=st.integers(30, 240),
       m_start=st.one_of(st.integers(0, 1439), st.integers(0, 240)), m_len=st.integers(30, 240), day=st.integers(0, 6))
def test_backup_window_is_refused_exactly_when_it_overlaps_the_maintenance_window(
        b_start: int, b_len: int, m_start: int, m_len: int, day: int, tmp_path: Path) -> None:
    """RDS: the daily backup window must not overlap the weekly maintenance window
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.BackupWindow.html).
    The project checks it on the time of day only (stricter: any day), so the oracle is minutes-of-day overlap."""
    end_day = DAYS[(day + (m_start + m_len) // 1440) % 7]
    backup = f"{hhmm(b_start)}-{hhmm(b_start + b_len)}"
    maintenance = f"{DAYS[day]}:{hhmm(m_start)}-{end_day}:{hhmm(m_start + m_len)}"
    result = check(with_changes(data__database={"backup_window": backup, "maintenance_window": maintenance}), tmp_path)
    overlaps = bool(minutes_of(b_start, b_len) & minutes_of(m_start, m_len))
    if overlaps:
        assert isinstance(result, list), f"{backup} overlaps {maintenance} but was accepted"
        assert all(field_exists(p.field) for p in result) and "overlaps" in str(result[0])
    else:
        assert isinstance(result, EnvironmentSettings), [str(p) for p in result]


def test_backup_window_over_midnight_overlapping_the_maintenance_window_is_refused(tmp_path: Path) -> None:
    """Found by the property above (its shrunk example): a backup window running past midnight into the maintenance
    window was accepted (the overlap test compared the window's end past midnight with the maintenance window of the
    same day only). Fixed in envs/data.py (``_daily_overlap``)."""
    doc = with_changes(data__database={"backup_window": "20:01-00:01", "maintenance_window": "mon:00:00-mon:00:30"})
    result = check(doc, tmp_path)
    assert isinstance(result, list) and "overlaps" in str(result[0]), result


# -- the plan review fits a pull-request comment, whatever the plan -----------------------------------------------

ACTIONS = (["create"], ["update"], ["delete"], ["delete", "create"], ["create", "delete"], ["no-op"], ["read"])
TYPES = ("aws_s3_bucket", "aws_db_instance", "aws_instance", "aws_vpc", "aws_iam_role", "aws_lb", "aws_kms_key",
         "aws_cloudwatch_metric_alarm", "aws_elasticache_replication_group", "aws_launch_template", "made_up_type")
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6), st.text(max_size=300))
SMALL_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6), st.text(max_size=30))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                          max_leaves=12)
ATTRS = st.dictionaries(st.text(min_size=1, max_size=40), st.one_of(SMALL_LEAF, JSON_VALUE), max_size=40)


@st.composite
def resource_change(draw: Any, index: int | None = None) -> dict[str, Any]:
    rtype = draw(st.sampled_from(TYPES))
    module = draw(st.sampled_from(["", "module.net.", "module.app.module.asg."]))
    name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=60))
    actions = draw(st.sampled_from(ACTIONS))
    before = None if actions == ["create"] else draw(ATTRS)
    after = None if actions == ["delete"] else draw(ATTRS)
    suffix = f"[{index}]" if index is not None else ""
    return {"address": f"{module}{rtype}.{name}{suffix}", "mode": draw(st.sampled_from(["managed", "managed", "data"])),
            "type": rtype, "name": name,
            "change": {"actions": actions, "before": before, "after": after,
                       "after_unknown": draw(st.dictionaries(st.text(max_size=10), st.booleans(), max_size=5))}}


@st.composite
def plans(draw: Any, max_size: int = 40) -> dict[str, Any]:
    count = draw(st.integers(0, max_size))
    changes = [draw(resource_change(i)) for i in range(count)]
    return {"format_version": "1.2", "timestamp": draw(st.text(max_size=20)), "resource_changes": changes,
            "output_changes": draw(st.dictionaries(st.text(max_size=10), st.fixed_dictionaries(
                {"actions": st.sampled_from(ACTIONS)}), max_size=3))}


def inflate(plan: dict[str, Any], copies: int, widen: int) -> dict[str, Any]:
    """``plan`` with every resource ``copies`` times and every attribute ``widen`` times (values ``widen`` x longer)."""
    def wide(attrs: Any) -> Any:
        if not isinstance(attrs, dict):
            return attrs
        return {f"{k}_{w}": (v * widen if isinstance(v, str) else v) for k, v in attrs.items() for w in range(widen)}

    return {**plan, "resource_changes": [
        {**rc, "address": f"{rc['address']}_{n}", "change": {**rc["change"], "before": wide(rc["change"]["before"]),
                                                             "after": wide(rc["change"]["after"])}}
        for n in range(copies) for rc in plan["resource_changes"]]}


@settings(max_examples=25, deadline=10000)
@given(plan=plans(max_size=8), copies=st.integers(1, 300), widen=st.integers(1, 12))
def test_review_fits_a_pull_request_comment(plan: dict[str, Any], copies: int, widen: int) -> None:
    """GitHub refuses a comment body over 65,536 characters; the review must stay under 65,535 for any plan (here up
    to 2,400 resources, up to ~500 attributes each, values up to ~3,600 characters)."""
    from compliance.review import render_review

    text = render_review(inflate(plan, copies, widen))
    assert len(text) <= 65_535, len(text)
    assert "Terraform plan review" in text


# -- the plan digest: the same change against the same state, the same digest ---------------------------------------

@FAST
@given(plan=plans(max_size=12), seed=st.randoms(use_true_random=False), stamp=st.text(max_size=20))
def test_plan_digest_ignores_order_and_timestamps_but_not_changes(plan: dict[str, Any], seed: Any,
                                                                  stamp: str) -> None:
    from pipeline.approvals import plan_digest

    digest = plan_digest(plan)
    shuffled = copy.deepcopy(plan)
    seed.shuffle(shuffled["resource_changes"])
    shuffled["timestamp"] = stamp
    shuffled = json.loads(json.dumps(shuffled))  # another process's parse: same values, fresh objects
    assert plan_digest(shuffled) == digest and len(digest) == 64
    managed = [rc for rc in plan["resource_changes"] if rc["change"]["after"] is not None]
    assume(managed)
    changed = copy.deepcopy(plan)
    target = next(rc for rc in changed["resource_changes"] if rc["change"]["after"] is not None)
    target["change"]["after"] = {**target["change"]["after"], "__changed__": "yes"}
    assert plan_digest(changed) != digest


# -- drift and re-plan filters on arbitrary plan shapes ---------------------------------------------------------------

@FAST
@given(changes=st.lists(resource_change(), max_size=12, unique_by=lambda rc: rc["address"]), configured=st.lists(st.text(min_size=1, max_size=10),
                                                                              max_size=6),
       ignore_type=st.sampled_from(TYPES))
def test_drift_filter_reports_only_managed_attributes_and_deletions(changes: list[dict[str, Any]],
                                                                     configured: list[str], ignore_type: str) -> None:
    from pipeline.run import ALWAYS_MANAGED, _normalized, drifted_resources

    plan = {"configuration": {"root_module": {"resources": [
        {"address": rc["address"].split("[")[0], "expressions": {name: {} for name in configured}}
        for rc in changes]}}, "resource_drift": changes}
    ignored = {ignore_type: tuple(configured[:1])}
    drifted = drifted_resources(plan, ignored)
    by_address = {rc["address"]: rc for rc in changes}
    for d in drifted:
        source = by_address[d["address"]]
        if source["change"]["after"] is None:
            assert d["drifted_attributes"] == ["(deleted)"]
            continue
        managed = (set(configured) | set(ALWAYS_MANAGED)) - set(ignored.get(source["type"], ()))
        before, after = source["change"]["before"] or {}, source["change"]["after"]
        assert d["drifted_attributes"] and set(d["drifted_attributes"]) <= managed
        assert all(_normalized(before.get(a)) != _normalized(after.get(a)) for a in d["drifted_attributes"])
    deleted = {rc["address"] for rc in changes if rc["change"]["after"] is None}
    assert deleted <= {d["address"] for d in drifted}, "a resource deleted outside Terraform is always drift"


@FAST
@given(changes=st.lists(resource_change(), max_size=12, unique_by=lambda rc: rc["address"]))
def test_replan_filter_never_hides_more_than_the_documented_emulator_diffs(changes: list[dict[str, Any]]) -> None:
    import ast

    from envs.target import AWS, EMULATOR_REPLAN_DIFFS, Target
    from pipeline.run import unexpected_changes

    def parsed(lines: list[str]) -> dict[str, tuple[str, list[str]]]:
        out = {}
        for line in lines:
            address, rest = line.split(": ", 1)
            action, _, attrs = rest.partition(" ")
            out[address] = (action, ast.literal_eval(attrs) if attrs else [])
        return out

    plan = {"resource_changes": changes}
    local = parsed(unexpected_changes(plan, Target(kind="local", endpoint="http://127.0.0.1:9")))
    real = parsed(unexpected_changes(plan, AWS))
    for rc in changes:
        address, actions = rc["address"], rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            assert address not in real and address not in local
        elif actions != ["update"]:  # creates, deletes and replacements are never filtered
            assert local[address] == real[address] == ("/".join(actions), [])
        else:
            allowed = set(EMULATOR_REPLAN_DIFFS.get(rc["type"], ()))
            real_attrs = real.get(address, ("update", []))[1]
            local_attrs = local.get(address, ("update", []))[1]
            assert local_attrs == [a for a in real_attrs if a not in allowed]  # only the documented ones go
            before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
            assert {a for a in set(before) | set(after) if before.get(a) != after.get(a)} <= set(real_attrs)


@pytest.mark.parametrize("path", ["network.vpc_cidr", "sizes.min_capacity", "data.database.backup_window", "name"])
def test_field_exists_knows_the_schema(path: str) -> None:
    assert field_exists(path) and not field_exists(path + "_nope")
