from __future__ import annotations

import datetime as dt
import json
import sys
import textwrap
from pathlib import Path

import pytest

from compliance import engine
from compliance.gate import Gate, Stage
from compliance.guards import PlanRefused, check_plan_for_apply, saved_plan_state, stateful_changes

FX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def acceptance():
    return Gate(None).scan_plan([FX / "ACCEPT_provider_docs" / "tfplan.json", FX / "ACCEPT_replaced_db" / "tfplan.json"])


def blocking_ids(result):
    return {(f.check_id, f.resource) for f in result.blocking}


def test_third_party_noncompliant_inputs_blocked(acceptance):
    b = blocking_ids(acceptance)
    assert acceptance.exit_code == 1
    # public bucket
    assert ("CKV_AWS_20", "aws_s3_bucket.example") in b
    assert ("PLAT_S3_003", "aws_s3_bucket_public_access_block.example") in b
    # open SSH
    assert ("CKV_AWS_24", "aws_security_group.allow_ssh") in b
    assert ("PLAT_NET_001", "aws_security_group.allow_ssh") in b
    # unencrypted database with a plaintext password
    assert ("CKV_AWS_16", "aws_db_instance.default") in b
    assert ("PLAT_ENC_001", "aws_db_instance.default") in b
    assert ("PLAT_SEC_001", "aws_db_instance.default") in b
    # missing tags
    assert ("PLAT_TAG_001", "aws_security_group.allow_ssh") in b
    # a replaced database
    assert ("PLAT_GUARD_STATEFUL", "aws_db_instance.orders") in b


def test_replaced_db_is_a_real_replacement():
    plan = json.loads((FX / "ACCEPT_replaced_db" / "tfplan.json").read_text())
    assert stateful_changes(plan) == [("aws_db_instance.orders", "replace")]


def test_guard_and_approvals():
    plan_file = FX / "PLAT_GUARD_STATEFUL" / "tfplan.json"
    plan = json.loads(plan_file.read_text())
    assert sorted(stateful_changes(plan)) == [("aws_cloudwatch_log_group.fail_replaced_logs", "replace"),
                                             ("aws_s3_bucket.fail_deleted_bucket", "delete"),
                                             ("aws_sqs_queue.fail_approved_replaced_queue", "replace")]
    g = Gate("dev", run_checkov=False)
    r = g.scan_plan([plan_file])
    guard = {f.resource for f in r.blocking if f.check_id == "PLAT_GUARD_STATEFUL"}
    assert guard == {"aws_cloudwatch_log_group.fail_replaced_logs", "aws_s3_bucket.fail_deleted_bucket",
                     "aws_sqs_queue.fail_approved_replaced_queue"}
    r2 = Gate("dev", run_checkov=False, approvals=["aws_sqs_queue.fail_approved_replaced_queue"]).scan_plan([plan_file])
    approved = [f for f in r2.findings if f.status == "approved"]
    assert [f.resource for f in approved] == ["aws_sqs_queue.fail_approved_replaced_queue"]
    assert not approved[0].blocking


def test_policy_dev_warns_prod_blocks(fixtures_dir):
    f = fixtures_dir / "PLAT_RDS_001" / "cdk.tf.json"
    dev = Gate("dev", run_checkov=False).scan_tf_json([f])
    prod = Gate("prod", run_checkov=False).scan_tf_json([f])
    none = Gate(None, run_checkov=False).scan_tf_json([f])
    rds = lambda r: [x for x in r.findings if x.check_id == "PLAT_RDS_001"]
    assert rds(dev) and all(not x.blocking and x.level == "warn" for x in rds(dev))
    assert rds(prod) and all(x.blocking for x in rds(prod))
    assert [x.blocking for x in rds(none)] == [x.blocking for x in rds(prod)]
    # dev: nothing blocks (exit 3 only because Checkov did not run here); prod: the finding blocks
    assert not dev.blocking and dev.exit_code == 3 and prod.exit_code == 1


def test_unknown_environment_is_bad_input():
    from compliance.policy import PolicyError
    with pytest.raises(PolicyError, match="qa"):
        Gate("qa")


def write_waivers(tmp_path, body):
    p = tmp_path / "waivers.toml"
    p.write_text(textwrap.dedent(body))
    return p


def test_waivers_valid_expired_malformed(tmp_path, fixtures_dir):
    f = fixtures_dir / "PLAT_KMS_001" / "cdk.tf.json"
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    w = write_waivers(tmp_path, f"""
        [[waiver]]
        check = "PLAT_KMS_001"
        resource = "aws_kms_key.fail_*"
        reason = "legacy keys, rotation tracked in TICKET-1"
        owner = "security-team"
        expires = {future}
        """)
    r = Gate("prod", waivers_file=w, run_checkov=False).scan_tf_json([f])
    kms = [x for x in r.findings if x.check_id == "PLAT_KMS_001"]
    assert {x.status for x in kms} == {"waived"} and len(kms) == 2
    assert all(x.waiver.owner == "security-team" for x in kms)
    assert r.exit_code == 0 or all(x.check_id != "PLAT_KMS_001" for x in r.blocking)

    w2 = write_waivers(tmp_path, """
        [[waiver]]
        check = "PLAT_KMS_001"
        resource = "aws_kms_key.fail_*"
        reason = "r"
        owner = "o"
        expires = 2020-01-01

        [[waiver]]
        check = "PLAT_KMS_001"
        resource = "aws_kms_key.x"
        owner = "o"
        expires = "not-a-date"
        """)
    r2 = Gate("prod", waivers_file=w2, run_checkov=False).scan_tf_json([f])
    problems = [x for x in r2.findings if x.check_id == "PLAT_WAIVER_INVALID"]
    assert len(problems) == 2 and all(x.blocking for x in problems)
    msgs = " ".join(x.title for x in problems)
    assert "waiver #1" in msgs and "expires" in msgs and "2020-01-01" in msgs
    assert "waiver #2" in msgs and "reason" in msgs and str(w2) in msgs
    assert {x.status for x in r2.findings if x.check_id == "PLAT_KMS_001"} == {"failed"}


def test_saved_plan_freshness_and_environment():
    plan = json.loads((FX / "ACCEPT_replaced_db" / "tfplan.json").read_text())
    lineage, serial = saved_plan_state(FX / "ACCEPT_replaced_db" / "tfplan.bin")
    assert lineage and serial is not None
    tagged = dict(plan, configuration={**plan["configuration"], "provider_config": {"aws": {"name": "aws",
                  "expressions": {"default_tags": [{"tags": {"constant_value": {"Environment": "staging"}}}]}}}})
    ok = check_plan_for_apply(tagged, environment="staging", plan_file=FX / "ACCEPT_replaced_db" / "tfplan.bin",
                              current_state={"lineage": lineage, "serial": serial})
    assert ok.environment == "staging"
    with pytest.raises(PlanRefused, match="made for environment 'staging'"):
        check_plan_for_apply(tagged, environment="prod")
    with pytest.raises(PlanRefused, match="stale"):
        check_plan_for_apply(tagged, environment="staging", plan_file=FX / "ACCEPT_replaced_db" / "tfplan.bin",
                             current_state={"lineage": lineage, "serial": serial + 1})
    with pytest.raises(PlanRefused, match="lineage"):
        check_plan_for_apply(tagged, environment="staging", plan_state=(lineage, serial),
                             current_state={"lineage": "other", "serial": serial})
    with pytest.raises(PlanRefused, match="cannot tell"):
        check_plan_for_apply(plan, environment="prod")


def test_checkov_crash_is_exit_3(tmp_path, fixtures_dir, monkeypatch):
    import compliance.checkov_runner as cr
    fake = tmp_path / "fake_checkov.py"
    fake.write_text("import sys; print('Traceback: boom', file=sys.stderr); sys.exit(2)\n")
    monkeypatch.setattr(cr, "checkov_command", lambda fw, files, extra=(): [sys.executable, str(fake)])
    r = Gate(None).scan_tf_json([fixtures_dir / "PLAT_S3_001" / "cdk.tf.json"])
    assert r.exit_code == 3 and "exited with code 2" in r.errors[0]


def test_checkov_garbage_and_empty_scan_are_exit_3(tmp_path, fixtures_dir, monkeypatch):
    import compliance.checkov_runner as cr
    garbage = tmp_path / "g.py"
    garbage.write_text("print('not json at all')\n")
    monkeypatch.setattr(cr, "checkov_command", lambda fw, files, extra=(): [sys.executable, str(garbage)])
    r = Gate(None).scan_tf_json([fixtures_dir / "PLAT_S3_001" / "cdk.tf.json"])
    assert r.exit_code == 3 and "no parsable JSON" in r.errors[0]
    empty = tmp_path / "e.py"
    empty.write_text("import json; print(json.dumps({'passed': 0, 'failed': 0, 'skipped': 0, 'parsing_errors': 0,"
                     " 'resource_count': 0, 'checkov_version': 'x'}))\n")
    monkeypatch.setattr(cr, "checkov_command", lambda fw, files, extra=(): [sys.executable, str(empty)])
    r = Gate(None).scan_tf_json([fixtures_dir / "PLAT_S3_001" / "cdk.tf.json"])
    assert r.exit_code == 3 and "scanned 0 of the" in r.errors[0]


def test_checkov_timeout_is_exit_3(tmp_path, fixtures_dir, monkeypatch):
    import compliance.checkov_runner as cr
    slow = tmp_path / "s.py"
    slow.write_text("import time; time.sleep(30)\n")
    monkeypatch.setattr(cr, "checkov_command", lambda fw, files, extra=(): [sys.executable, str(slow)])
    r = Gate(None, checkov_timeout=1).scan_tf_json([fixtures_dir / "PLAT_S3_001" / "cdk.tf.json"])
    assert r.exit_code == 3 and "timed out" in r.errors[0]


def test_plan_and_tf_json_confusion_is_input_error(fixtures_dir):
    with pytest.raises(engine.InputError, match="plan JSON"):
        Gate(None, run_checkov=False).scan_tf_json([fixtures_dir / "PLAT_S3_001" / "tfplan.json"])
    with pytest.raises(engine.InputError, match="not a Terraform plan JSON"):
        Gate(None, run_checkov=False).scan_plan([fixtures_dir / "PLAT_S3_001" / "cdk.tf.json"])


def test_one_scan_applies_each_files_own_environment_policy(tmp_path: Path) -> None:
    """Several environments in one Checkov process: a HIGH finding blocks in prod's file and only warns in dev's."""
    from compliance.gate import Gate

    source = Path(__file__).parent / "fixtures" / "PLAT_RDS_001" / "cdk.tf.json"
    dev, prod = tmp_path / "dev" / "cdk.tf.json", tmp_path / "prod" / "cdk.tf.json"
    for target in (dev, prod):
        target.parent.mkdir()
        target.write_bytes(source.read_bytes())
    result = Gate(None, run_checkov=False, file_environments={str(dev): "dev", str(prod): "prod"}).scan_tf_json(
        [dev, prod])
    rds = [f for f in result.findings if f.check_id == "PLAT_RDS_001" and f.status == "failed"]
    assert {f.file for f in rds} == {str(dev), str(prod)}
    assert all(f.blocking for f in rds if f.file == str(prod))
    assert not any(f.blocking for f in rds if f.file == str(dev))
    assert result.policy == "dev, prod"


# --------------------------------------------------------------------------------------------- issue 11: the gate
# cannot be talked past (no scanner switch, UNKNOWN is a verdict, plan shape, scanned count)
def _sg_plan(tmp_path, cidr="10.0.0.0/8", unknown=False):
    """A one-resource plan in the shape `terraform show -json` writes (tags complete, rule described)."""
    tags = {"Environment": "t", "Project": "p", "Owner": "o", "CostCenter": "c", "ManagedBy": "m"}
    rule = {"cidr_ipv4": cidr, "description": "ssh", "from_port": 22, "to_port": 22, "ip_protocol": "tcp",
            "security_group_id": "sg-1", "tags": tags, "tags_all": tags}
    unk = {"id": True}
    exprs = {k: {"constant_value": v} for k, v in rule.items()}
    if unknown:
        del rule["cidr_ipv4"]
        unk["cidr_ipv4"] = True
        exprs["cidr_ipv4"] = {"references": ["aws_vpc.x.cidr_block", "aws_vpc.x"]}
    addr = "aws_vpc_security_group_ingress_rule.ssh"
    doc = {"format_version": "1.2", "terraform_version": "1.11.4",
           "planned_values": {"root_module": {"resources": [{"address": addr, "mode": "managed", "name": "ssh",
                                                             "type": addr.split(".")[0], "values": rule}]}},
           "resource_changes": [{"address": addr, "mode": "managed", "type": addr.split(".")[0], "name": "ssh",
                                 "change": {"actions": ["create"], "before": None, "after": rule,
                                            "after_unknown": unk}}],
           "configuration": {"root_module": {"resources": [{"address": addr, "mode": "managed", "name": "ssh",
                                                            "type": addr.split(".")[0], "expressions": exprs}]}}}
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(doc))
    return f


def test_no_environment_variable_turns_checkov_off(tmp_path, monkeypatch):
    import compliance.gate as gate_mod
    calls = []
    real = gate_mod.CheckovJob
    monkeypatch.setattr(gate_mod, "CheckovJob", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setenv("PLATFORM_GATE_NO_CHECKOV", "1")
    r = Gate("prod").scan_plan([_sg_plan(tmp_path)])
    assert calls and r.checkov_version and r.missing_scanners == ()
    assert r.verdict == "PASSED" and r.exit_code == 0


def test_fewer_scanners_is_incomplete_in_every_format(tmp_path):
    from compliance.report import FORMATS, render
    plan = _sg_plan(tmp_path)
    for env, code in (("prod", 3), ("staging", 3), (None, 3), ("dev", 3)):
        r = Gate(env, run_checkov=False).scan_plan([plan])
        assert r.verdict == "INCOMPLETE" and r.exit_code == code and r.missing_scanners == ("checkov",), env
        for fmt in FORMATS:
            assert "INCOMPLETE: scanner checkov did not run" in render([r], fmt), (env, fmt)
    # a blocking finding still blocks (exit 1) whatever the missing scanner would add
    r = Gate("prod", run_checkov=False).scan_plan([_sg_plan(tmp_path, cidr="0.0.0.0/0")])
    assert r.verdict == "BLOCKED" and r.exit_code == 1


def test_unknown_blocks_in_protected_environments_and_warns_in_dev(tmp_path):
    plan = _sg_plan(tmp_path, unknown=True)
    for env, blocks in (("prod", True), ("staging", True), (None, True), ("dev", False)):
        r = Gate(env, run_checkov=False).scan_plan([plan])
        net = [f for f in r.findings if f.check_id == "PLAT_NET_001"]
        assert len(net) == 1 and net[0].result == "UNKNOWN" and net[0].title.startswith("UNKNOWN until apply"), env
        assert net[0].blocking is blocks and net[0].level == ("block" if blocks else "warn"), env
        assert r.unknown_count == 1


def test_policy_protected_key_is_validated(tmp_path):
    from compliance.policy import PolicyError, load_policy
    (tmp_path / "x.toml").write_text('block_at = "LOW"\nprotected = "yes"\n')
    with pytest.raises(PolicyError, match="protected must be true or false"):
        load_policy("x", tmp_path)
    (tmp_path / "y.toml").write_text('block_at = "LOW"\n')
    assert load_policy("y", tmp_path).protected is True          # secure by default
    assert load_policy("dev").protected is False and load_policy("prod").protected and load_policy("staging").protected


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(errored=True), "errored"),
    (lambda d: d.pop("planned_values"), "planned_values"),
    (lambda d: d["resource_changes"][0].pop("type"), "type"),
    (lambda d: d["resource_changes"][0].pop("address"), "address"),
    (lambda d: d["resource_changes"][0]["change"].pop("actions"), "change.actions"),
    (lambda d: d.update(resource_changes={"x": 1}), "resource_changes"),
    (lambda d: d["resource_changes"].append("x"), "resource_changes[1]"),
    (lambda d: d["resource_changes"][0].update(change="create"), "change"),
    (lambda d: d.update(format_version="2.0"), "format_version"),
])
def test_plan_shape_is_validated_first(tmp_path, edit, field):
    f = _sg_plan(tmp_path)
    doc = json.loads(f.read_text())
    edit(doc)
    f.write_text(json.dumps(doc))
    with pytest.raises(engine.InputError) as exc:
        Gate("prod", run_checkov=False).scan_plan([f])
    assert str(f) in str(exc.value) and field in str(exc.value)


def test_deeply_nested_json_is_bad_input(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text('{"format_version": "1.2", "resource_changes": [], "x": ' + "[" * 50000 + "]" * 50000 + "}")
    with pytest.raises(engine.InputError, match="nested too deeply"):
        Gate("prod", run_checkov=False).scan_plan([f])


def test_scanned_count_is_the_inputs_own(tmp_path, monkeypatch):
    """Checkov reporting on fewer resources than the plan holds (of the types it checks) is exit 3."""
    import compliance.checkov_runner as cr
    fake = tmp_path / "c.py"
    fake.write_text("import json; print(json.dumps({'check_type': 'terraform_plan', 'results': {}, 'summary': "
                    "{'passed': 0, 'failed': 0, 'skipped': 0, 'parsing_errors': 0, 'resource_count': 0, "
                    "'checkov_version': 'x'}}))\n")
    monkeypatch.setattr(cr, "checkov_command", lambda fw, files, extra=(): [sys.executable, str(fake)])
    plan = _sg_plan(tmp_path)
    r = Gate("dev").scan_plan([plan])
    assert r.exit_code == 3 and "scanned 0 of the 1 resources" in r.errors[0]
