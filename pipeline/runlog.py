"""The run log: one JSON record per orchestrated run, stored next to the state.

``s3://<state bucket>/runs/<env>/<UTC timestamp>-<run id>.json`` holds what a run did (commit, who, plan digest, gate
results, step timings, outcome); it is written when the run starts, again right before the apply (status
``applying``, with the state serial) and when it ends, so an interrupted apply leaves a record that says so.

Every successful deploy also stores the synthesized configuration it applied,
``s3://<state bucket>/releases/<env>/<commit>/cdk.tf.json`` (the bucket is versioned: the run record keeps the
object's version id, so a later deploy of the same commit never loses it), which ``rollback`` re-applies.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

RUNS, RELEASES = "runs", "releases"
#: Kinds of run that apply a configuration (a plan-only run never does).
APPLY_KINDS = ("deploy", "rollback", "promote", "drift-correct")
#: Terminal statuses; ``running`` and ``applying`` are the in-flight ones.
SUCCEEDED, FAILED, BLOCKED, PLANNED, RUNNING, APPLYING = (
    "succeeded", "failed", "blocked", "planned", "running", "applying")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Step:
    name: str
    status: str                     # ok | blocked | failed | error | skipped | warn
    seconds: float
    detail: str = ""


@dataclass
class RunRecord:
    id: str
    env: str
    target: str
    kind: str                       # deploy | plan | rollback | promote | drift-correct
    commit: str
    who: str
    started_at: str
    status: str = RUNNING
    finished_at: str | None = None
    plan_digest: str | None = None
    has_changes: bool | None = None
    failed_gate: str | None = None
    message: str = ""
    steps: list[Step] = field(default_factory=list)
    gates: dict[str, Any] = field(default_factory=dict)
    state_serial_before: int | None = None
    state_serial_after: int | None = None
    apply_started: bool = False
    release: dict[str, Any] | None = None           # {key, version_id, sha256} of the configuration applied
    endpoint: str | None = None                     # the emulator endpoint baked into a local release
    source: dict[str, Any] = field(default_factory=dict)  # rollback_to / promoted_from / recovers / drift

    @property
    def key(self) -> str:
        stamp = self.started_at.replace("-", "").replace(":", "")
        return f"{RUNS}/{self.env}/{stamp}-{self.id}.json"

    def to_json(self) -> str:
        from compliance.secrets import scrub_text

        # messages carry Terraform diagnostics: the record never holds a credential-shaped string
        return scrub_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        data = dict(data)
        data["steps"] = [Step(**s) for s in data.get("steps", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def applied_ok(self) -> bool:
        return self.status == SUCCEEDED and self.kind in APPLY_KINDS


def new_record(env: str, target: str, kind: str, commit: str, who: str) -> RunRecord:
    return RunRecord(id=uuid.uuid4().hex[:8], env=env, target=target, kind=kind, commit=commit, who=who,
                     started_at=iso(utc_now()))


class RunLog:
    """Run records and releases of one environment in its state bucket."""

    def __init__(self, s3: Any, bucket: str, env: str) -> None:
        self.s3, self.bucket, self.env = s3, bucket, env

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def save(self, record: RunRecord) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=record.key, Body=record.to_json().encode(),
                           ContentType="application/json", ServerSideEncryption="aws:kms")
        return self.url(record.key)

    def runs(self) -> list[RunRecord]:
        """Every run of the environment, oldest first (keys sort by start time)."""
        keys: list[str] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                           Prefix=f"{RUNS}/{self.env}/"):
                keys += [o["Key"] for o in page.get("Contents", [])]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchBucket", "404"):
                return []
            raise
        records = []
        for key in sorted(keys):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            records.append(RunRecord.from_dict(json.loads(body)))
        return records

    def find(self, run_id: str) -> RunRecord | None:
        matches = [r for r in self.runs() if r.id == run_id or r.id.startswith(run_id)]
        return matches[-1] if len(matches) == 1 else None

    def put_release(self, record: RunRecord, config: bytes, sha256: str) -> dict[str, Any]:
        key = f"{RELEASES}/{self.env}/{record.commit}/cdk.tf.json"
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=config, ContentType="application/json",
                                 ServerSideEncryption="aws:kms")
        meta = {"run_id": record.id, "commit": record.commit, "sha256": sha256, "at": iso(utc_now())}
        self.s3.put_object(Bucket=self.bucket, Key=f"{RELEASES}/{self.env}/{record.commit}/release.json",
                           Body=json.dumps(meta).encode(), ContentType="application/json",
                           ServerSideEncryption="aws:kms")
        return {"key": key, "version_id": put.get("VersionId"), "sha256": sha256}

    def get_release(self, record: RunRecord) -> bytes:
        if not record.release:
            raise KeyError(f"run {record.id} recorded no release")
        extra = {"VersionId": record.release["version_id"]} if record.release.get("version_id") else {}
        return self.s3.get_object(Bucket=self.bucket, Key=record.release["key"], **extra)["Body"].read()
