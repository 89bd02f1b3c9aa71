"""platform-iac: the cdktf app (no arguments) and the command-line tool (with a subcommand).

Thin on purpose: parse, dispatch to ``pipeline.commands``, return the exit code. Exit codes: 0 ok, 1 blocked or
failed (findings, drift, failed deploy), 2 bad input (settings, arguments, unreadable plan), 3 a tool failed
(Terraform or Checkov crashed).
"""
from __future__ import annotations

import argparse
import os
import sys

# Node 20 runs jsii (the machine image's Node); without this jsii prints an end-of-life banner on every run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

TARGETS = ("local", "aws")
FORMATS = ("text", "json", "markdown", "sarif", "junit", "html")


def _port(text: str) -> int:
    """A TCP port number (1 to 65535); anything else is refused by the parser (exit 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 1..65535")
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; say how to get help
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n")


def program_name(argv0: str | None = None) -> str:
    """How the user ran us: ``python main.py`` from a checkout, else the console script (``platform-iac``)."""
    name = os.path.basename(argv0 if argv0 is not None else (sys.argv[0] if sys.argv else ""))
    return "python main.py" if name == "main.py" else "platform-iac"


def version() -> str:
    """The installed distribution's version (``pyproject.toml`` when run from a checkout that is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("platform-iac")
    except metadata.PackageNotFoundError:
        import tomllib
        from pathlib import Path

        return tomllib.loads((Path(__file__).parent / "pyproject.toml").read_text())["project"]["version"]


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog or program_name(), description=__doc__.split("\n\n")[0])
    parser.add_argument("-V", "--version", action="version", version=f"platform-iac {version()}")
    parser.add_argument("--envs-dir", help="folder of the environment settings files (default: envs/)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def env_arg(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--env", required=required, help="environment name (envs/<name>.toml)")

    def target_arg(p: argparse.ArgumentParser, default: str = "local") -> None:
        p.add_argument("--target", choices=TARGETS, default=default,
                       help=f"deploy target (default: {default}; only 'aws' reaches a real account)")

    p = sub.add_parser("synth", help="synthesize one or all environments")
    env_arg(p, False)
    target_arg(p, default="aws")
    p.add_argument("--outdir", help="output folder (default: cdktf.out, or cdktf.local.out for --target local)")

    p = sub.add_parser("check", help="compliance gate on synthesized JSON, a plan, or any Terraform JSON")
    env_arg(p, False)
    p.add_argument("--plan", action="append", default=[], metavar="FILE", help="plan JSON (terraform show -json)")
    p.add_argument("--tf-json", action="append", default=[], metavar="PATH", help="Terraform JSON file or folder")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", metavar="FILE", help="write the report here instead of standard output")
    p.add_argument("--waivers", metavar="FILE", help="waivers file (default: compliance/waivers.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="text report: list every finding, not one line per check")
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")

    def format_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=("text", "json"), default="text",
                       help="json: the result (verdict, exit code, gate counts, paths) as one JSON document on "
                            "stdout; progress goes to stderr")

    def approve_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                       help="approve the delete/replace of this stateful resource address (repeatable)")

    def waivers_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--waivers", metavar="FILE", help="waivers file (default: compliance/waivers.toml)")

    p = sub.add_parser("plan", help="init + plan + show -json, the plan gate and the review")
    env_arg(p, True)
    target_arg(p)
    format_arg(p)
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")
    waivers_arg(p)

    p = sub.add_parser("review", help="render a Terraform plan JSON for a pull request")
    p.add_argument("plan_json", metavar="PLAN_JSON")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")

    p = sub.add_parser("deploy", help="synth, gate, plan, gate, apply the saved plan, verify an empty re-plan")
    env_arg(p, True)
    target_arg(p)
    format_arg(p)
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")
    p.add_argument("--lock-timeout", default="0s", help="how long to wait for the state lock (default: 0s)")
    waivers_arg(p)
    p.add_argument("--recover", action="store_true",
                   help="proceed over a partial apply reported by the run log: re-plan from the partial state and "
                        "apply the rest through every gate")

    p = sub.add_parser("drift", help="refresh-only plan; report what changed outside Terraform")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="json: the result as one JSON document on stdout (progress on stderr)")
    p.add_argument("--correct", action="store_true",
                   help="re-apply the configuration through every gate of the orchestrator when drift is found")
    approve_arg(p)
    waivers_arg(p)

    p = sub.add_parser("destroy", help="guarded destroy of an environment")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--allow-protected", action="store_true",
                   help="explicit override needed to destroy an environment whose protection_level is high")
    approve_arg(p)

    p = sub.add_parser("rollback", help="re-apply the last good release (or --to RUN) through every gate")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--to", metavar="RUN", help="run id from the run log (default: the last good release before the "
                                               "configuration applied now)")
    approve_arg(p)
    waivers_arg(p)
    p.add_argument("--lock-timeout", default="0s", help="how long to wait for the state lock (default: 0s)")

    p = sub.add_parser("promote", help="deploy to --to the commit that passed in --from (refused otherwise)")
    p.add_argument("--from", dest="source", required=True, help="source environment (e.g. staging)")
    p.add_argument("--to", required=True, help="target environment (e.g. prod)")
    p.add_argument("--commit", help="the commit to promote (default: the checkout; must equal it)")
    target_arg(p)
    approve_arg(p)
    waivers_arg(p)
    p.add_argument("--lock-timeout", default="0s", help="how long to wait for the state lock (default: 0s)")

    p = sub.add_parser("ci", help="CI helpers the workflows run: `ci role` prints a CI role's ARN and region")
    csub = p.add_subparsers(dest="ci_command", metavar="CI_COMMAND", required=True, parser_class=_Parser)
    c = csub.add_parser("role", help="arn=… and region=… of the environment's CI role (for $GITHUB_OUTPUT)")
    env_arg(c, True)
    c.add_argument("--role", choices=("deploy", "plan"), required=True)

    p = sub.add_parser("pr-plan", help="the pull-request plan of one environment: real state (plan role, "
                                       "-lock=false) or a fresh emulator; gated once; review for the PR comment")
    env_arg(p, True)
    p.add_argument("--mode", choices=("real", "emulator"), required=True,
                   help="real: the environment's state backend (--target); emulator: a fresh, empty emulator")
    target_arg(p, default="aws")
    p.add_argument("--fallback-reason", help="why the emulator path is taken (first line of the comment)")
    p.add_argument("--outdir", default="reports", help="where the review and SARIF files go (default: reports)")

    p = sub.add_parser("approve", help="record an approval of one plan digest for a protected environment")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--plan-digest", required=True, help="the sha256 printed by plan / the blocked deploy")
    p.add_argument("--by", required=True, help="who approves (must differ from who deploys)")
    p.add_argument("--valid-hours", type=float, default=72, help="how long the approval stays valid (default: 72)")
    p.add_argument("--note", help="free text kept in the record (e.g. the change ticket)")

    p = sub.add_parser("env", help="environment synchronization: refresh a non-production database from a "
                                   "production snapshot, with masking")
    p.add_argument("action", choices=("sync",))
    p.add_argument("--from", dest="source", required=True, help="source environment (e.g. prod)")
    p.add_argument("--to", required=True, help="target environment (never a protected one)")
    target_arg(p)
    p.add_argument("--rules", metavar="FILE", help="masking rules (default: pipeline/masking_rules.toml)")
    p.add_argument("--execute", action="store_true",
                   help="run the steps (snapshot, restore into a new instance, masking) instead of only planning")
    p.add_argument("--mask-dsn", metavar="DSN",
                   help="PostgreSQL connection string of the restored database to mask (with --execute)")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("cleanup", help="list or destroy ephemeral environments past their expiry")
    p.add_argument("--expired", action="store_true", required=True, help="select the expired ones")
    p.add_argument("--registry", metavar="FILE",
                   help="ephemeral environments registry (default: envs/ephemeral/registry.toml)")
    p.add_argument("--yes", action="store_true", help="destroy them (default: only list)")
    p.add_argument("--now", metavar="ISO8601", help=argparse.SUPPRESS)
    target_arg(p)

    p = sub.add_parser("bootstrap", help="create the state bucket and lock table, idempotently")
    env_arg(p, True)
    target_arg(p)

    p = sub.add_parser("release", help="blue-green release of the app tier: deploy the idle colour, shift traffic "
                                       "in steps with validation, roll back automatically on failure")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--version", required=True, help="application version the idle colour gets (recorded and tagged)")
    p.add_argument("--image-id", help="AMI of the idle colour (default: resolve app.image_ssm_parameter now)")
    p.add_argument("--artifact", metavar="FILE", help="your application's tarball, published as this version "
                                                      "(default: the reference workload when app.workload is "
                                                      "'reference'; required when it is 'artifact')")
    p.add_argument("--steps", help="comma-separated traffic percentages for the new colour (default: "
                                   "app.release_steps, e.g. 10,50,100)")
    p.add_argument("--bake-seconds", type=float, help="wait at each step before validating (default: "
                                                      "app.release_bake_seconds)")
    p.add_argument("--validate-command", help="extra validation run after each step (shell; non-zero = roll back); "
                                              "gets RELEASE_COLOUR, RELEASE_WEIGHT, RELEASE_TARGET_GROUP_ARN, ...")
    p.add_argument("--lock-timeout", default="0s", help="how long the deploy waits for the state lock (default: 0s)")
    format_arg(p)

    p = sub.add_parser("runbook", help="write the DR runbook generated from an environment's settings")
    env_arg(p, True)
    p.add_argument("--output", metavar="FILE", help="where to write it (default: docs/runbooks/<env>.md)")

    p = sub.add_parser("dr", help="disaster recovery of an environment with a pilot light: `dr failover` moves it to "
                                  "its DR region, `dr failback` moves it back (docs/data-tier.md)")
    p.add_argument("action", choices=("failover", "failback"))
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--keep-primary-data", action="store_true",
                   help="failback: keep the primary database when it still exists (the DR region's writes stay in "
                        "the failback snapshot copied to the primary region)")

    p = sub.add_parser("local", help="the local AWS emulator (moto server on 127.0.0.1)")
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("--port", type=_port, help="port for 'up' (default: a free port)")

    p = sub.add_parser("sla", help="SLA report: availability and error budget from CloudWatch metrics")
    p.add_argument("action", choices=("report",))
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--days", type=int, help="period in whole UTC days (default: observability.slo.window_days)")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="last day of the period (default: today)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")

    p = sub.add_parser("cost", help="cost report: Cost Explorer actuals, cost per user, optimization suggestions")
    p.add_argument("action", choices=("report",))
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--months", type=int, default=3, help="months back, the current one included (default: 3)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")
    return parser


def cli(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline import commands

    if args.command is None:
        return commands.app_mode(args)
    return commands.dispatch(args)


if __name__ == "__main__":
    sys.exit(cli())
