"""The CI trust model: which workflow job assumes which role of which environment, presenting which OIDC subject.

The roles trust the subjects of one rule (``modules.security.iam.ci_subjects``); this module reads the other side, the
workflows in ``.github/workflows/*.yml``, and checks the two against each other in both directions
(``tests/test_ci_identity.py``, over the synthesized roles of every environment):

- every job that assumes a role presents only subjects that role trusts (else the job cannot run);
- every subject a role trusts is presented by a job assuming that role (else the trust is wider than needed);
- no job holds ``id-token: write`` without assuming a role, no workflow grants it at the top level, and no
  ``pull_request_target`` workflow exists (a fork's code must never run with a token of this repository: GitHub
  issues no OIDC token to ``pull_request`` runs from forks, so they take the emulator path).

Subjects, as GitHub forms them (https://docs.github.com/en/actions/reference/security/oidc): a job that declares an
``environment:`` presents ``repo:OWNER/REPO:environment:NAME`` whatever its trigger; otherwise ``pull_request``
events present ``repo:OWNER/REPO:pull_request`` and push / schedule / workflow_dispatch runs present
``repo:OWNER/REPO:ref:refs/heads/BRANCH``. Scheduled runs are on the default branch (``main`` here); a
``workflow_dispatch`` may name any branch unless the job's ``if`` pins ``github.ref``. AWS matches ``sub`` and
``aud`` only (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html).

A job says which role it assumes with the step ``python main.py ci role --env E --role deploy|plan``, whose output
feeds ``aws-actions/configure-aws-credentials``; the role ARN is derived from the environment's settings (account,
name prefix), never typed into a repository variable.

``python tools/ci_identity.py --write docs/delivery.md`` regenerates the trust table in the docs (between the
``ci-trust-model`` markers); the test fails when the docs differ. A development tool: not shipped in the package.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the checkout's packages importable

OIDC_SUB = "token.actions.githubusercontent.com:sub"
DEFAULT_BRANCH = "main"
ROLE_STEP = re.compile(r"python main\.py ci role --env (\S+) --role (deploy|plan)")
REF_PIN = re.compile(r"github\.ref\s*==\s*'refs/heads/([^']+)'")
EVENT_PIN = re.compile(r"github\.event_name\s*==\s*'([a-z_]+)'")
MATRIX_REF = re.compile(r"^\$\{\{\s*matrix\.(\w+)\s*\}\}$")
BEGIN, END = "<!-- ci-trust-model:begin (python tools/ci_identity.py --write docs/delivery.md) -->", \
    "<!-- ci-trust-model:end -->"


@dataclass(frozen=True)
class Assumption:
    """One job assuming one role of one environment with one subject."""

    workflow: str
    job: str
    trigger: str
    env: str
    role: str
    subject: str


@dataclass(frozen=True)
class Job:
    workflow: str
    name: str
    triggers: tuple[str, ...]
    environment: tuple[str, ...]          # resolved GitHub environment names ((), when none is declared)
    ref_pin: str | None                   # the branch the job's `if` pins, if any
    id_token: bool
    assumes: tuple[tuple[str, str], ...]  # (platform env, role)


def _triggers(doc: Mapping[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {t: None for t in on}
    return dict(on or {})


def _resolve(token: str, job: Mapping[str, Any], step: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """A command-line token (a literal, or "$VAR" set from `${{ matrix.X }}`) -> its values."""
    token = token.strip("\"'")
    m = MATRIX_REF.match(token)
    if m:
        return [str(v) for v in job["strategy"]["matrix"][m.group(1)]]
    if token.startswith("$") and not token.startswith("${{"):
        var = token.lstrip("${").rstrip("}")
        for scope in (step.get("env") or {}, job.get("env") or {}, doc.get("env") or {}):
            if var in scope:
                return _resolve(str(scope[var]), job, step, doc)
        raise ValueError(f"{token}: not set in the step, job or workflow env")
    if "${{" in token:
        raise ValueError(f"{token}: only literals and ${{{{ matrix.X }}}} are understood")
    return [token]


def load_jobs(workflows_dir: Path) -> list[Job]:
    jobs: list[Job] = []
    for path in sorted(Path(workflows_dir).glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        triggers = tuple(_triggers(doc))
        for name, job in (doc.get("jobs") or {}).items():
            env_decl = job.get("environment")
            if isinstance(env_decl, Mapping):
                env_decl = env_decl.get("name")
            environment = tuple(_resolve(str(env_decl), job, {}, doc)) if env_decl else ()
            pin = REF_PIN.search(str(job.get("if", "")))
            event = EVENT_PIN.search(str(job.get("if", "")))
            job_triggers = tuple(t for t in triggers if event is None or t == event.group(1))
            assumes: list[tuple[str, str]] = []
            for step in job.get("steps") or ():
                m = ROLE_STEP.search(str(step.get("run", "")))
                if m:
                    assumes += [(env, m.group(2)) for env in _resolve(m.group(1), job, step, doc)]
            perms = job.get("permissions") or {}
            jobs.append(Job(workflow=path.name, name=name, triggers=job_triggers, environment=environment,
                            ref_pin=pin.group(1) if pin else None,
                            id_token=isinstance(perms, Mapping) and perms.get("id-token") == "write",
                            assumes=tuple(assumes)))
    return jobs


def presented_subjects(job: Job, repository: str, env: str) -> list[tuple[str, str]]:
    """(trigger, subject) pairs the job's OIDC token can carry when it works on ``env``."""
    if job.environment:
        # the job's environment is per matrix entry: the entry working on `env` declares environment `env`
        names = [env] if env in job.environment else list(job.environment)
        return [(t, f"repo:{repository}:environment:{n}") for t in job.triggers for n in names]
    out: list[tuple[str, str]] = []
    for trigger in job.triggers:
        if trigger == "pull_request":
            if job.ref_pin is None:  # a job pinned to a branch ref is skipped on pull requests
                out.append((trigger, f"repo:{repository}:pull_request"))
        elif trigger == "schedule":
            out.append((trigger, f"repo:{repository}:ref:refs/heads/{job.ref_pin or DEFAULT_BRANCH}"))
        elif trigger in ("push", "workflow_dispatch"):
            # push filters are checked by the job's pin; a dispatch can name any branch unless the job pins one
            out.append((trigger, f"repo:{repository}:ref:refs/heads/{job.ref_pin or '*'}"))
        else:
            out.append((trigger, f"repo:{repository}:<{trigger}>"))
    return out


def role_trust(doc: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """role kind (deploy|plan) -> (role name, exact subjects it trusts) from one synthesized stack."""
    out: dict[str, tuple[str, list[str]]] = {}
    for res in (doc.get("resource", {}).get("aws_iam_role") or {}).values():
        name = str(res.get("name", ""))
        kind = next((k for k in ("deploy", "plan") if name.endswith(f"-ci-{k}")), None)
        if kind is None:
            continue
        subjects: list[str] = []
        for st in json.loads(res["assume_role_policy"])["Statement"]:
            cond = st.get("Condition", {})
            if set(cond) - {"StringEquals"}:
                subjects.append(f"<non-exact condition {sorted(cond)}>")  # a wildcard admits unknown jobs
            value = cond.get("StringEquals", {}).get(OIDC_SUB, [])
            subjects += [value] if isinstance(value, str) else list(value)
        out[kind] = (name, subjects)
    return out


def repository_of(trust: Mapping[str, tuple[str, list[str]]]) -> str:
    subjects = [s for _, subs in trust.values() for s in subs if s.startswith("repo:")]
    return subjects[0].split(":")[1] if subjects else ""


def assumptions(jobs: Iterable[Job], repositories: Mapping[str, str]) -> list[Assumption]:
    out = []
    for job in jobs:
        for env, role in job.assumes:
            for trigger, subject in presented_subjects(job, repositories.get(env, "?"), env):
                out.append(Assumption(job.workflow, job.name, trigger, env, role, subject))
    return out


def check(jobs: list[Job], synthesized: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every mismatch between the workflows and the roles of every synthesized environment."""
    problems: list[str] = []
    trust = {env: role_trust(doc) for env, doc in synthesized.items()}
    repos = {env: repository_of(t) for env, t in trust.items()}
    used: set[tuple[str, str, str]] = set()
    for a in assumptions(jobs, repos):
        if a.env not in trust:
            problems.append(f"{a.workflow} job {a.job}: assumes a role of unknown environment {a.env!r}")
            continue
        if a.role not in trust[a.env]:
            problems.append(f"{a.workflow} job {a.job}: environment {a.env} has no ci-{a.role} role")
            continue
        name, subjects = trust[a.env][a.role]
        if a.subject in subjects:
            used.add((a.env, a.role, a.subject))
        else:
            problems.append(f"{a.workflow} job {a.job} ({a.trigger}): presents {a.subject}, which {name} "
                            f"({a.env}) does not trust (it trusts {subjects})")
    for env, roles in trust.items():
        for role, (name, subjects) in roles.items():
            for subject in subjects:
                if (env, role, subject) not in used:
                    problems.append(f"{name} ({env}) trusts {subject}, but no workflow job assuming it presents "
                                    "that subject: the trust is wider than the workflows need")
    for job in jobs:
        if job.id_token and not job.assumes:
            problems.append(f"{job.workflow} job {job.name}: id-token: write without assuming a role")
        if job.assumes and not job.id_token:
            problems.append(f"{job.workflow} job {job.name}: assumes a role without id-token: write")
        if job.environment and job.assumes and any(r != "deploy" for _, r in job.assumes):
            problems.append(f"{job.workflow} job {job.name}: declares an environment but assumes the plan role")
        if job.environment and not any(r == "deploy" for _, r in job.assumes) and job.id_token:
            problems.append(f"{job.workflow} job {job.name}: declares an environment with id-token: write "
                            "without being a deploy job")
        if "pull_request_target" in job.triggers:
            problems.append(f"{job.workflow}: pull_request_target runs fork code with the repository's token")
    return problems


def top_level_problems(workflows_dir: Path) -> list[str]:
    problems = []
    for path in sorted(Path(workflows_dir).glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        if doc.get("permissions") != {}:
            problems.append(f"{path.name}: top-level permissions must be {{}} (each job names its own)")
    return problems


def trust_table(jobs: list[Job], synthesized: Mapping[str, Mapping[str, Any]]) -> str:
    trust = {env: role_trust(doc) for env, doc in synthesized.items()}
    repos = {env: repository_of(t) for env, t in trust.items()}
    rows = sorted({(a.workflow, a.job, a.trigger, a.env, trust.get(a.env, {}).get(a.role, ("?", []))[0], a.subject)
                   for a in assumptions(jobs, repos)})
    lines = ["| workflow | job | trigger | environment | role assumed | OIDC subject presented (and trusted) |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| `{w}` | `{j}` | {t} | {e} | `{r}` | `{s}` |" for w, j, t, e, r, s in rows]
    return "\n".join(lines) + "\n"


def replace_table(text: str, table: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="check the workflows against the CI roles; write the table")
    parser.add_argument("--workflows", default=".github/workflows")
    parser.add_argument("--write", metavar="DOC", help="replace the trust table in DOC")
    args = parser.parse_args(argv)
    import tempfile

    import envs
    from envs.target import AWS

    from pipeline.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        result = synthesize(envs.load_all(), AWS, Path(tmp), commit="0" * 12)
        synthesized = {name: json.loads(p.read_text()) for name, p in result.stacks.items()}
    jobs = load_jobs(Path(args.workflows))
    problems = check(jobs, synthesized) + top_level_problems(Path(args.workflows))
    for p in problems:
        print(f"mismatch: {p}", file=sys.stderr)
    table = trust_table(jobs, synthesized)
    if args.write:
        doc = Path(args.write)
        doc.write_text(replace_table(doc.read_text(), table))
        print(f"trust table: {doc}")
    else:
        print(table, end="")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
