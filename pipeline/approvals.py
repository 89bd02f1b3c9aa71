"""Approval records for protected environments, bound to one plan digest and stored next to the state.

``approve --env prod --plan-digest D --by NAME`` writes ``s3://<state bucket>/approvals/<env>/<D>.json`` (who, when,
until when, which plan digest); the orchestrator's approval gate looks the digest of the plan it is about to apply
up and refuses the apply without a valid record. The digest covers what the plan does (every resource change with
its before/after values, output changes) and the state it was made against (lineage and serial), never the plan
file's bytes (those hold timestamps), so re-planning the same change against the same state gives the same digest
while any other change, or an apply in between, gives another.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from botocore.exceptions import ClientError

from .runlog import iso, utc_now

APPROVALS = "approvals"
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_VALID_HOURS = 72


class ApprovalError(ValueError):
    """Bad approval input (CLI exit 2)."""


def plan_digest(plan: Mapping[str, Any], planfile: Path | None = None) -> str:
    """sha256 of the plan's changes and the prior state identity (see the module docstring)."""
    from compliance.guards import saved_plan_state

    lineage, serial = saved_plan_state(planfile) if planfile is not None and Path(planfile).exists() else (None, None)
    changes = [{"address": rc.get("address"), "actions": (rc.get("change") or {}).get("actions"),
                "before": (rc.get("change") or {}).get("before"), "after": (rc.get("change") or {}).get("after"),
                "after_unknown": (rc.get("change") or {}).get("after_unknown")}
               for rc in plan.get("resource_changes") or ()]
    outputs = {k: (v or {}).get("actions") for k, v in (plan.get("output_changes") or {}).items()}
    doc = {"resource_changes": sorted(changes, key=lambda c: str(c["address"])), "output_changes": outputs,
           "prior_state": {"lineage": lineage, "serial": serial}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    env: str
    plan_digest: str
    by: str
    at: str
    expires_at: str
    note: str = ""

    def expired(self, now: dt.datetime | None = None) -> bool:
        expires = dt.datetime.strptime(self.expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
        return (now or utc_now()) >= expires


def _key(env: str, digest: str) -> str:
    return f"{APPROVALS}/{env}/{digest}.json"


def check_digest(digest: str) -> str:
    digest = digest.strip().lower().removeprefix("sha256:")
    if not DIGEST_RE.match(digest):
        raise ApprovalError(f"plan digest {digest!r} is not a sha256 hex digest (64 characters); copy it from the "
                            "'plan digest:' line of `plan` or of the blocked deploy")
    return digest


def record_approval(s3: Any, bucket: str, env: str, digest: str, by: str, hours: float = DEFAULT_VALID_HOURS,
                    note: str = "") -> tuple[Approval, str]:
    digest = check_digest(digest)
    if not by.strip():
        raise ApprovalError("--by must name the approver")
    now = utc_now()
    approval = Approval(env=env, plan_digest=digest, by=by.strip(), at=iso(now),
                        expires_at=iso(now + dt.timedelta(hours=hours)), note=note)
    s3.put_object(Bucket=bucket, Key=_key(env, digest), Body=json.dumps(asdict(approval)).encode(),
                  ContentType="application/json", ServerSideEncryption="aws:kms")
    return approval, f"s3://{bucket}/{_key(env, digest)}"


def find_approval(s3: Any, bucket: str, env: str, digest: str) -> Approval | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=_key(env, digest))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    return Approval(**json.loads(body))


def verify_approval(s3: Any, bucket: str, env: str, digest: str, deployer: str | None = None
                    ) -> tuple[Approval | None, str]:
    """``(approval, "")`` when a valid record covers ``digest``; ``(None, reason)`` otherwise."""
    approval = find_approval(s3, bucket, env, digest)
    if approval is None:
        return None, (f"no approval recorded for plan digest {digest} of {env}; a reviewer runs "
                      f"`python main.py approve --env {env} --plan-digest {digest} --by NAME` after reading the "
                      "plan review, then deploy again")
    if approval.env != env or approval.plan_digest != digest:
        return None, f"approval record for {digest} names {approval.env}/{approval.plan_digest}: refused"
    if approval.expired():
        return None, f"approval of {digest} by {approval.by} expired at {approval.expires_at}; approve again"
    if deployer and approval.by == deployer:
        return None, f"approval of {digest} was given by {approval.by}, who also runs the deploy: a second person " \
                     "must approve"
    return approval, ""
