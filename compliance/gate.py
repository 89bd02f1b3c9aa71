"""The compliance gate: one gate, two stages.

- static (:meth:`Gate.scan_tf_json`): ONE Checkov process (``terraform_json``) over every given file/folder, plus
  the project's checks in-process (run while Checkov works).
- plan (:meth:`Gate.scan_plan`): ONE Checkov process (``terraform_plan``) over every plan JSON, plus the project's
  checks plus the stateful-change guard.

Severities come from ``compliance/policy/severities.toml``, what blocks from ``compliance/policy/<env>.toml``
(``None`` = prod, the strictest), waivers from ``compliance/waivers.toml`` (or ``waivers_file``).

Verdicts: PASSED, BLOCKED (exit 1), ERROR (a scanner failed, exit 3), INCOMPLETE (fewer scanners ran than the gate
names: only the Python API's ``run_checkov=False``; exit 3 in every environment, with a line saying so in every
output format).  A project check that cannot decide before apply gives an UNKNOWN finding
(``Finding.result == "UNKNOWN"``) that blocks in protected environments (policy key ``protected``) and warns
elsewhere.  There is no environment variable or CLI flag that turns a scanner off.

Exceptions: :class:`compliance.engine.InputError` (unreadable/invalid input) and
:class:`compliance.policy.PolicyError` (unknown environment, broken policy) are bad input (CLI exit 2).  A scanner
failure is never an exception: it is in ``GateResult.errors`` and makes ``exit_code`` 3.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from compliance import engine
from compliance.checkov_runner import CheckovJob, CheckovRun, checkov_resource_types, index_for
from compliance.guards import GUARD_ID, stateful_changes
from compliance.policy import EnvPolicy, Severities, load_organisation, load_policy, load_severities
from compliance.waivers import Waiver, load_waivers

__all__ = ["Stage", "Finding", "GateResult", "Gate", "Waiver"]

WAIVER_CHECK_ID = "PLAT_WAIVER_INVALID"


class Stage(enum.Enum):
    STATIC = "static"
    PLAN = "plan"


@dataclass(frozen=True)
class Finding:
    check_id: str
    title: str
    severity: str                 # INFO | LOW | MEDIUM | HIGH | CRITICAL (the project's, see severities.toml)
    resource: str                 # Terraform address ("provider.aws" for provider checks, file#entry for waivers)
    file: str
    stage: Stage
    status: str                   # "failed" | "waived" | "approved"
    blocking: bool
    source: str                   # "checkov" | "project" | "guard" | "waiver"
    waiver: Waiver | None = None
    guideline: str | None = None
    action: str = "block"         # policy verdict before waivers: "block" | "warn" | "info"
    detail: str | None = None     # e.g. the attribute path of a plaintext secret (never its value)
    result: str = "FAILED"        # "FAILED" | "UNKNOWN" (the check could not decide: value known only after apply)
    environment: str | None = None  # the environment whose policy judged it (None: the gate's own)

    @property
    def level(self) -> str:
        """What the finding does now: block, warn, info, or waived/approved."""
        if self.status != "failed":
            return self.status
        return "block" if self.blocking else self.action


@dataclass(frozen=True)
class GateResult:
    stage: Stage
    environment: str | None
    findings: tuple[Finding, ...]
    passed_count: int
    resources_scanned: int
    errors: tuple[str, ...]
    unknown_count: int = 0                      # project-check verdicts that depend on values known after apply
    inputs: tuple[str, ...] = ()
    checkov_version: str | None = None
    policy: str = "prod"                        # the policy file's environment actually applied
    missing_scanners: tuple[str, ...] = ()      # scanners the gate names that did not run (verdict INCOMPLETE)
    protected: bool = True                      # policy: UNKNOWN blocks and an incomplete scan cannot pass

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 3
        if self.blocking:
            return 1    # blocked whatever the missing scanner would have added
        return 3 if self.missing_scanners else 0

    @property
    def notices(self) -> tuple[str, ...]:
        """Lines every output format prints: what this gate did not see."""
        return tuple(f"INCOMPLETE: scanner {s} did not run; "
                     + "no environment passes without it (exit 3)" for s in self.missing_scanners)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "failed")

    @property
    def waived(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status in ("waived", "approved"))

    @property
    def verdict(self) -> str:
        if self.errors:
            return "ERROR"
        if self.blocking:
            return "BLOCKED"
        return "INCOMPLETE" if self.missing_scanners else "PASSED"


class Gate:
    def __init__(self, environment: str | None, *, waivers_file: Path | None = None, approvals: Iterable[str] = (),
                 checkov_timeout: float = 600, run_checkov: bool = True, severities_file: Path | None = None,
                 policy_dir: Path | None = None, file_environments: Mapping[str | Path, str] | None = None) -> None:
        """``file_environments`` (input file -> environment) applies each environment's own policy and waivers to
        the findings of its file, so several environments share one Checkov process; other files get
        ``environment``'s."""
        self.environment = environment
        self.policy: EnvPolicy = load_policy(environment, policy_dir)
        self.file_environments = {_key(f): env for f, env in (file_environments or {}).items()}
        self._policies = {env: load_policy(env, policy_dir) for env in set(self.file_environments.values())}
        self.severities: Severities = load_severities(severities_file)
        from compliance.checks import required_tags

        required_tags.configure(load_organisation(policy_dir).required_tags)  # the organisation's tags
        self.waivers, self.waiver_problems = load_waivers(waivers_file, severities=self.severities)
        self.waivers_file = waivers_file
        self.approvals = tuple(approvals)
        self.checkov_timeout = checkov_timeout
        # ``run_checkov=False`` is for library users who want the project's checks alone: the result then names
        # Checkov as missing (verdict INCOMPLETE, exit 3 in protected environments). No environment variable can
        # turn a scanner off.
        self.run_checkov = bool(run_checkov)

    # ------------------------------------------------------------------------------------------ stages
    def scan_tf_json(self, paths: Sequence[Path]) -> GateResult:
        files = engine.expand_paths(paths, plan=False)
        if not files:
            raise engine.InputError(f"no *.tf.json file under {', '.join(str(p) for p in paths)}; "
                                    f"synthesize first or pass a Terraform JSON file")
        try:
            loaded = engine.load_tf_json(files)
            return self._scan(Stage.STATIC, "terraform_json", files, loaded)
        except RecursionError:
            raise engine.InputError(f"{', '.join(str(f) for f in files[:5])}: JSON nested too deeply to judge; pass "
                                    f"an unmodified Terraform JSON") from None

    def scan_plan(self, plan_files: Sequence[Path]) -> GateResult:
        files = engine.expand_paths(plan_files, plan=True)
        if not files:
            raise engine.InputError(f"no plan JSON under {', '.join(str(p) for p in plan_files)}; create one with "
                                    f"`terraform show -json PLANFILE > plan.json`")
        loaded = engine.load_plans(files)   # validates each plan's shape first (compliance.planshape)
        try:
            return self._scan(Stage.PLAN, "terraform_plan", files, loaded)
        except RecursionError:
            raise engine.InputError(f"{', '.join(str(f) for f in files[:5])}: JSON nested too deeply to judge; pass "
                                    f"an unmodified `terraform show -json` plan") from None

    # ------------------------------------------------------------------------------------------ internals
    def _scan(self, stage: Stage, framework: str, files: list[Path], loaded: engine.LoadedInput) -> GateResult:
        live = [r for r in loaded.resources if r.actions not in (("delete",), ("forget",))]
        # Checkov starts first (a child process: see CheckovJob), the project's checks run here meanwhile, then its
        # report is read.  Checkov's registry is loaded before the start, so a forked child inherits it.
        job: CheckovJob | None = None
        if self.run_checkov:
            known = checkov_resource_types()
            job = CheckovJob(framework, files, timeout=self.checkov_timeout)
        try:
            outcomes = engine.evaluate(loaded)
        finally:
            if job is not None:
                idx = index_for(loaded.resources) if stage is Stage.STATIC else None
                ck = job.finish(resource_index=idx, expect_resources=sum(1 for r in live if r.rtype in known))
            else:
                ck = CheckovRun()
        findings: list[Finding] = []
        passed = 0
        unknown = 0
        for o in outcomes:
            if o.result == "PASSED":
                passed += 1
            elif o.result == "FAILED":
                findings.append(self._finding(o.check.ID, o.check.NAME, o.resource.address, o.resource.file, stage,
                                              "project", o.check.GUIDELINE, o.detail))
            else:
                unknown += 1
                findings.append(self._finding(o.check.ID, f"UNKNOWN until apply: {o.check.NAME}", o.resource.address,
                                              o.resource.file, stage, "project", o.check.GUIDELINE, o.detail,
                                              result="UNKNOWN"))
        for r in ck.results:
            if not self.severities.applies(r.check_id, stage.value):
                continue
            if r.result == "PASSED":
                passed += 1
            elif r.result == "FAILED":
                findings.append(self._finding(r.check_id, r.title, r.resource, r.file, stage, "checkov", r.guideline))
        if stage is Stage.PLAN:
            for file, plan in loaded.plans:
                for address, kind in stateful_changes(plan, protected=self._protected([Path(file)])):
                    findings.append(self._guard_finding(address, kind, file))
        for p in self.waiver_problems:
            findings.append(Finding(WAIVER_CHECK_ID, p.message, "CRITICAL", p.source.split("#", 1)[-1]
                                    if "#" in p.source else p.source, p.source.split("#", 1)[0], stage,
                                    "failed", True, "waiver", None, None, "block"))
        findings.sort(key=lambda f: (not f.blocking, f.status != "failed", -_rank(f.severity), f.check_id, f.resource,
                                     f.file))
        return GateResult(stage=stage, environment=self.environment, findings=tuple(findings), passed_count=passed,
                          resources_scanned=len(live), errors=tuple(ck.errors), unknown_count=unknown,
                          inputs=tuple(str(f) for f in files), checkov_version=ck.version,
                          policy=", ".join(sorted(self._policies)) if self._policies else self.policy.environment,
                          missing_scanners=() if self.run_checkov else ("checkov",),
                          protected=self._protected(files))

    def _protected(self, files: list[Path]) -> bool:
        """Whether any input is judged under a protected policy (then an incomplete scan cannot pass)."""
        pols = [self._policies[self.file_environments[_key(f)]] if _key(f) in self.file_environments else self.policy
                for f in files]
        return any(p.protected for p in pols) or not pols

    def _finding(self, check_id: str, title: str, address: str, file: str, stage: Stage, source: str,
                 guideline: str | None, detail: str | None = None, result: str = "FAILED") -> Finding:
        severity = self.severities.of(check_id)
        environment = self.file_environments.get(_key(file), self.environment)
        policy = self._policies.get(environment, self.policy) if environment is not None else self.policy
        action = policy.action(severity)
        if result == "UNKNOWN" and action == "block" and not policy.protected:
            action = "warn"   # an undecidable check warns outside protected environments
        for w in self.waivers:
            if w.matches(check_id, address, environment):
                return Finding(check_id, title, severity, address, file, stage, "waived", False, source, w, guideline,
                               action, detail, result, environment)
        return Finding(check_id, title, severity, address, file, stage, "failed", action == "block", source, None,
                       guideline, action, detail, result, environment)

    def _guard_finding(self, address: str, kind: str, file: str) -> Finding:
        severity = self.severities.of(GUARD_ID)
        title = f"Plan would {kind} stateful resource {address}; approve the address explicitly to allow it"
        approved = address in self.approvals  # exact addresses only: a glob would approve by accident
        if approved:
            return Finding(GUARD_ID, title, severity, address, file, Stage.PLAN, "approved", False, "guard", None, None,
                           "block", kind)
        return Finding(GUARD_ID, title, severity, address, file, Stage.PLAN, "failed", True, "guard", None, None,
                       "block", kind)


def _key(file: str | Path) -> str:
    return str(Path(file).resolve())


def _rank(sev: str) -> int:
    from compliance.policy import RANK
    return RANK.get(sev, 0)
