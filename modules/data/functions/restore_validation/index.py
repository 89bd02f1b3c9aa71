"""Validation function of AWS Backup restore testing (shipped by ``modules/data/restore_validation.py``).

AWS Backup restore testing restores the latest recovery point of the selected resources on schedule; this function
is the "event-driven validation" of
https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html: an EventBridge rule sends it
the ``Restore Job State Change`` event (source ``aws.backup``) of every restore job of the environment's restore
testing plan that reached ``COMPLETED``; the function checks the restored resource and reports the verdict with
``PutRestoreValidationResult`` (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html)
before AWS Backup deletes the restored copy at the end of the validation window.

Checks for an RDS instance (``resourceType`` RDS, ``createdResourceArn`` ``arn:...:rds:...:db:<id>``): the instance
exists and is ``available``, its storage is encrypted, it is not publicly accessible. Any other resource type, or a
restored resource that cannot be read, is reported FAILED (a restore the function cannot vouch for is never reported
SUCCESSFUL). Every verdict is one JSON log line ``{"validation": "SUCCESSFUL"|"FAILED", ...}``: the FAILED lines are
counted by a metric filter whose alarm notifies the alerting topic.

Standard library and boto3 only (the Lambda runtime's); the clients are parameters so the tests drive real calls.
"""
from __future__ import annotations

import json
from typing import Any


def check_rds(rds: Any, arn: str) -> list[str]:
    """Problems of the restored RDS instance ``arn`` (empty when it passes)."""
    ident = arn.rsplit(":", 1)[-1]
    try:
        (inst,) = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
    except Exception as exc:  # noqa: BLE001 - a restored instance that cannot be read fails validation
        return [f"cannot describe {ident}: {exc}"]
    problems = []
    if inst.get("DBInstanceStatus") != "available":
        problems.append(f"status is {inst.get('DBInstanceStatus')!r}, not 'available'")
    if not inst.get("StorageEncrypted", False):
        problems.append("storage is not encrypted")
    if inst.get("PubliclyAccessible", False):
        problems.append("it is publicly accessible")
    return problems


def validate(event: dict[str, Any], rds: Any, backup: Any) -> dict[str, Any]:
    """Check the resource of one ``Restore Job State Change`` event and report the result to AWS Backup."""
    detail = event.get("detail") or {}
    job = detail.get("restoreJobId")
    if not job:
        raise ValueError("not a Restore Job State Change event: detail.restoreJobId is missing")
    if detail.get("status") != "COMPLETED":
        result = {"validation": "SKIPPED", "restoreJobId": job, "reason": f"status {detail.get('status')}"}
        print(json.dumps(result))
        return result
    kind, arn = detail.get("resourceType"), detail.get("createdResourceArn") or ""
    if kind == "RDS" and ":rds:" in arn and ":db:" in arn:
        problems = check_rds(rds, arn)
    else:
        problems = [f"no validation for resource type {kind!r} ({arn or 'no created resource'})"]
    status = "FAILED" if problems else "SUCCESSFUL"
    message = "; ".join(problems) if problems else "restored instance is available, encrypted and private"
    backup.put_restore_validation_result(RestoreJobId=job, ValidationStatus=status,
                                         ValidationStatusMessage=message[:1000])
    result = {"validation": status, "restoreJobId": job, "resource": arn, "message": message,
              "restoreTestingPlanArn": detail.get("restoreTestingPlanArn")}
    print(json.dumps(result))
    return result


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    return validate(event, boto3.client("rds"), boto3.client("backup"))
