"""The deployment orchestrator: every quality gate of one run, in order, recorded in the run log.

Gates: settings -> recovery (partial apply / lock) -> synth (or the release being rolled back to) -> terraform
init -> static gate -> plan -> plan gate + guards -> approval (protected environments: a record for the
exact plan digest) -> apply of the saved plan (``check_plan_for_apply``) -> post-deploy verification (boto3 health
checks of what the state holds) -> re-plan must be empty. The first gate that fails stops the run; the report names
it and the run record (``pipeline.runlog``) keeps the step timings, gate results and outcome.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from envs import SettingsError
from envs.schema import EnvironmentSettings
from envs.target import AWS, Target

from . import approvals as approvals_mod
from . import recovery
from . import synth as synth_mod
from .aws import client
from .bootstrap import bootstrap_state
from .local import EmulatorError
from .run import (EXIT_BLOCKED, EXIT_TOOL, REVIEW_FILE, Pipeline, PipelineError, PlanOutcome,
                  backend_spec, changed_resources, default_build_dir)
from .runlog import (APPLYING, BLOCKED, FAILED, PLANNED, SUCCEEDED, RunLog, RunRecord, Step, iso, new_record,
                     utc_now)
from .tfconfig import TerraformSetupError

GATES = ("settings", "target", "recovery", "synth", "init", "static-gate", "plan", "plan-gate", "approval",
         "apply", "verify", "re-plan")


class GateFailed(PipelineError):
    """A gate stopped the run (``gate`` names it)."""

    def __init__(self, gate: str, message: str, exit_code: int) -> None:
        super().__init__(message, exit_code)
        self.gate = gate


def actor() -> str:
    """Who runs this: ``PLATFORM_ACTOR``, else ``GITHUB_ACTOR``, else the OS user."""
    for var in ("PLATFORM_ACTOR", "GITHUB_ACTOR"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


@dataclass
class RunOptions:
    env: str
    target: str = "local"
    envs_dir: str | None = None
    kind: str = "deploy"                 # deploy | plan | rollback | promote | drift-correct
    apply: bool = True                   # False: stop after the approval gate (plan)
    approvals: tuple[str, ...] = ()      # stateful addresses approved for delete/replace
    lock_timeout: str = "0s"
    waivers: str | None = None
    recover: bool = False                # proceed over a detected partial apply (converge forward)
    config: bytes | None = None          # a release's cdk.tf.json to apply instead of synthesizing (rollback)
    config_endpoint: str | None = None   # the emulator endpoint baked into ``config``
    stack_json: Path | None = None       # an already synthesized stack (drift --correct reuses it)
    source: dict[str, Any] = field(default_factory=dict)
    who: str | None = None


def say(message: str) -> None:
    print(message, flush=True)


class DeploymentOrchestrator:
    """Runs the gates of one environment on one target; :meth:`run` returns the finished record or raises
    :class:`GateFailed` (and :class:`envs.SettingsError` for bad settings, before anything is recorded)."""

    def __init__(self, options: RunOptions, say: Callable[[str], None] = say) -> None:
        self.o, self.say = options, say
        self.record: RunRecord | None = None
        self.runlog: RunLog | None = None
        self.settings: EnvironmentSettings | None = None
        self.target: Target | None = None
        self.pipe: Pipeline | None = None
        self._steps: list[Step] = []

    # -- the run -------------------------------------------------------------------------------------------------

    def run(self) -> RunRecord:
        o = self.o
        try:
            self.settings = self._step("settings", self._load_settings)
            self.target = self._step("target", self._start_target)
            self._open_runlog()
            self._step("recovery", self._recovery_gate)
            stack_json = self._step("synth", self._synth)
            self._step("init", self._init)
            self._step("static-gate", lambda: self._static_gate(stack_json))
            outcome = self._step("plan", self._plan)
            self._step("plan-gate", lambda: self._plan_gate(outcome))
            self._step("approval", lambda: self._approval_gate(outcome))
            if not o.apply:
                return self._finish(PLANNED, f"plan: {len(changed_resources(outcome.plan))} change(s); gates passed")
            if outcome.has_changes:
                self._step("apply", lambda: self._apply(outcome))
            else:
                self.say(f"[{o.env}] nothing to apply")
                self._skip("apply", "no changes")
            self._step("verify", self._verify)
            if outcome.has_changes:
                self._step("re-plan", self._replan)
            else:
                self._skip("re-plan", "no changes applied")
            self._store_release(stack_json)
            return self._finish(SUCCEEDED, "applied" if outcome.has_changes else "no changes")
        except GateFailed as exc:
            status = FAILED if exc.gate in ("apply", "verify", "re-plan") or exc.exit_code == EXIT_TOOL else BLOCKED
            self._finish(status, str(exc), failed_gate=exc.gate)
            raise

    # -- steps ---------------------------------------------------------------------------------------------------

    def _step(self, name: str, call: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            value = call()
        except GateFailed as exc:
            self._steps.append(Step(name, "blocked" if exc.exit_code == EXIT_BLOCKED else "error",
                                    round(time.monotonic() - started, 2), _first_line(str(exc))))
            raise
        except SettingsError:
            self._steps.append(Step(name, "error", round(time.monotonic() - started, 2), "bad settings"))
            self._report(failed=name)
            raise
        except PipelineError as exc:
            self._steps.append(Step(name, "blocked" if exc.exit_code == EXIT_BLOCKED else "error",
                                    round(time.monotonic() - started, 2), _first_line(str(exc))))
            raise GateFailed(name, str(exc), exc.exit_code) from None
        except (TerraformSetupError, EmulatorError) as exc:
            self._steps.append(Step(name, "error", round(time.monotonic() - started, 2), _first_line(str(exc))))
            raise GateFailed(name, str(exc), EXIT_TOOL) from None
        detail = value if name == "recovery" and isinstance(value, str) else ""
        self._steps.append(Step(name, "warn" if detail else "ok", round(time.monotonic() - started, 2), detail))
        self._save()
        return value

    def _skip(self, name: str, why: str) -> None:
        self._steps.append(Step(name, "skipped", 0.0, why))

    def _load_settings(self) -> EnvironmentSettings:
        return synth_mod.load_settings([self.o.env], self.o.envs_dir)[self.o.env]

    def _start_target(self) -> Target:
        if self.o.target == "aws":
            return AWS
        from . import local

        return local.shared_target()

    def _open_runlog(self) -> None:
        s, t = self.settings, self.target
        assert s is not None and t is not None
        if t.is_local:  # the state bucket is created before anything is recorded in it
            for action in bootstrap_state(backend_spec(s, t), t.endpoint):
                self.say(f"  bootstrap: {action}")
        self.s3 = client("s3", s.region, t.endpoint)
        self.runlog = RunLog(self.s3, s.state_bucket, s.name)
        from .synth import current_commit

        self.record = new_record(s.name, t.kind, self.o.kind, current_commit(), self.o.who or actor())
        self.record.endpoint = t.endpoint
        self.record.source = dict(self.o.source)
        self.record.steps = self._steps
        try:
            url = self.runlog.save(self.record)
        except Exception as exc:  # noqa: BLE001 - boto errors of every kind end the run the same way
            raise GateFailed("target", f"cannot write the run log to s3://{s.state_bucket} ({exc}); run "
                                       f"`python main.py bootstrap --env {s.name} --target {t.kind}` first",
                             EXIT_TOOL) from None
        self.say(f"[{s.name}] run {self.record.id} ({self.o.kind}, commit {self.record.commit}, by "
                 f"{self.record.who}): {url}")

    def _current_serial(self) -> int | None:
        s = self.settings
        assert s is not None
        try:
            body = self.s3.get_object(Bucket=s.state_bucket, Key=s.state_key)["Body"].read()
            return int(json.loads(body).get("serial"))
        except Exception:  # noqa: BLE001 - no state yet
            return None

    def _recovery_gate(self) -> str:
        s, t, record = self.settings, self.target, self.record
        assert s is not None and t is not None and record is not None and self.runlog is not None
        runs = [r for r in self.runlog.runs() if r.id != record.id]
        last_attempt = next((r for r in reversed(runs) if r.apply_started), None)
        if last_attempt is not None and last_attempt.status == APPLYING and self.o.lock_timeout in ("0s", "0"):
            holder = recovery.lock_holder(self.s3, client("dynamodb", s.region, t.endpoint), s.state_bucket,
                                          s.lock_table, s.state_key)
            if holder:
                raise GateFailed("recovery", f"refused: the state of {s.name} is locked by another run (run "
                                             f"{last_attempt.id} by {last_attempt.who} is applying since "
                                             f"{last_attempt.started_at}); wait for it to finish or retry with "
                                             "--lock-timeout", EXIT_BLOCKED)
        finding = recovery.detect(runs, self._current_serial(), s.name)
        if finding is None:
            return ""
        record.gates["recovery"] = {"severity": finding.severity, "run": finding.run.id if finding.run else None,
                                    "message": finding.message}
        if finding.severity == "block":
            if self.o.recover or self.o.kind == "rollback":
                record.source["recovers"] = finding.run.id if finding.run else None
                self.say(finding.message.splitlines()[0])
                self.say(f"  proceeding: {'--recover' if self.o.recover else 'rollback'} (recorded as recovery of "
                         f"run {record.source['recovers']})")
                return f"recovering run {record.source['recovers']}"
            self.say(finding.message)
            raise GateFailed("recovery", finding.message.splitlines()[0] + " (recovery options above; "
                                         "`deploy --recover` or `rollback` to proceed)", EXIT_BLOCKED)
        self.say(f"  warning: {finding.message}")
        return _first_line(finding.message)

    def _synth(self) -> Path:
        s, t = self.settings, self.target
        assert s is not None and t is not None
        if self.o.config is not None:
            stack_dir = synth_mod.outdir_for(t) / "rollback" / s.name
            stack_dir.mkdir(parents=True, exist_ok=True)
            config = self.o.config
            if t.is_local and self.o.config_endpoint and t.endpoint and self.o.config_endpoint != t.endpoint:
                config = config.replace(self.o.config_endpoint.encode(), t.endpoint.encode())
            (stack_dir / "cdk.tf.json").write_bytes(config)
            stack_json = stack_dir / "cdk.tf.json"
            self.say(f"[{s.name}] release configuration of run {self.o.source.get('rollback_to')} "
                     f"(commit {self.o.source.get('commit')}): {stack_json}")
        elif self.o.stack_json is not None:
            stack_json = self.o.stack_json
        else:
            result = synth_mod.synthesize({s.name: s}, t, synth_mod.outdir_for(t))
            stack_json = result.stacks[s.name]
            self.say(f"synthesized {s.name} ({t.kind}{' at ' + t.endpoint if t.endpoint else ''}): {stack_json}")
        self.pipe = Pipeline(s, t, stack_json.parent, default_build_dir(), say=self.say)
        return stack_json

    def _init(self) -> None:
        """``terraform init`` (backend and providers). No separate ``terraform validate``: the plan validates the
        configuration before it plans ("use the terraform plan command instead, which includes an implied
        validation check", https://developer.hashicorp.com/terraform/cli/commands/validate) and stops the run at
        the ``plan`` gate (exit 3) with the same diagnostics; a second validation cost ~5.5 s of CPU per run (the
        provider's schema loaded once more). ``terraform validate`` of every environment runs in the tests
        (tests/test_validate.py)."""
        assert self.pipe is not None
        self.pipe.init()

    def _gate(self) -> Any:
        from compliance.gate import Gate

        return Gate(self.o.env, waivers_file=Path(self.o.waivers) if self.o.waivers else None,
                    approvals=self.o.approvals)

    def _static_gate(self, stack_json: Path) -> None:
        from compliance.report import render

        result = self._gate().scan_tf_json([stack_json])
        self.say(render([result], "text"))
        self._record_gate("static", result)
        if result.exit_code:
            raise GateFailed("static-gate", f"static gate {'failed to run' if result.exit_code == EXIT_TOOL else 'blocked'} "
                                            f"{self.o.env}: {_blockers(result)}; nothing was planned or applied",
                             result.exit_code)

    def _plan(self) -> PlanOutcome:
        assert self.pipe is not None and self.record is not None
        outcome = self.pipe.plan(lock_timeout=self.o.lock_timeout)
        digest = approvals_mod.plan_digest(outcome.plan, outcome.planfile)
        self.record.plan_digest, self.record.has_changes = digest, outcome.has_changes
        self.say(f"[{self.o.env}] plan: {len(changed_resources(outcome.plan))} change(s); plan digest: {digest}")
        return outcome

    def _plan_gate(self, outcome: PlanOutcome) -> None:
        from compliance.report import render

        assert self.pipe is not None
        result = self._gate().scan_plan([outcome.plan_json])
        self.say(render([result], "text"))
        review = write_review(self.pipe.stack_dir, outcome.plan, result, f"{self.o.env} ({self.pipe.target.kind})")
        self.say(f"review: {review}")
        outcome.review, outcome.gate_exit = review, result.exit_code
        self._record_gate("plan", result)
        if result.exit_code:
            raise GateFailed("plan-gate", f"plan gate {'failed to run' if result.exit_code == EXIT_TOOL else 'blocked'} "
                                          f"{self.o.env}: {_blockers(result)}; nothing was applied", result.exit_code)

    def _approval_gate(self, outcome: PlanOutcome) -> None:
        s, record = self.settings, self.record
        assert s is not None and record is not None and record.plan_digest is not None
        if not s.protected:
            record.gates["approval"] = {"required": False}
            self.say(f"[{s.name}] approval: not required (protection_level {s.protection_level.value})")
            return
        approval, reason = approvals_mod.verify_approval(self.s3, s.state_bucket, s.name, record.plan_digest,
                                                         deployer=record.who if self.o.apply else None)
        record.gates["approval"] = {"required": True, "approved": approval is not None,
                                    "by": approval.by if approval else None, "at": approval.at if approval else None,
                                    "reason": reason}
        if approval is not None:
            self.say(f"[{s.name}] approval: plan digest {record.plan_digest} approved by {approval.by} at "
                     f"{approval.at}")
            return
        if not outcome.has_changes:
            self.say(f"[{s.name}] approval: nothing to apply, none needed")
            record.gates["approval"]["approved"] = "not needed"
            return
        if not self.o.apply:
            self.say(f"[{s.name}] approval: missing; {reason}")
            return
        raise GateFailed("approval", f"approval gate blocked {s.name} (protected): {reason}", EXIT_BLOCKED)

    def _apply(self, outcome: PlanOutcome) -> None:
        assert self.pipe is not None and self.record is not None
        record = self.record
        record.state_serial_before = self._current_serial()
        record.status, record.apply_started = APPLYING, True
        self._save()
        try:
            self.pipe.apply(outcome, lock_timeout=self.o.lock_timeout)
        except PipelineError as exc:
            record.state_serial_after = self._current_serial()
            if record.state_serial_after != record.state_serial_before:
                good = next((r for r in reversed(self.runlog.runs() if self.runlog else []) if r.applied_ok
                             and r.release), None)
                options = "\n".join(f"  - {o}" for o in recovery.recovery_options(self.o.env, record, good))
                raise GateFailed("apply", f"{exc}\npartial apply: the state moved from serial "
                                          f"{record.state_serial_before if record.state_serial_before is not None else '(none)'} to {record.state_serial_after}; the next run "
                                          f"will report it. Recovery options:\n{options}", exc.exit_code) from None
            raise GateFailed("apply", str(exc), exc.exit_code) from None
        record.state_serial_after = self._current_serial()

    def _verify(self) -> None:
        assert self.pipe is not None and self.record is not None
        state = self.pipe.tf.state_pull()
        checks = health_checks(state, self.settings, self.target)
        self.record.gates["health"] = [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks]
        bad = [f"{c}: {d}" for c, ok, d in checks if not ok]
        for c, ok, d in checks:
            self.say(f"  health {'ok  ' if ok else 'FAIL'} {c}: {d}")
        if bad:
            raise GateFailed("verify", "post-deploy verification failed:\n  " + "\n  ".join(bad), EXIT_BLOCKED)
        self.say(f"[{self.o.env}] verified: {len(checks)} health check(s) passed")
        if self.record.state_serial_after is None:
            self.record.state_serial_after = self._current_serial()

    def _replan(self) -> None:
        assert self.pipe is not None and self.record is not None
        self.pipe.verify_no_changes()
        self.record.state_serial_after = self._current_serial()

    def _store_release(self, stack_json: Path) -> None:
        assert self.record is not None and self.runlog is not None
        config = stack_json.read_bytes()
        self.record.release = self.runlog.put_release(self.record, config, hashlib.sha256(config).hexdigest())

    # -- record and report -----------------------------------------------------------------------------------

    def _record_gate(self, name: str, result: Any) -> None:
        if self.record is None:
            return
        self.record.gates[name] = {
            "verdict": result.verdict, "exit_code": result.exit_code, "passed": result.passed_count,
            "failed": len(result.failed), "waived": len(result.waived), "errors": list(result.errors),
            "blocking": [{"check": f.check_id, "resource": f.resource, "severity": f.severity,
                          **({"change": f.detail} if f.source == "guard" else {})} for f in result.blocking][:50]}

    def _save(self) -> None:
        if self.record is not None and self.runlog is not None:
            try:
                self.runlog.save(self.record)
            except Exception as exc:  # noqa: BLE001 - a log write must not hide the run's own outcome
                print(f"warning: run log not written: {exc}", file=sys.stderr, flush=True)

    def _finish(self, status: str, message: str, failed_gate: str | None = None) -> RunRecord:
        self._report(failed=failed_gate)
        if self.record is None:  # stopped before the run log could be opened
            return None  # type: ignore[return-value]
        self.record.status, self.record.message, self.record.failed_gate = status, message, failed_gate
        self.record.finished_at = iso(utc_now())
        self._save()
        return self.record

    def _report(self, failed: str | None) -> None:
        done = {s.name for s in self._steps}
        rid = f" run {self.record.id}" if self.record else ""
        verdict = f"STOPPED at gate '{failed}'" if failed else "all gates passed"
        self.say(f"[{self.o.env}] gate report{rid} ({self.o.kind}): {verdict}")
        if self.record is not None and self.runlog is not None:
            self.say(f"  run log: {self.runlog.url(self.record.key)}")
        for step in self._steps:
            self.say(f"  {step.name:<12} {step.status:<8} {step.seconds:>7.1f}s  {step.detail}".rstrip())
        shown = [g for g in GATES if g not in done]
        if not self.o.apply:
            shown = [g for g in shown if g not in ("apply", "verify", "re-plan")]
        for gate in shown:
            self.say(f"  {gate:<12} not run")
        if self.record is None and failed:
            self.say("  (not recorded: the run log lives in the state bucket named by the settings)")


def write_review(stack_dir: Path, plan: dict[str, Any], result: Any, title: str) -> Path:
    """Write the plan review (``review.md``, the pull-request comment) of every plan the orchestrator makes.
    Values are masked and every secret the plan holds is scrubbed (compliance/review.py)."""
    from compliance.review import render_review

    review = Path(stack_dir) / REVIEW_FILE
    review.write_text(render_review(plan, gate=result, title=title))
    return review


def health_checks(state: dict[str, Any], settings: EnvironmentSettings | None, target: Target | None
                  ) -> list[tuple[str, bool, str]]:
    """boto3 checks of what the state holds: VPCs available, NAT gateways available, load balancers active, DB
    instances available, S3 buckets reachable, KMS keys enabled. Only what the stack has is checked."""
    assert settings is not None and target is not None
    regions = {"dr": settings.dr_region, "us_east_1": "us-east-1"}
    out: list[tuple[str, bool, str]] = []
    clients: dict[tuple[str, str], Any] = {}

    def c(service: str, region: str) -> Any:
        if (service, region) not in clients:
            clients[(service, region)] = client(service, region, target.endpoint)
        return clients[(service, region)]

    for res in state.get("resources", []):
        if res.get("mode") != "managed":
            continue
        rtype, provider = res["type"], res.get("provider", "")
        alias = provider.rsplit("].", 1)[1] if "]." in provider else ""
        region = regions.get(alias, settings.region)
        for inst in res.get("instances", []):
            a = inst.get("attributes") or {}
            address = f"{res.get('module') + '.' if res.get('module') else ''}{rtype}.{res['name']}"
            try:
                if rtype == "aws_vpc":
                    st = c("ec2", region).describe_vpcs(VpcIds=[a["id"]])["Vpcs"][0]["State"]
                    out.append((address, st == "available", f"VPC {a['id']} {st}"))
                elif rtype == "aws_nat_gateway":
                    st = c("ec2", region).describe_nat_gateways(NatGatewayIds=[a["id"]])["NatGateways"][0]["State"]
                    out.append((address, st == "available", f"NAT gateway {a['id']} {st}"))
                elif rtype == "aws_lb":
                    lb = c("elbv2", region).describe_load_balancers(LoadBalancerArns=[a["arn"]])["LoadBalancers"][0]
                    out.append((address, lb["State"]["Code"] == "active", f"load balancer {lb['State']['Code']}"))
                elif rtype == "aws_db_instance":
                    db = c("rds", region).describe_db_instances(DBInstanceIdentifier=a["identifier"])["DBInstances"][0]
                    out.append((address, db["DBInstanceStatus"] == "available",
                                f"DB {a['identifier']} {db['DBInstanceStatus']}"))
                elif rtype == "aws_s3_bucket":
                    c("s3", region).head_bucket(Bucket=a["bucket"])
                    out.append((address, True, f"bucket {a['bucket']} reachable"))
                elif rtype == "aws_kms_key":
                    st = c("kms", region).describe_key(KeyId=a["key_id"])["KeyMetadata"]["KeyState"]
                    out.append((address, st == "Enabled", f"KMS key {st}"))
            except Exception as exc:  # noqa: BLE001 - a failed lookup is a failed check
                out.append((address, False, f"{type(exc).__name__}: {_first_line(str(exc))}"))
    if not any(a.startswith("aws_vpc.") or ".aws_vpc." in a or "aws_vpc" in a for a, _, _ in out):
        out.append(("aws_vpc", False, "no VPC in the state after apply"))
    return out


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _blockers(result: Any) -> str:
    if result.errors:
        return "; ".join(result.errors)[:300]
    items = [f"{f.check_id} {f.resource}" + (f" ({f.detail})" if f.source == "guard" and f.detail else "")
             for f in result.blocking]
    return ", ".join(items[:8]) + (f" and {len(items) - 8} more" if len(items) > 8 else "")
