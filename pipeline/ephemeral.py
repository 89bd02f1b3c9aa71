"""Ephemeral environments (per pull request, per experiment) and the cleanup of the expired ones.

An ephemeral environment is an ordinary settings folder (``--envs-dir``) plus an entry in the registry
(``envs/ephemeral/registry.toml`` by default; the folder is below ``envs/`` so it is never mistaken for an
environment)::

    [[environment]]
    id = "pr-123"                      # unique label
    env = "dev"                        # the settings file name inside envs_dir (also the compliance policy)
    envs_dir = "pr-123"                # relative to the registry file
    owner = "alice@example.com"
    expires = 2025-07-01T00:00:00Z     # TOML datetime, UTC

``cleanup --expired`` lists the entries past their expiry; with ``--yes`` it destroys each (synthesize, init, guarded
``terraform destroy``; a protected environment is never destroyed here) and removes it from the registry. Exit 0
when every expired environment was listed or destroyed, 1 when a destroy failed, 2 for a bad registry.
"""
from __future__ import annotations

import argparse
import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from compliance.cli import Command
from envs import SettingsError

from . import synth as synth_mod
from .cli_helpers import fail, say, target, target_argument
from .run import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, Pipeline, PipelineError, default_build_dir

DEFAULT_REGISTRY = Path(__file__).resolve().parents[1] / "envs" / "ephemeral" / "registry.toml"


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class Ephemeral:
    id: str
    env: str
    envs_dir: Path
    owner: str
    expires: dt.datetime

    def expired(self, now: dt.datetime) -> bool:
        return self.expires <= now


def load_registry(path: Path) -> list[Ephemeral]:
    if not path.exists():
        return []
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML ({exc})") from None
    out, seen = [], set()
    for i, e in enumerate(doc.get("environment", [])):
        where = f"{path}: environment[{i}]"
        missing = [k for k in ("id", "env", "envs_dir", "owner", "expires") if k not in e]
        if missing:
            raise RegistryError(f"{where}: missing {', '.join(missing)}")
        expires = e["expires"]
        if not isinstance(expires, dt.datetime) or expires.tzinfo is None:
            raise RegistryError(f"{where}.expires: use a TOML datetime with a zone, e.g. 2025-07-01T00:00:00Z")
        if e["id"] in seen:
            raise RegistryError(f"{where}.id: {e['id']!r} appears twice")
        seen.add(e["id"])
        out.append(Ephemeral(e["id"], e["env"], (path.parent / e["envs_dir"]).resolve(), e["owner"], expires))
    return out


def remove_entry(path: Path, entry_id: str) -> None:
    """Drop one ``[[environment]]`` block from the registry, leaving the rest of the file as written."""
    blocks = path.read_text().split("[[environment]]")
    kept = [blocks[0]] + [b for b in blocks[1:] if not any(
        line.strip().replace(" ", "") == f'id="{entry_id}"' for line in b.splitlines())]
    path.write_text("[[environment]]".join(kept))


def cmd_cleanup(args: argparse.Namespace) -> int:
    registry = Path(args.registry) if args.registry else DEFAULT_REGISTRY
    try:
        entries = load_registry(registry)
    except RegistryError as exc:
        fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.timezone.utc)
    expired = [e for e in entries if e.expired(now)]
    say(f"ephemeral environments: {len(entries)} registered, {len(expired)} expired ({registry})")
    for e in entries:
        say(f"  {e.id}: {e.env} in {e.envs_dir}, owner {e.owner}, expires {e.expires.isoformat()}"
            f"{'  EXPIRED' if e in expired else ''}")
    if not args.yes:
        if expired:
            say("  (listing only: pass --yes to destroy the expired ones)")
        return EXIT_OK
    failures = 0
    for e in expired:
        try:
            settings = synth_mod.load_settings([e.env], e.envs_dir)[e.env]
            if settings.protected:
                fail(f"refused: {e.id} ({e.env}) is protected; ephemeral environments must not be")
                failures += 1
                continue
            chosen = target(args.target)
            result = synth_mod.synthesize({e.env: settings}, chosen, synth_mod.outdir_for(chosen) / "ephemeral" / e.id)
            pipe = Pipeline(settings, chosen, result.stacks[e.env].parent, default_build_dir(), say=say)
            pipe.init()
            pipe.destroy(expired_ephemeral=True)
        except (SettingsError, PipelineError) as exc:
            fail(f"error: destroying {e.id} failed: {exc}")
            failures += 1
            continue
        remove_entry(registry, e.id)
        say(f"  destroyed {e.id} and removed it from {registry}")
    return EXIT_BLOCKED if failures else EXIT_OK


def _cleanup_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--expired", action="store_true", required=True, help="select the expired ones")
    p.add_argument("--registry", metavar="FILE",
                   help="ephemeral environments registry (default: envs/ephemeral/registry.toml)")
    p.add_argument("--yes", action="store_true", help="destroy them (default: only list)")
    p.add_argument("--now", metavar="ISO8601", help=argparse.SUPPRESS)
    target_argument(p)


COMMANDS = (Command("cleanup", "list or destroy ephemeral environments past their expiry", _cleanup_arguments,
                    cmd_cleanup),)
