"""The ``dr`` command group: ``dr failover`` / ``dr failback`` (pipeline/dr.py, an environment with a pilot light or
warm standby) and ``dr drill`` (pipeline/dr_drill.py, any environment with a database and cross-region backups)."""
from __future__ import annotations

import argparse

from compliance.cli import Command

from .cli_helpers import env_argument, target_argument


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("failover", "failback", "drill"),
                   help="failover: move the environment to its DR region; failback: move it back; drill: restore the "
                        "latest cross-region backup into an isolated copy, validate it, measure RTO/RPO, report")
    env_argument(p, True)
    target_argument(p)
    p.add_argument("--keep-primary-data", action="store_true",
                   help="failback: keep the primary database when it still exists (the DR region's writes stay in "
                        "the failback snapshot copied to the primary region)")
    p.add_argument("--output", dest="report_dir", metavar="DIR",
                   help="drill: folder for dr-drill-<env>.md and .json (default: .build/dr-drill/<env>)")
    p.add_argument("--allow-from", metavar="CIDR", help="drill: the drill runner's address, the only ingress (5432) "
                                                        "of the isolated copy (default: no ingress at all)")


def cmd_dr(args: argparse.Namespace) -> int:
    if args.action == "drill":
        from .dr_drill import cmd_dr as drill
        return drill(args)
    from .dr import cmd_dr as move
    return move(args)


COMMANDS = (Command("dr", "disaster recovery: `dr failover` / `dr failback` move an environment with a pilot light "
                          "to its DR region and back; `dr drill` rehearses a restore and measures RTO/RPO",
                    _arguments, cmd_dr),)
