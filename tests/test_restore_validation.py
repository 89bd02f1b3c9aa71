"""Restore testing that validates: the validation function (``modules/data/functions/restore_validation/index.py``) and
its wiring (``modules/data/restore_validation.py``).

The function runs against real calls: RDS on the in-process emulator (moto's ``mock_aws``), with instances shaped
like a restore test's; AWS Backup's ``PutRestoreValidationResult`` is not implemented by moto 5.2.5 (it answers 404
"Not yet implemented"), so that call goes to a botocore ``Stubber`` holding the expected request: the request is
checked against the real service model and the exact parameters, and a call the test did not expect fails it. The
event is the documented ``Restore Job State Change`` shape
(https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.stub import ANY, Stubber

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "modules" / "data" / "functions" / "restore_validation" / "index.py"
ACCOUNT, REGION = "123456789012", "us-east-1"
PLAN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:webplatform_dev_restore_test-6e7f"


def _function() -> Any:
    spec = importlib.util.spec_from_file_location("restore_validation_index", CODE)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def event(db: str, status: str = "COMPLETED", kind: str = "RDS") -> dict[str, Any]:
    """A ``Restore Job State Change`` event of a restore testing job, as EventBridge delivers it."""
    return {
        "version": "0", "id": "0b0cd7a3-1f5c-4c1e-9e0b-c2e1f1b7b8a1", "detail-type": "Restore Job State Change",
        "source": "aws.backup", "account": ACCOUNT, "time": "2026-12-07T08:41:12Z", "region": REGION,
        "resources": [],
        "detail": {"restoreJobId": "7D1B2E3F-AAAA-BBBB-CCCC-0123456789AB", "backupSizeInBytes": "21474836480",
                   "creationDate": "2026-12-07T08:05:40.379Z", "iamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup",
                   "percentDone": 100.0, "resourceType": kind, "status": status,
                   "createdResourceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{db}",
                   "completionDate": "2026-12-07T08:40:58.114Z", "restoreTestingPlanArn": PLAN},
    }


@pytest.fixture
def rds() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("rds", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        for ident, encrypted, public in (("restored-ok", True, False), ("restored-public", True, True),
                                         ("restored-plain", False, False)):
            client.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t4g.micro",
                                      MasterUsername="dbadmin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20,
                                      StorageEncrypted=encrypted, PubliclyAccessible=public)
        yield client


@pytest.fixture
def backup() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("backup", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect(stub: Stubber, status: str, message: str) -> None:
    stub.add_response("put_restore_validation_result", {}, {
        "RestoreJobId": "7D1B2E3F-AAAA-BBBB-CCCC-0123456789AB", "ValidationStatus": status,
        "ValidationStatusMessage": message})


def test_a_private_encrypted_available_restore_is_reported_successful(rds: Any, backup: Any, capsys: Any) -> None:
    client, stub = backup
    expect(stub, "SUCCESSFUL", "restored instance is available, encrypted and private")
    result = _function().validate(event("restored-ok"), rds, client)
    assert result["validation"] == "SUCCESSFUL"
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["validation"] == "SUCCESSFUL" and line["restoreTestingPlanArn"] == PLAN


@pytest.mark.parametrize("db, message", [
    ("restored-public", "it is publicly accessible"),
    ("restored-plain", "storage is not encrypted"),
])
def test_a_public_or_unencrypted_restore_is_reported_failed(rds: Any, backup: Any, capsys: Any, db: str,
                                                            message: str) -> None:
    client, stub = backup
    expect(stub, "FAILED", message)
    assert _function().validate(event(db), rds, client)["validation"] == "FAILED"
    # the FAILED log line is what the metric filter `{ $.validation = "FAILED" }` counts for the alarm
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["validation"] == "FAILED"


def test_a_restored_instance_that_cannot_be_read_is_failed_never_successful(rds: Any, backup: Any) -> None:
    client, stub = backup
    stub.add_response("put_restore_validation_result", {}, {
        "RestoreJobId": "7D1B2E3F-AAAA-BBBB-CCCC-0123456789AB", "ValidationStatus": "FAILED",
        "ValidationStatusMessage": ANY})
    result = _function().validate(event("gone-already"), rds, client)
    assert result["validation"] == "FAILED" and "cannot describe gone-already" in result["message"]


def test_other_resource_types_are_not_vouched_for(rds: Any, backup: Any) -> None:
    client, stub = backup
    expect(stub, "FAILED", f"no validation for resource type 'EBS' (arn:aws:rds:{REGION}:{ACCOUNT}:db:x)")
    assert _function().validate(event("x", kind="EBS"), rds, client)["validation"] == "FAILED"


def test_jobs_that_did_not_complete_are_not_reported(rds: Any, backup: Any) -> None:
    client, _ = backup  # no response queued: any call to AWS Backup would fail the test
    assert _function().validate(event("restored-ok", status="FAILED"), rds, client)["validation"] == "SKIPPED"


def test_a_non_restore_event_is_refused(rds: Any, backup: Any) -> None:
    client, _ = backup
    with pytest.raises(ValueError, match="restoreJobId"):
        _function().validate({"detail": {}}, rds, client)


# -- the wiring, on the synthesized JSON of every environment ----------------------------------------------------

def _mine(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc.get("resource", {}).get(rtype, {}).items() if "restore-validation" in k}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_validates_its_restore_tests_and_alerts(synth_aws: dict, env: str) -> None:
    doc = synth_aws[env]
    (fn,) = _mine(doc, "aws_lambda_function").values()
    assert fn["runtime"] == "python3.12" and fn["handler"] == "index.handler"
    assert fn["filename"].endswith(".zip") and fn["source_code_hash"]
    (rule,) = _mine(doc, "aws_cloudwatch_event_rule").values()
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.backup"] and pattern["detail-type"] == ["Restore Job State Change"]
    assert pattern["detail"]["status"] == ["COMPLETED"]
    assert pattern["detail"]["restoreTestingPlanArn"][0].startswith("${aws_backup_restore_testing_plan.")
    (target,) = _mine(doc, "aws_cloudwatch_event_target").values()
    assert target["arn"].startswith("${aws_lambda_function.")
    (perm,) = _mine(doc, "aws_lambda_permission").values()
    assert perm["principal"] == "events.amazonaws.com" and perm["source_arn"].startswith("${aws_cloudwatch_event_rule.")
    (group,) = _mine(doc, "aws_cloudwatch_log_group").values()
    assert group["kms_key_id"] and group["name"] == f"/aws/lambda/webplatform-{env}-restore-validation"
    (policy,) = _mine(doc, "aws_iam_role_policy").values()
    statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
    assert statements["ReadRestoredInstances"]["Resource"].endswith(":db:*")
    assert statements["ReportValidation"]["Action"] == ["backup:PutRestoreValidationResult",
                                                         "backup:DescribeRestoreJob"]
    (metric,) = _mine(doc, "aws_cloudwatch_log_metric_filter").values()
    assert metric["pattern"] == '{ $.validation = "FAILED" }'
    alarms = _mine(doc, "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 2 and all(a["alarm_actions"] for a in alarms.values())
    assert {a["metric_name"] for a in alarms.values()} == {"RestoreValidationFailed", "Errors"}


def test_the_local_target_has_no_restore_validation(synth_local: Path) -> None:
    doc = json.loads((synth_local / "stacks" / "dev" / "cdk.tf.json").read_text())
    assert not _mine(doc, "aws_lambda_function") and not _mine(doc, "aws_cloudwatch_event_rule")
