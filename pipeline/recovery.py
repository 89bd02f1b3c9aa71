"""Rollback targets and partial-apply detection from the run log.

A partial apply is the last run that started applying and did not complete: its record still says ``applying``
(the process died mid-apply) or it failed during the apply after the state serial moved (some resources were
changed, others not). The next run reports it with the recovery options and stops unless told how to proceed
(``deploy --recover`` re-plans from the partial state and converges forward; ``rollback`` applies the last good
release). A state serial that moved after the last completed run, with no record explaining it, is reported as a
warning (a manual ``terraform`` run or a command that does not write the run log).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .runlog import APPLYING, FAILED, RunRecord


@dataclass(frozen=True)
class Finding:
    severity: str          # "block" | "warn"
    run: RunRecord | None
    message: str


def recovery_options(env: str, run: RunRecord, good: RunRecord | None) -> list[str]:
    opts = [f"fix the cause, then `python main.py deploy --env {env} --recover`: re-plans from the partial state "
            "and applies the rest through every gate",
            f"`python main.py rollback --env {env}" + (f" --to {good.id}`: re-applies the last good release "
                                                       f"(commit {good.commit}, run {good.id})" if good else
                                                       "`: no good release recorded yet"),
            "inspect first: `terraform state list` in the stack folder, the run record, and the apply error above "
            "(a resource that already exists outside Terraform can be imported or removed)"]
    return opts


def detect(runs: list[RunRecord], current_serial: int | None, env: str) -> Finding | None:
    """The run-log finding for the next run of ``env`` (None when the last apply completed)."""
    attempts = [r for r in runs if r.apply_started]
    if not attempts:
        return None
    last = attempts[-1]
    good = next((r for r in reversed(runs) if r.applied_ok and r.release), None)
    if last.status == APPLYING or (last.status == FAILED and last.failed_gate == "apply"):
        before = last.state_serial_before
        moved = current_serial is not None and before is not None and current_serial != before
        if last.status == FAILED and not moved and last.state_serial_after == before:
            return Finding("warn", last, f"run {last.id} failed during apply before changing the state "
                                         f"(serial {before}); nothing to recover")
        how = ("its record still says 'applying': the process stopped mid-apply" if last.status == APPLYING else
               f"it failed during apply: {_error_line(last.message)}")
        lines = [f"partial apply detected: run {last.id} ({last.kind}, commit {last.commit}, by {last.who}, "
                 f"started {last.started_at}) did not complete; {how}.",
                 f"  state serial before that apply: {_serial(before)}, now: {_serial(current_serial)}",
                 "  recovery options:"] + [f"    - {o}" for o in recovery_options(env, last, good)]
        return Finding("block", last, "\n".join(lines))
    if last.status == "succeeded" and last.state_serial_after is not None and current_serial is not None \
            and current_serial != last.state_serial_after:
        later = [r for r in runs if r.started_at > last.started_at and r.kind != "plan"]
        return Finding("warn", last, f"state serial moved from {last.state_serial_after} (after run {last.id}) to "
                                     f"{current_serial} without a completed run record"
                                     + (f" ({len(later)} later run(s) did not apply)" if later else "")
                                     + ": changed by a manual terraform run or a command outside the orchestrator")
    return None


def lock_holder(s3: Any, dynamodb: Any, bucket: str, table: str, state_key: str) -> str | None:
    """Who holds the state lock (S3 lock file or DynamoDB lock item), or None."""
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{state_key}.tflock")["Body"].read()
        return body.decode(errors="replace")[:300] or "S3 lock file"
    except ClientError:
        pass
    try:
        item = dynamodb.get_item(TableName=table, Key={"LockID": {"S": f"{bucket}/{state_key}"}}).get("Item")
    except ClientError:
        return None
    if item and "Info" in item:
        return item["Info"].get("S", "DynamoDB lock")[:300]
    return None


def rollback_target(runs: list[RunRecord], to: str | None) -> RunRecord:
    """The run whose release ``rollback`` re-applies: ``to`` (a run id or its prefix), else the last good release
    before the configuration now applied (or the last good one when the latest apply failed)."""
    good = [r for r in runs if r.applied_ok and r.release]
    if to:
        match = [r for r in runs if r.id == to or r.id.startswith(to)]
        if len(match) != 1:
            raise LookupError(f"no single run {to!r} in the run log (known: {', '.join(r.id for r in runs[-10:])})")
        if match[0] not in good:
            raise LookupError(f"run {match[0].id} did not complete a deploy (status {match[0].status}); only a "
                              "successful run has a release to roll back to")
        return match[0]
    if not good:
        raise LookupError("no successful deploy with a recorded release: nothing to roll back to")
    attempts = [r for r in runs if r.apply_started]
    latest = attempts[-1] if attempts else None
    if latest is not None and latest is not good[-1]:
        return good[-1]                       # the latest apply failed or is partial: back to the last good
    current = good[-1]
    for r in reversed(good[:-1]):
        if (r.release or {}).get("sha256") != (current.release or {}).get("sha256"):
            return r
    raise LookupError(f"no earlier release differs from the one applied now (run {current.id}); name one with --to")


def _serial(serial: int | None) -> str:
    return "no state" if serial is None else str(serial)


def _error_line(message: str) -> str:
    """The first Terraform ``Error:`` line of a failure message (else its first line)."""
    for line in message.splitlines():
        if line.strip().startswith("Error:"):
            return line.strip()[:300]
    return message.strip().splitlines()[0][:300] if message.strip() else "see its record"
