"""The CI roles of every environment against the workflows, both directions (issue 14): tools/ci_identity.py."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from ci_identity import check, load_jobs, replace_table, role_trust, top_level_problems, trust_table  # noqa: E402
WORKFLOWS = ROOT / ".github" / "workflows"


def test_every_job_presents_a_trusted_subject_and_every_trusted_subject_is_used(synth_aws: dict) -> None:
    jobs = load_jobs(WORKFLOWS)
    assert {(j.workflow, j.name) for j in jobs if j.assumes} >= {
        ("deploy.yml", "deploy"), ("deploy.yml", "prod-plan"), ("deploy.yml", "prod"), ("drift.yml", "drift"),
        ("drift.yml", "correct"), ("pr.yml", "plan")}
    assert set(synth_aws) == {"dev", "staging", "prod"}
    for env, doc in synth_aws.items():
        assert set(role_trust(doc)) == {"deploy", "plan"}, env
    assert check(jobs, synth_aws) == []
    assert top_level_problems(WORKFLOWS) == []


def test_plan_role_reads_the_sse_kms_state(synth_aws: dict) -> None:
    for env, doc in synth_aws.items():
        policies = [p for p in doc["resource"]["aws_iam_role_policy"].values() if p["name"] == "terraform-state-lock"]
        (policy,) = policies
        kms = next(s for s in json.loads(policy["policy"])["Statement"] if s["Sid"] == "StateKeyThroughS3")
        assert set(kms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}, env
        assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"


def _mutated(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "wf"
    out.mkdir()
    for path in WORKFLOWS.glob("*.yml"):
        doc = yaml.safe_load(path.read_text())
        edit(path.name, doc)
        (out / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def test_a_deploy_job_without_its_environment_is_refused(synth_aws: dict, tmp_path: Path) -> None:
    def drop_env(name: str, doc: dict[str, Any]) -> None:
        if name == "deploy.yml":
            del doc["jobs"]["prod"]["environment"]

    problems = check(load_jobs(_mutated(tmp_path, drop_env)), synth_aws)
    assert any("job prod (push): presents repo:example-org/webplatform:ref:refs/heads/main, which "
               "webplatform-prod-ci-deploy (prod) does not trust" in p for p in problems), problems
    # and prod's deploy subject is now presented by no job: the other direction
    assert any("webplatform-prod-ci-deploy (prod) trusts repo:example-org/webplatform:environment:prod, but no "
               "workflow job" in p for p in problems), problems


def test_a_role_trusting_more_than_the_workflows_use_is_refused(synth_aws: dict) -> None:
    wider = copy.deepcopy(synth_aws)
    role = next(r for r in wider["dev"]["resource"]["aws_iam_role"].values() if r["name"].endswith("-ci-plan"))
    policy = json.loads(role["assume_role_policy"])
    policy["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"].append(
        "repo:example-org/webplatform:ref:refs/heads/feature")
    role["assume_role_policy"] = json.dumps(policy)
    problems = check(load_jobs(WORKFLOWS), wider)
    assert problems == ["webplatform-dev-ci-plan (dev) trusts repo:example-org/webplatform:ref:refs/heads/feature, "
                        "but no workflow job assuming it presents that subject: the trust is wider than the "
                        "workflows need"]


def test_unpinned_dispatch_idle_tokens_and_pull_request_target_are_refused(synth_aws: dict, tmp_path: Path) -> None:
    def loosen(name: str, doc: dict[str, Any]) -> None:
        if name == "drift.yml":
            del doc["jobs"]["drift"]["if"]                         # dispatch from any branch
        if name == "pr.yml":
            doc["jobs"]["tests"]["permissions"]["id-token"] = "write"
            doc[True]["pull_request_target"] = None
            doc["permissions"] = {"contents": "read"}

    wf = _mutated(tmp_path, loosen)
    problems = check(load_jobs(wf), synth_aws) + top_level_problems(wf)
    text = "\n".join(problems)
    assert "drift.yml job drift (workflow_dispatch): presents repo:example-org/webplatform:ref:refs/heads/*" in text
    assert "pr.yml job tests: id-token: write without assuming a role" in text
    assert "pr.yml: pull_request_target runs fork code" in text
    assert "pr.yml: top-level permissions must be {}" in text


def test_docs_trust_table_is_current(synth_aws: dict) -> None:
    doc = ROOT / "docs" / "delivery.md"
    text = doc.read_text()
    table = trust_table(load_jobs(WORKFLOWS), synth_aws)
    assert "| `pr.yml` | `plan` | pull_request | prod | `webplatform-prod-ci-plan` |" in table
    assert replace_table(text, table) == text, (
        "docs/delivery.md trust table is stale: python tools/ci_identity.py --write docs/delivery.md")


def test_ci_role_command_names_the_synthesized_roles(synth_aws: dict) -> None:
    import subprocess
    import sys

    for env, doc in synth_aws.items():
        names = {name for name, _ in role_trust(doc).values()}
        for role in ("deploy", "plan"):
            run = subprocess.run([sys.executable, "main.py", "ci", "role", "--env", env, "--role", role], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
            arn, region = run.stdout.splitlines()
            account = doc["provider"]["aws"][0]["allowed_account_ids"][0]
            assert arn.startswith(f"arn=arn:aws:iam::{account}:role/") and arn.rsplit("/", 1)[1] in names
            assert region == "region=us-east-1"
