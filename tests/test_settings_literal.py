"""Settings are data: no string from settings reaches Terraform as an expression.

Every free-form string field of the schema (found by walking the pydantic models, nested lists, tuples and mapping
keys included) is set to a payload holding a Terraform interpolation and a template directive, in whatever shape the
field's validator accepts; one synthesis of a small environment holding all of them must leave no unescaped ``${``
or ``%{`` of a payload in the JSON. The fields whose validators refuse ``$``/``{`` are listed (and so documented).
"""
from __future__ import annotations

import copy
import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from envs import SettingsError
from envs.loader import DEFAULT_ENVS_DIR, validate
from envs.schema import EnvironmentSettings

INTERPOLATION = '${file("/etc/hostname")}'
DIRECTIVE = "%{ if true }x%{ endif }"
#: Shapes tried in turn until the field's validator accepts one (URL, path, email, no spaces...).
SHAPES = ("{i} {d}#{tag}", "{i}{d2}#{tag}", "/{i}{d2}#{tag}", "https://example.com/{i}{d2}#{tag}",
          "{i}{d2}{tag}@example.com")

#: Free-form strings whose validators forbid ``$`` or ``{`` (patterns, enumerations, ARNs, CIDRs, windows, tag
#: characters...): a payload never gets past the loader there.
FORBIDDING = {
    "name", "account_id", "region", "dr_region", "tags.project", "tags.owner", "tags.cost_center",
    "network.vpc_cidr", "sizes.instance_type", "sizes.db_instance_class", "sizes.cache_node_type",
    "app.certificate_arn", "app.ssl_policy", "app.image_ssm_parameter", "data.cdn.aliases.0",
    "app.image_id", "app.artifact_key", "app.artifact_sha256",
    "data.cdn.dynamic_paths.0", "app.health_check_matcher",
    "app.spot_instance_types.0", "data.database.engine_version", "data.database.db_name",
    "data.database.master_username", "data.database.backup_window", "data.database.maintenance_window",
    "data.cache.engine_version", "data.cache.snapshot_window", "data.cache.maintenance_window",
    "data.cache.maxmemory_policy", "data.cdn.price_class", "data.cdn.acm_certificate_arn",
    "data.backup.selection_tag", "data.dr.domain_name", "data.dr.record_name", "data.dr.secondary_endpoint",
    "data.dr.certificate_arn", "data.dr.drill.database", "data.dr.drill.tables.0", "data.dr.drill.queries.<key>",
    "security.waf_blocked_countries.0", "security.waf_allowed_cidrs.0", "security.waf_blocked_cidrs.0",
    "security.ci_github_repository", "security.ci_deploy_branches.0", "security.audit_account_id",
    "security.audit_external_id", "security.human_groups.0", "observability.tracing.services.<key>",
    "observability.budget.cost_allocation_tags.0", "integration.api_stage_name",
    "integration.api_cognito_user_pool_arns.0", "integration.api_routes.0",
    "integration.api_method_limits.0.method_path", "integration.api_partners.0.name",
    "integration.endpoint_services.0", "integration.integrations.0.name", "integration.api_backend_hostname",
    "integration.discovery_namespace", "integration.lattice_allowed_principals.0",
    "integration.integrations.0.rotation_lambda_arn", "integration.integrations.0.rotation_endpoint",
    "integration.integrations.0.rotation_test_endpoint", "operations.oncall.contacts.0.alias",
    "operations.oncall.contacts.0.email", "operations.oncall.contacts.0.sms", "operations.oncall.rotation_members.0",
    "operations.oncall.escalation_contacts.0", "operations.oncall.rotation_start", "operations.oncall.rotation_time_zone",
    "operations.oncall.rotation_handoff_time",
}


def _string_paths(model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    for name, field in model.model_fields.items():
        yield from _classify(field.annotation, (*prefix, name))


def _classify(annotation: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is str:
        yield path
    elif origin is typing.Annotated:
        yield from _classify(args[0], path)
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _classify(arg, path)
    elif origin in (tuple, list):
        yield from _classify(args[0], (*path, 0))
    elif origin is dict:
        if args[0] is str:
            yield (*path, "<key>")
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _string_paths(annotation, path)


def _base() -> dict[str, Any]:
    """dev's settings plus one element in every list and every optional string set, so each field has a place."""
    raw = tomllib.loads((DEFAULT_ENVS_DIR / "dev.toml").read_text())
    raw["data"]["cdn"].update(aliases=["cdn.example.com"], dynamic_paths=["/api/*"],
                              acm_certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/1")
    raw["security"].update(waf_blocked_countries=["KP"], waf_allowed_cidrs=["203.0.113.0/24"],
                           waf_blocked_cidrs=["198.51.100.0/24"], playbook_base_url="https://example.com/pb")
    raw["observability"]["contacts"].update(info=["info@example.com"], escalation=["lead@example.com"])
    raw["observability"].update(tracing={"services": {"api": 0.1}}, canary_url="https://example.com/health")
    raw["observability"]["budget"].update(users_metric="App/Users", cost_allocation_tags=["Project"])
    raw["integration"].update(
        api_backend_hostname="api.example.com", lattice_allowed_principals=["arn:aws:iam::111111111111:root"],
        discovery_namespace="dev.webplatform.internal", endpoint_services=["ssm"],
        api_authorization="COGNITO_USER_POOLS",
        api_cognito_user_pool_arns=["arn:aws:cognito-idp:us-east-1:111111111111:userpool/us-east-1_Abc123"])
    raw["integration"]["integrations"][0].update(error_pattern='{ $.level = "ERROR" }')
    raw["operations"] = {"oncall": {
        "enabled": True, "contacts": [{"alias": "a", "name": "A", "email": "a@example.com", "sms": "+14255550100"}],
        "rotation_members": ["a"], "escalation_contacts": ["a"], "rotation_start": "2026-01-05T09:00:00Z"}}
    return raw


def _with_payload(doc: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if path[-1] == "<key>":
        node: Any = out
        for part in path[:-2]:
            node = node.setdefault(part, {})
        mapping = node[path[-2]]
        node[path[-2]] = {value: next(iter(mapping.values()))}
        return out
    node = out
    for part in path[:-1]:
        if isinstance(node, dict) and part not in node:
            node[part] = [] if isinstance(path[path.index(part) + 1], int) else {}
        node = node[part]
    last = path[-1]
    if isinstance(node, list):
        if len(node) <= last:
            node.append(value)
        else:
            node[last] = value
    else:
        node[last] = value
    return out


def _path(dotted: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split("."))


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _accepted(base: dict[str, Any], path: tuple[Any, ...], tag: str) -> str | None:
    for shape in SHAPES:
        value = shape.format(i=INTERPOLATION, d=DIRECTIVE, d2=DIRECTIVE.replace(" ", ""), tag=tag)
        try:
            validate(_with_payload(base, path, value), "literal-test.toml")
        except SettingsError:
            continue
        return value
    return None


def _unescaped(text: str) -> Iterator[int]:
    """Positions where Terraform's template scanner starts an interpolation or a directive in ``text``."""
    i = 0
    while i < len(text) - 1:
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            yield i
            i += 2
        else:
            i += 1


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def test_terraform_literal_escapes_both_introducers() -> None:
    from modules.core.literal import terraform_literal

    assert terraform_literal('a ${b} %{ if c }d%{ endif } $${e} 100% {x} $x') == \
        'a $${b} %%{ if c }d%%{ endif } $$${e} 100% {x} $x'
    assert terraform_literal("plain") == "plain"


def _template_value(text: str) -> str:
    """What Terraform's template scanner makes of ``text`` when it holds no interpolation or directive: the escapes
    ``$${``/``%%{`` become ``${``/``%{``; anything Terraform would evaluate raises."""
    out, i = [], 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            out.append(text[i + 1:i + 3])
            i += 3
        elif text.startswith(("${", "%{"), i):
            raise ValueError(f"Terraform evaluates {text[i:i + 20]!r}")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@given(st.text(alphabet=st.sampled_from("$%{}~ax\"\\\n") | st.characters(), max_size=60))
@settings(max_examples=300, deadline=None)
def test_terraform_literal_is_read_back_exactly(text: str) -> None:
    from modules.core.literal import terraform_literal

    assert _template_value(terraform_literal(text)) == text


def test_every_free_form_settings_string_reaches_terraform_as_a_literal(tmp_path: Path) -> None:
    from envs.target import AWS
    from pipeline.synth import synthesize

    base = _base()
    validate(base, "literal-test.toml")  # the base itself is valid
    paths = list(_string_paths(EnvironmentSettings))
    assert len(paths) > 60, "the walk must find the schema's string fields"
    payloads: dict[str, str] = {}
    forbidding: set[str] = set()
    doc = base
    for index, path in enumerate(paths):
        value = _accepted(base, path, f"F{index}")
        if value is None:
            forbidding.add(_dotted(path))
            continue
        payloads[_dotted(path)] = value
        doc = _with_payload(doc, path, value)
    assert forbidding == FORBIDDING, "a field's validator changed: list it in FORBIDDING (or drop it from there)"
    assert {"integration.integrations.0.description", "observability.contacts.critical.0",
            "observability.error_log_pattern", "observability.canary_url"} <= set(payloads)

    settings = validate(doc, "literal-test.toml")
    stack = synthesize({"dev": settings}, AWS, tmp_path / "out", commit="literaltest01").stacks["dev"]
    text = stack.read_text()
    synthesized = json.loads(text)

    leaks = [s for s in _json_strings(synthesized) for i in _unescaped(s)
             if s.startswith("${file(", i) or s.startswith("%{", i)]
    assert not leaks, f"settings text evaluated by Terraform: {leaks[:5]}"
    # Which payloads reached the JSON (each carries its field's tag); the others are read by the runner only
    # (runbook, reports), never by Terraform.
    reached = {field for field, value in payloads.items()
               if re.search(rf"F{paths.index(_path(field))}(?!\d)", text)}
    assert {"integration.integrations.0.description", "observability.contacts.critical.0",
            "observability.canary_url", "integration.integrations.0.error_pattern",
            "operations.oncall.contacts.0.name"} <= reached, sorted(set(payloads) - reached)
    assert text.count("$${file(") >= len(reached)
