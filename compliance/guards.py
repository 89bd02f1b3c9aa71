"""Guards on plans: destructive changes to stateful resources, and refusal to apply a plan that is stale or was
made for another environment.

``stateful_changes`` feeds the plan gate (finding ``PLAT_GUARD_STATEFUL``, blocking unless the run's approvals
name the address).  ``check_plan_for_apply`` is what the pipeline calls right before ``terraform apply PLANFILE``.
"""
from __future__ import annotations

import fnmatch
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

GUARD_ID = "PLAT_GUARD_STATEFUL"

# Resource types whose destruction loses data or keys.  Glob patterns allowed.
STATEFUL_TYPES: tuple[str, ...] = (
    "aws_db_instance", "aws_rds_cluster", "aws_rds_cluster_instance", "aws_rds_global_cluster", "aws_docdb_cluster",
    "aws_neptune_cluster", "aws_redshift_cluster", "aws_redshiftserverless_namespace",
    "aws_elasticache_*", "aws_memorydb_cluster", "aws_dax_cluster",
    "aws_s3_bucket", "aws_s3_directory_bucket", "aws_dynamodb_table", "aws_dynamodb_global_table",
    "aws_kms_key", "aws_kms_external_key", "aws_kms_replica_key",
    "aws_efs_file_system", "aws_fsx_*_file_system", "aws_ebs_volume", "aws_ebs_snapshot",
    "aws_backup_vault", "aws_cloudwatch_log_group", "aws_secretsmanager_secret", "aws_opensearch_domain",
    "aws_elasticsearch_domain", "aws_kinesis_stream", "aws_msk_cluster", "aws_sqs_queue", "aws_ecr_repository",
    "aws_glacier_vault", "aws_timestream_table", "aws_qldb_ledger", "aws_cognito_user_pool",
    "aws_route53_zone", "aws_acmpca_certificate_authority",
)


def is_stateful(rtype: str) -> bool:
    return any(rtype == p or fnmatch.fnmatchcase(rtype, p) for p in STATEFUL_TYPES)


def change_kind(actions: Iterable[str]) -> str:
    a = tuple(actions)
    if a in (("delete", "create"), ("create", "delete")):
        return "replace"
    if a == ("delete",):
        return "delete"
    if a == ("create",):
        return "create"
    if a == ("update",):
        return "update"
    if a in (("no-op",), ()):
        return "no-op"
    if a == ("read",):
        return "read"
    if a == ("forget",):
        return "forget"
    return "+".join(a)


def stateful_changes(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(address, "delete"|"replace")`` for every managed stateful resource the plan destroys."""
    out: list[tuple[str, str]] = []
    for rc in plan.get("resource_changes") or ():
        if rc.get("mode", "managed") != "managed":
            continue
        kind = change_kind((rc.get("change") or {}).get("actions") or ())
        if kind in ("delete", "replace") and is_stateful(rc.get("type", "")):
            out.append((rc.get("address", ""), kind))
    return out


class PlanRefused(Exception):
    """The saved plan must not be applied; the message says why and what to do."""


@dataclass(frozen=True)
class PlanIdentity:
    environment: str | None
    environment_source: str | None
    lineage: str | None
    serial: int | None


def plan_environment(plan: Mapping[str, Any], tag: str = "Environment") -> tuple[str | None, str | None]:
    """The environment a plan was made for, and where it was read from.

    Looked up in order: the AWS provider's ``default_tags`` constant ``Environment`` in the plan's configuration;
    a root variable named ``environment``/``env``; the ``Environment`` value of ``tags_all`` that every tagged
    resource in ``planned_values`` agrees on.  ``(None, None)`` when none is present or resources disagree."""
    cfg = (plan.get("configuration") or {}).get("provider_config") or {}
    for key, prov in cfg.items():
        if prov.get("name", key.split(".")[0]) != "aws":
            continue
        for dt in (prov.get("expressions") or {}).get("default_tags") or ():
            tags = ((dt or {}).get("tags") or {}).get("constant_value")
            if isinstance(tags, dict) and isinstance(tags.get(tag), str):
                return tags[tag], f"configuration.provider_config.{key}.default_tags.tags.{tag}"
    for name in ("environment", "env"):
        var = (plan.get("variables") or {}).get(name)
        if isinstance(var, dict) and isinstance(var.get("value"), str):
            return var["value"], f"variables.{name}"
    values: set[str] = set()

    def walk(mod: Mapping[str, Any]) -> None:
        for r in mod.get("resources") or ():
            t = ((r.get("values") or {}).get("tags_all") or {})
            if isinstance(t, dict) and isinstance(t.get(tag), str):
                values.add(t[tag])
        for child in mod.get("child_modules") or ():
            walk(child)

    walk((plan.get("planned_values") or {}).get("root_module") or {})
    if len(values) == 1:
        return values.pop(), "planned_values tags_all.Environment"
    return None, None


def saved_plan_state(plan_file: Path) -> tuple[str | None, int | None]:
    """Lineage and serial of the prior state recorded inside a binary plan file (its ``tfstate`` member); a plan
    made without prior state has no such member: ``(None, None)``."""
    try:
        with zipfile.ZipFile(plan_file) as zf:
            if "tfstate" not in zf.namelist():
                return None, None
            st = json.loads(zf.read("tfstate"))
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise PlanRefused(f"{plan_file}: not a readable Terraform plan file ({exc}); re-run the plan") from None
    serial = st.get("serial")
    return st.get("lineage"), int(serial) if isinstance(serial, int) else None


def check_plan_for_apply(plan: Mapping[str, Any], *, environment: str, expected_marker: str | None = None,
                         plan_file: Path | None = None, current_state: Mapping[str, Any] | None = None,
                         plan_state: tuple[str | None, int | None] | None = None) -> PlanIdentity:
    """Refuse (``PlanRefused``) to apply a saved plan that was made for another environment or against an older
    state than the one now in the backend.

    What is compared:
    1. environment: :func:`plan_environment` of the plan JSON must equal ``expected_marker`` (default: the
       ``environment`` string).  No marker found -> refused (the plan cannot prove where it belongs).
    2. freshness, when ``current_state`` is given (the JSON of ``terraform state pull``, or any mapping with
       ``lineage`` and ``serial``): the prior state the plan was made from (``plan_state`` or, from ``plan_file``,
       the ``tfstate`` member of the binary plan) must have the same lineage and serial.  A plan made with no
       prior state is only fresh while the backend has no state (or an empty one with serial 0 or absent).
    3. the plan did not error (``errored`` is false).
    Returns the identity that was verified."""
    if plan.get("errored"):
        raise PlanRefused("the plan errored while it was made (`errored: true`); fix the error and re-plan")
    want = expected_marker if expected_marker is not None else environment
    found, source = plan_environment(plan)
    if found is None:
        raise PlanRefused(f"cannot tell which environment the plan was made for (no Environment default tag, "
                          f"`environment` variable or consistent tags_all.Environment); refusing to apply it to "
                          f"{environment!r}")
    if found != want:
        raise PlanRefused(f"plan was made for environment {found!r} ({source}) but is being applied to "
                          f"{environment!r} (expected {want!r}); re-plan for {environment!r}")
    lineage = serial = None
    if plan_state is not None:
        lineage, serial = plan_state
    elif plan_file is not None:
        lineage, serial = saved_plan_state(Path(plan_file))
    if current_state is not None:
        cur_lineage = current_state.get("lineage")
        cur_serial = current_state.get("serial")
        if lineage is None and serial is None:
            if cur_lineage and cur_serial not in (None, 0):
                raise PlanRefused(f"plan was made without prior state but the backend now holds state "
                                  f"(lineage {cur_lineage}, serial {cur_serial}); the plan is stale, re-plan")
        elif cur_lineage != lineage:
            raise PlanRefused(f"plan was made against state lineage {lineage} but the backend holds lineage "
                              f"{cur_lineage}: a different state (another environment or a recreated backend); "
                              f"re-plan")
        elif cur_serial != serial:
            raise PlanRefused(f"plan is stale: made against state serial {serial}, the backend is at serial "
                              f"{cur_serial} (something applied since); re-plan")
    elif plan_file is None and plan_state is None:
        pass  # caller chose to verify the environment only
    return PlanIdentity(found, source, lineage, serial)
