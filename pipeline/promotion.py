"""Promotion: deploy to the next environment exactly the commit that passed in the previous one.

``promote --from staging --to prod`` looks the commit being deployed (the checkout, or ``--commit`` which must equal
it) up in the source environment's run log and refuses it unless a deploy of that commit succeeded there (every gate,
the post-deploy verification and the empty re-plan). The target's own gates then run as for any deploy, approval
included for a protected target.
"""
from __future__ import annotations

from dataclasses import dataclass

from envs.schema import EnvironmentSettings
from envs.target import Target

from .aws import client
from .runlog import RunLog, RunRecord


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
                    checkout: str, commit: str | None = None) -> Promotion:
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
    log = RunLog(client("s3", source.region, target.endpoint), source.state_bucket, source.name)
    runs = log.runs()
    run = find_passed_run(runs, commit)
    if run is None:
        tested = sorted({r.commit for r in runs if r.applied_ok})
        raise PromotionRefused(
            f"refused: commit {commit} has no successful deploy in {source.name} "
            f"({log.url('runs/' + source.name + '/')}); deploy it to {source.name} first"
            + (f" (commits that passed there: {', '.join(tested[-5:])})" if tested else " (no commit passed there)"))
    return Promotion(source.name, target_settings.name, commit, run)
