"""Promotion: deploy to the next environment exactly the commit that passed in the previous one.

``promote --from staging --to prod`` looks the commit being deployed (the checkout, or ``--commit`` which must equal
it) up in the source environment's run log and refuses it unless a deploy of that commit succeeded there (every gate,
the post-deploy verification and the empty re-plan). The target's own gates then run as for any deploy, approval
included for a protected target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.schema import EnvironmentSettings
from envs.target import Target

from .aws import client
from .runlog import RunLog, RunRecord


#: The promotions the workflows run (`.github/workflows/deploy.yml`: ``promote --from staging --to prod``; checked
#: by tests/test_promotion_cross_account.py). Each environment lives in its own account, so the target's deploy role
#: reads the source's run log across accounts: the source's state bucket policy and state key policy admit it,
#: read-only, for ``runs/<source>/`` and ``releases/<source>/`` (bootstrap writes both).
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
#: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
PROMOTION_PATHS: tuple[tuple[str, str], ...] = (("staging", "prod"),)
READER_SIDS = ("PromotionReadersReadRunLog", "PromotionReadersListRunLog")
KEY_READER_SID = "PromotionReadersDecryptThroughS3"


def promotion_readers(source: EnvironmentSettings, envs_dir: str | None = None) -> tuple[str, ...]:
    """The deploy roles (other accounts) that promote from ``source``, from their settings."""
    import envs

    targets = [t for s, t in PROMOTION_PATHS if s == source.name]
    if not targets:
        return ()
    loaded = envs.load_all(targets, envs.envs_dir(envs_dir))
    return tuple(sorted(f"arn:aws:iam::{t.account_id}:role/{t.name_prefix}-ci-deploy" for t in loaded.values()
                        if t.account_id != source.account_id))


def bucket_reader_statements(bucket: str, env: str, readers: tuple[str, ...]) -> list[dict[str, Any]]:
    prefixes = [f"runs/{env}/", f"releases/{env}/"]
    return [
        {"Sid": READER_SIDS[0], "Effect": "Allow", "Principal": {"AWS": list(readers)},
         "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes]},
        {"Sid": READER_SIDS[1], "Effect": "Allow", "Principal": {"AWS": list(readers)},
         "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}},
    ]


def key_reader_statement(readers: tuple[str, ...], region: str) -> dict[str, Any]:
    return {"Sid": KEY_READER_SID, "Effect": "Allow", "Principal": {"AWS": list(readers)},
            "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}}


class PromotionRefused(Exception):
    """The commit may not be promoted (exit 1); ``bad_input`` marks a usage error (exit 2)."""

    def __init__(self, message: str, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True)
class Promotion:
    source_env: str
    target_env: str
    commit: str
    source_run: RunRecord


def _same(a: str, b: str) -> bool:
    n = min(len(a), len(b), 12)
    return n >= 7 and a[:n] == b[:n]


def find_passed_run(runs: list[RunRecord], commit: str) -> RunRecord | None:
    passed = [r for r in runs if r.applied_ok and _same(r.commit, commit)]
    return passed[-1] if passed else None


def check_promotion(source: EnvironmentSettings, target_settings: EnvironmentSettings, target: Target,
                    checkout: str, commit: str | None = None, s3: Any | None = None) -> Promotion:
    """Find the source's successful run of ``commit``; ``s3`` is the client to read the source's run log with
    (default: the target's own credentials, as in CI: the deploy role of the target's account)."""
    if source.name == target_settings.name:
        raise PromotionRefused("--from and --to name the same environment", bad_input=True)
    commit = commit or checkout
    if not _same(commit, checkout):
        raise PromotionRefused(f"--commit {commit} is not the checked-out commit {checkout}: check out {commit} "
                               "(the configuration deployed is the one synthesized from the checkout)",
                               bad_input=True)
    if checkout == "unknown":
        raise PromotionRefused("the commit being deployed is unknown (no git checkout, no PLATFORM_COMMIT)",
                               bad_input=True)
    log = RunLog(s3 or client("s3", source.region, target.endpoint), source.state_bucket, source.name)
    runs = log.runs()
    run = find_passed_run(runs, commit)
    if run is None:
        tested = sorted({r.commit for r in runs if r.applied_ok})
        raise PromotionRefused(
            f"refused: commit {commit} has no successful deploy in {source.name} "
            f"({log.url('runs/' + source.name + '/')}); deploy it to {source.name} first"
            + (f" (commits that passed there: {', '.join(tested[-5:])})" if tested else " (no commit passed there)"))
    return Promotion(source.name, target_settings.name, commit, run)
