"""platform-iac: the cdktf app (no arguments) and the command-line tool (with a subcommand).

Thin on purpose: parse, dispatch to ``pipeline.commands``, return the exit code. Exit codes: 0 ok, 1 blocked or
failed (findings, drift, failed deploy), 2 bad input (settings, arguments, unreadable plan), 3 a tool failed
(Terraform or Checkov crashed).
"""
from __future__ import annotations

import argparse
import sys

TARGETS = ("local", "aws")
FORMATS = ("text", "json", "markdown", "sarif", "junit")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; say how to get help
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python main.py", description=__doc__.split("\n\n")[0])
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
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")

    p = sub.add_parser("plan", help="init + plan + show -json, the plan gate and the review")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")

    p = sub.add_parser("review", help="render a Terraform plan JSON for a pull request")
    p.add_argument("plan_json", metavar="PLAN_JSON")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--output", metavar="FILE")

    p = sub.add_parser("deploy", help="synth, gate, plan, gate, apply the saved plan, verify an empty re-plan")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--approve", action="append", default=[], metavar="ADDRESS",
                   help="approve the delete/replace of this stateful resource address (repeatable)")
    p.add_argument("--lock-timeout", default="0s", help="how long to wait for the state lock (default: 0s)")

    p = sub.add_parser("drift", help="refresh-only plan; report what changed outside Terraform")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--format", choices=("text", "markdown"), default="text")

    p = sub.add_parser("destroy", help="guarded destroy of an environment")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--allow-protected", action="store_true",
                   help="explicit override needed to destroy an environment whose protection_level is high")

    p = sub.add_parser("bootstrap", help="create the state bucket and lock table, idempotently")
    env_arg(p, True)
    target_arg(p)

    p = sub.add_parser("release", help="blue-green release of the app tier: deploy the idle colour, shift traffic "
                                       "in steps with validation, roll back automatically on failure")
    env_arg(p, True)
    target_arg(p)
    p.add_argument("--version", required=True, help="application version the idle colour gets (recorded and tagged)")
    p.add_argument("--image-id", help="AMI of the idle colour (default: resolve app.image_ssm_parameter now)")
    p.add_argument("--steps", help="comma-separated traffic percentages for the new colour (default: "
                                   "app.release_steps, e.g. 10,50,100)")
    p.add_argument("--bake-seconds", type=float, help="wait at each step before validating (default: "
                                                      "app.release_bake_seconds)")
    p.add_argument("--validate-command", help="extra validation run after each step (shell; non-zero = roll back); "
                                              "gets RELEASE_COLOUR, RELEASE_WEIGHT, RELEASE_TARGET_GROUP_ARN, ...")
    p.add_argument("--lock-timeout", default="0s", help="how long the deploy waits for the state lock (default: 0s)")

    p = sub.add_parser("runbook", help="write the DR runbook generated from an environment's settings")
    env_arg(p, True)
    p.add_argument("--output", metavar="FILE", help="where to write it (default: docs/runbooks/<env>.md)")

    p = sub.add_parser("local", help="the local AWS emulator (moto server on 127.0.0.1)")
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("--port", type=int, help="port for 'up' (default: a free port)")

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
