"""The pipeline of one environment on one target: init, plan, gate, apply the saved plan, verify, drift, destroy.

It works on an already synthesized stack folder (``<outdir>/stacks/<env>``), so one synthesis serves every step.
Each step reports through ``say``; failures raise :class:`PipelineError` carrying the exit code.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from envs.schema import EnvironmentSettings
from envs.target import EMULATOR_REPLAN_DIFFS, Target

from .aws import EMULATOR_CREDENTIALS
from .bootstrap import StateBackendSpec, bootstrap_state
from .progress import ProgressRenderer
from .terraform import TerraformError, TerraformRunner
from .tfconfig import terraform_env

EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_TOOL = 0, 1, 2, 3
PLAN_FILE, PLAN_JSON, REVIEW_FILE = "tfplan", "plan.json", "review.md"
LOCK_ERROR = "Error acquiring the state lock"


class PipelineError(RuntimeError):
    """A step stopped the pipeline; ``exit_code`` follows the CLI contract (1 blocked/failed, 2 bad input, 3 tool)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class PlanOutcome:
    planfile: Path
    plan_json: Path
    has_changes: bool
    review: Path | None = None
    gate_exit: int = EXIT_OK
    plan: dict[str, Any] = field(default_factory=dict, repr=False)


def backend_spec(settings: EnvironmentSettings, target: Target) -> StateBackendSpec:
    from .promotion import promotion_readers

    return StateBackendSpec(bucket=settings.state_bucket, table=settings.lock_table, region=settings.region,
                            kms_alias=f"alias/{settings.tags.project}-tfstate", tls_only_policy=not target.is_local,
                            env=settings.name, readers=promotion_readers(settings),
                            tags={"Project": settings.tags.project, "Owner": settings.tags.owner,
                                  "CostCenter": settings.tags.cost_center, "ManagedBy": "platform-iac"})


def changed_resources(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plan's resource changes that are not no-ops."""
    return [rc for rc in plan.get("resource_changes", []) if rc["change"]["actions"] not in (["no-op"], ["read"])]


def _has_unknown(marks: Any) -> bool:
    """Whether an ``after_unknown`` entry marks anything unknown (it mirrors the value: lists/maps of booleans)."""
    if isinstance(marks, dict):
        return any(_has_unknown(v) for v in marks.values())
    if isinstance(marks, list):
        return any(_has_unknown(v) for v in marks)
    return marks is True


def unexpected_changes(plan: Mapping[str, Any], target: Target) -> list[str]:
    """Changes of a re-plan after apply, less the documented emulator diffs on the local target (by resource type
    and attribute: :data:`envs.target.EMULATOR_REPLAN_DIFFS`). Each entry reads ``address: action [attributes]``."""
    problems = []
    for rc in changed_resources(plan):
        actions, change = rc["change"]["actions"], rc["change"]
        if actions == ["update"]:
            before, after = change.get("before") or {}, change.get("after") or {}
            unknown = change.get("after_unknown") or {}
            attrs = sorted(k for k in set(before) | set(after) | set(unknown)
                           if before.get(k) != after.get(k) or _has_unknown(unknown.get(k)))
            allowed = EMULATOR_REPLAN_DIFFS.get(rc["type"], ()) if target.is_local else ()
            attrs = [a for a in attrs if a not in allowed]
            if not attrs:
                continue
            problems.append(f"{rc['address']}: update {attrs}")
        else:
            problems.append(f"{rc['address']}: {'/'.join(actions)}")
    return problems


class Pipeline:
    """Terraform for one synthesized stack of one environment on one target."""

    def __init__(self, settings: EnvironmentSettings, target: Target, stack_dir: Path, build_dir: Path,
                 say: Callable[[str], None] = print) -> None:
        self.settings, self.target, self.stack_dir = settings, target, Path(stack_dir).resolve()
        self.say = say
        extra = {"AWS_EC2_METADATA_DISABLED": "true"}
        if target.is_local:
            extra.update(AWS_ACCESS_KEY_ID=EMULATOR_CREDENTIALS["aws_access_key_id"],
                         AWS_SECRET_ACCESS_KEY=EMULATOR_CREDENTIALS["aws_secret_access_key"],
                         AWS_REGION=settings.region)
            extra.pop("AWS_SESSION_TOKEN", None)
        env = terraform_env(build_dir, extra)
        if target.is_local:
            for leaked in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # never mix real credentials into a local run
                env.pop(leaked, None)
        self.tf = TerraformRunner(self.stack_dir, env, progress=self._progress)

    # -- steps ---------------------------------------------------------------------------------------------------

    def bootstrap(self) -> list[str]:
        actions = bootstrap_state(backend_spec(self.settings, self.target), self.target.endpoint)
        for action in actions:
            self.say(f"  bootstrap: {action}")
        return actions

    def init(self) -> None:
        self.say(f"[{self.settings.name}] terraform init (state s3://{self.settings.state_bucket}/"
                 f"{self.settings.state_key}, lock table {self.settings.lock_table})")
        self._terraform(self.tf.init)

    def plan(self, *, refresh_only: bool = False, destroy: bool = False, lock_timeout: str = "0s",
             name: str = PLAN_FILE, lock: bool = True) -> PlanOutcome:
        planfile = self.stack_dir / name
        kind = "refresh-only plan" if refresh_only else ("destroy plan" if destroy else "plan")
        self.say(f"[{self.settings.name}] terraform {kind}")
        has_changes = self._terraform(lambda: self.tf.plan(planfile, refresh_only=refresh_only, destroy=destroy,
                                                           lock_timeout=lock_timeout, lock=lock))
        plan = self._terraform(lambda: self.tf.show_json(planfile))
        plan_json = self.stack_dir / f"{name}.json"
        plan_json.write_text(json.dumps(plan))
        return PlanOutcome(planfile=planfile, plan_json=plan_json, has_changes=has_changes, plan=plan)

    def apply(self, outcome: PlanOutcome, lock_timeout: str = "0s") -> None:
        """Apply the saved plan, after refusing one made for another environment or against an older state."""
        from compliance.guards import PlanRefused, check_plan_for_apply

        current = self._terraform(self.tf.state_pull)
        try:
            check_plan_for_apply(outcome.plan, environment=self.settings.name, plan_file=outcome.planfile,
                                 current_state=current)
        except PlanRefused as exc:
            raise PipelineError(f"refused to apply {outcome.planfile}: {exc}", EXIT_BLOCKED) from None
        self.say(f"[{self.settings.name}] terraform apply {outcome.planfile.name} (the gated, saved plan)")
        try:
            self.tf.apply(outcome.planfile, lock_timeout=lock_timeout, total=len(changed_resources(outcome.plan)))
        except TerraformError as exc:
            raise PipelineError(f"apply failed: {exc}", EXIT_BLOCKED) from None

    def verify_no_changes(self) -> None:
        """A re-plan after apply must be empty (less the documented emulator diffs on the local target). Its JSON
        is read only when Terraform's exit code reports changes (``-detailed-exitcode`` 0 is "Succeeded with empty
        diff", https://developer.hashicorp.com/terraform/cli/commands/plan): an empty re-plan costs no ``show -json``
        (~2.5 s of CPU: the provider's schema loaded once more)."""
        planfile = self.stack_dir / "tfplan.verify"
        self.say(f"[{self.settings.name}] terraform plan")
        problems: list[str] = []
        if self._terraform(lambda: self.tf.plan(planfile)):
            problems = unexpected_changes(self._terraform(lambda: self.tf.show_json(planfile)), self.target)
        if problems:
            raise PipelineError("re-plan after apply is not empty:\n  " + "\n  ".join(problems), EXIT_BLOCKED)
        self.say(f"[{self.settings.name}] re-plan: no changes")

    def drift(self) -> list[dict[str, Any]]:
        """Resources changed outside Terraform (refresh-only plan), each with ``drifted_attributes``."""
        outcome = self.plan(refresh_only=True, name="tfplan.drift")
        return drifted_resources(outcome.plan, EMULATOR_REPLAN_DIFFS if self.target.is_local else None)

    def destroy(self, lock_timeout: str = "0s", approvals: tuple[str, ...] | list[str] = (), *,
                expired_ephemeral: bool = False) -> PlanOutcome:
        """Plan the destroy, run the stateful guard on that plan, then apply exactly the saved destroy plan.

        Refused (exit 1, nothing destroyed) while a stateful resource of the plan (an unclassified type counts as
        one in a protected environment) is not named by an exact ``approvals`` address (``--approve ADDRESS``).
        ``expired_ephemeral``: the cleanup of an unprotected ephemeral environment past the expiry it was registered
        with; that registration is the approval, and the stateful addresses destroyed are listed."""
        outcome = self.plan(destroy=True, lock_timeout=lock_timeout, name="tfplan.destroy")
        if expired_ephemeral and not self.settings.protected:
            from compliance.guards import stateful_changes

            for address, _ in stateful_changes(outcome.plan, protected=False):
                self.say(f"  expired ephemeral environment: destroying stateful {address}")
        else:
            refused = destroy_refusal(outcome.plan, approvals, protected=self.settings.protected)
            if refused:
                raise PipelineError(refused, EXIT_BLOCKED)
        if not outcome.has_changes:
            self.say(f"[{self.settings.name}] destroy plan: nothing to destroy")
            return outcome
        self.say(f"[{self.settings.name}] terraform destroy (the guarded, saved destroy plan)")
        self.apply(outcome, lock_timeout=lock_timeout)
        return outcome

    # -- helpers -------------------------------------------------------------------------------------------------

    def _progress(self, operation: str, total: int | None) -> ProgressRenderer:
        """Live progress of one Terraform command, through ``say`` (a live line too when stderr is a terminal)."""
        return ProgressRenderer(say=self.say, operation=operation, total=total)

    def _terraform(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except TerraformError as exc:
            if LOCK_ERROR in str(exc):
                raise PipelineError(f"refused: the state of {self.settings.name} is locked by another run "
                                    f"(s3://{self.settings.state_bucket}/{self.settings.state_key}); wait for it "
                                    f"to finish or retry with --lock-timeout.\n{exc.diagnostics}", EXIT_BLOCKED) from None
            raise PipelineError(str(exc), EXIT_TOOL) from None


def destroy_refusal(plan: Mapping[str, Any], approvals: tuple[str, ...] | list[str] = (), *,
                    protected: bool = True) -> str | None:
    """Why a destroy plan must not be applied (its stateful addresses not approved by ``--approve``), or None."""
    from compliance.guards import unapproved_stateful_changes

    missing = unapproved_stateful_changes(plan, approvals, protected=protected)
    if not missing:
        return None
    lines = "\n".join(f"  {address} ({kind})" for address, kind in missing)
    flags = " ".join(f"--approve {address}" for address, _ in missing)
    return (f"refused: the destroy would delete {len(missing)} stateful resource(s) that hold data, keys or "
            f"identity:\n{lines}\nnothing was destroyed; approve each address explicitly to go on: {flags}")


def _normalized(value: Any) -> Any:
    """A value with empty containers, empty strings and nulls folded together, as Terraform's diff treats them."""
    if isinstance(value, dict):
        folded = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in folded.items() if v is not None} or None
    if isinstance(value, list):
        folded = [_normalized(v) for v in value]
        return folded if any(v is not None for v in folded) else None
    return None if value == "" else value


#: Attributes that are managed even when the configuration does not name them (provider default tags).
ALWAYS_MANAGED = ("tags", "tags_all")


def drifted_resources(plan: Mapping[str, Any],
                      ignore: Mapping[str, tuple[str, ...]] | None = None) -> list[dict[str, Any]]:
    """The refresh-only plan's ``resource_drift`` narrowed to real drift: a resource deleted outside Terraform, or a
    change to an attribute the configuration manages. A refresh also rewrites computed and empty-valued attributes
    (null vs [] and the like); those are not drift, and Terraform would not change them back. ``ignore`` (type ->
    attributes) drops the documented emulator read-back differences on the local target."""
    configured: dict[str, set[str]] = {}
    for res in ((plan.get("configuration") or {}).get("root_module") or {}).get("resources", []):
        configured[res["address"]] = set(res.get("expressions") or {})
    drifted = []
    for rc in plan.get("resource_drift", []):
        before, after = rc["change"].get("before") or {}, rc["change"].get("after")
        if after is None:
            drifted.append({**rc, "drifted_attributes": ["(deleted)"]})
            continue
        managed = configured.get(rc["address"].split("[")[0], set()) | set(ALWAYS_MANAGED)
        managed -= set((ignore or {}).get(rc["type"], ()))
        attrs = sorted(k for k in managed if _normalized(before.get(k)) != _normalized(after.get(k)))
        if attrs:
            drifted.append({**rc, "drifted_attributes": attrs})
    return drifted


def drift_report(drift: Iterable[Mapping[str, Any]], fmt: str = "text") -> str:
    """Drifted resources and attributes as text or markdown."""
    lines: list[str] = []
    items = list(drift)
    if fmt == "markdown":
        lines.append(f"### Drift: {len(items)} resource(s) changed outside Terraform\n")
        if items:
            lines += ["| resource | action | attributes |", "| --- | --- | --- |"]
    for rc in items:
        attrs = rc["drifted_attributes"]
        action = "/".join(rc["change"]["actions"])
        if fmt == "markdown":
            lines.append(f"| `{rc['address']}` | {action} | {', '.join(f'`{a}`' for a in attrs)} |")
        else:
            lines.append(f"  {rc['address']}: {action} {', '.join(attrs)}")
    if not items and fmt != "markdown":
        lines.append("  no drift")
    return "\n".join(lines)


def default_build_dir() -> Path:
    return Path(os.environ.get("PLATFORM_BUILD_DIR", ".build"))
