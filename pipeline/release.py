"""Blue-green release of the application tier: ``python main.py release --env E --version V``.

1. Read the release record (SSM ``/<prefix>/app/release``; the settings' ``app.initial_weights`` before the first
   release). The colour with the larger weight is live, the other idle.
2. Deploy the idle colour: write the new version and image of the idle colour to the record (weights unchanged),
   then run the normal gated pipeline (synth, static gate, plan, plan gate, apply, empty re-plan). Terraform reads
   the record, so only the idle colour's launch template changes (and its instances are refreshed).
3. Wait until the idle colour's targets are healthy.
4. Shift traffic in ``app.release_steps`` (10 -> 50 -> 100 by default): for each step write the weights to the
   record, set them on the HTTPS listener, wait ``app.release_bake_seconds``, validate (the new colour's targets are
   all healthy, the 5xx alarm is not in ALARM, and the optional ``--validate-command`` exits 0).
5. On a failed validation, roll back automatically: the previous weights go back on the listener and into the
   record, and the release exits 1. A later plain ``deploy`` plans the same weights (it reads the record), so it
   never undoes a release or a rollback.

The application artifact: with ``app.workload = "reference"`` the release builds the reference workload as version
V (``workload/package.py``), with ``"artifact"`` it takes ``--artifact FILE`` (your tarball); either is published
to the artifact bucket (``workload/<V>/app.tar.gz`` and ``.sha256``) before the deploy, and the idle colour's
record entry names its key and SHA-256, which the launch template passes to the instances. A published version is
immutable: publishing V again with different bytes is refused (exit 2). ``"image"`` publishes nothing.

Exit codes: 0 released, 1 rolled back (validation failed) or blocked by a gate, 2 bad input, 3 tool failure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from compliance.cli import Command
from envs import contract
from envs.contract import COLOURS

from .run import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, EXIT_TOOL

RECORD_SCHEMA = 1


parameter_name = contract.release_parameter_name


def names(name_prefix: str) -> dict[str, Any]:
    """Names of the app tier's resources, from the contract the constructs build them with (``envs/contract.py``)."""
    return {"alb": contract.load_balancer_name(name_prefix),
            "target_groups": {c: contract.target_group_name(name_prefix, c) for c in COLOURS},
            "asgs": {c: contract.auto_scaling_group_name(name_prefix, c) for c in COLOURS},
            "error_alarm": contract.app_alarm_name(name_prefix, contract.RELEASE_ERROR_ALARM)}


class ReleaseError(RuntimeError):
    """The release could not proceed (missing resources, a failed deploy, targets never healthy)."""

    def __init__(self, message: str, exit_code: int = EXIT_BLOCKED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Record:
    """The release record: live weights and what each colour runs."""

    weights: dict[str, int]
    colours: dict[str, dict[str, str]] = field(default_factory=dict)
    live: str = "blue"
    last: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"schema": RECORD_SCHEMA, "live": self.live, "weights": self.weights,
                           "colours": self.colours, "last": self.last}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Record":
        doc = json.loads(text)
        return cls(weights={c: int(doc["weights"][c]) for c in COLOURS}, colours=doc.get("colours", {}),
                   live=doc.get("live", "blue"), last=doc.get("last", {}))


class AppTierApi:
    """The AWS calls of a release (boto3; the emulator on the local target)."""

    def __init__(self, region: str, endpoint: str | None, name_prefix: str) -> None:
        from .aws import client

        self.region, self.endpoint = region, endpoint
        self.ssm = client("ssm", region, endpoint)
        self.elbv2 = client("elbv2", region, endpoint)
        self.cloudwatch = client("cloudwatch", region, endpoint)
        self.prefix = name_prefix
        self.names = names(name_prefix)

    def read_record(self) -> Record | None:
        try:
            value = self.ssm.get_parameter(Name=parameter_name(self.prefix))["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        return Record.from_json(value)

    def write_record(self, record: Record) -> None:
        self.ssm.put_parameter(Name=parameter_name(self.prefix), Value=record.to_json(), Type="String",
                               Overwrite=True, Description="Blue-green release record (python main.py release)")

    def artifact_bucket(self) -> str:
        """The artifact bucket (``modules/app/artifacts.py``: ``<prefix>-artifacts-<account>-<region>``)."""
        from .aws import client

        account = client("sts", self.region, self.endpoint).get_caller_identity()["Account"]
        return contract.artifact_bucket_name(self.prefix, account, self.region)

    def publish_artifact(self, artifact: Any) -> str:
        """Upload the tarball and its ``.sha256`` unless that version is there already with the same checksum;
        refuses (``ReleaseError``, exit 2) a version published with other bytes. Returns the key."""
        from .aws import client

        s3, bucket = client("s3", self.region, self.endpoint), self.artifact_bucket()
        try:
            existing = s3.get_object(Bucket=bucket, Key=f"{artifact.key}.sha256")["Body"].read().decode().split()[0]
        except s3.exceptions.NoSuchKey:
            existing = None
        if existing is not None and existing != artifact.sha256:
            raise ReleaseError(f"version {artifact.version} is already published in s3://{bucket}/{artifact.key} "
                               f"with another checksum ({existing}); release a new version", EXIT_BAD_INPUT)
        if existing is None:
            s3.put_object(Bucket=bucket, Key=artifact.key, Body=artifact.data, ContentType="application/gzip")
            s3.put_object(Bucket=bucket, Key=f"{artifact.key}.sha256", Body=artifact.checksum_line.encode(),
                          ContentType="text/plain")
        return artifact.key

    def resolve_image(self, parameter: str) -> str:
        return self.ssm.get_parameter(Name=parameter)["Parameter"]["Value"]

    def target_group_arn(self, colour: str) -> str:
        found = self.elbv2.describe_target_groups(Names=[self.names["target_groups"][colour]])["TargetGroups"]
        return found[0]["TargetGroupArn"]

    def https_listener_arn(self) -> str:
        lbs = self.elbv2.describe_load_balancers(Names=[self.names["alb"]])["LoadBalancers"]
        listeners = self.elbv2.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]
        return next(l["ListenerArn"] for l in listeners if l["Port"] == 443)

    def listener_weights(self) -> dict[str, int]:
        listener = self.elbv2.describe_listeners(ListenerArns=[self.https_listener_arn()])["Listeners"][0]
        groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        by_arn = {g["TargetGroupArn"]: int(g.get("Weight", 0)) for g in groups}
        return {c: by_arn.get(self.target_group_arn(c), 0) for c in COLOURS}

    def set_weights(self, weights: dict[str, int]) -> None:
        self.elbv2.modify_listener(ListenerArn=self.https_listener_arn(), DefaultActions=[{
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": self.target_group_arn(c), "Weight": weights[c]}
                                               for c in COLOURS],
                              "TargetGroupStickinessConfig": {"Enabled": False}},
        }])

    def target_health(self, colour: str) -> list[str]:
        """States of the colour's registered targets (``healthy``, ``unhealthy``, ``unused``, ...)."""
        found = self.elbv2.describe_target_health(TargetGroupArn=self.target_group_arn(colour))
        return [d["TargetHealth"]["State"] for d in found["TargetHealthDescriptions"]]

    def error_alarm_state(self) -> str | None:
        alarms = self.cloudwatch.describe_alarms(AlarmNames=[self.names["error_alarm"]])["MetricAlarms"]
        return alarms[0]["StateValue"] if alarms else None


@dataclass
class ReleasePlan:
    env: str
    version: str
    steps: tuple[int, ...]
    bake_seconds: float
    health_timeout_seconds: float
    validate_command: str | None = None
    image_id: str | None = None
    artifact: Any = None
    """``workload.package.Artifact`` to publish for this version; None when the image holds the application."""


class Release:
    """One blue-green release; ``deploy`` is the gated pipeline (injected so it can be the real CLI path)."""

    def __init__(self, api: AppTierApi, plan: ReleasePlan, initial_weights: dict[str, int], image_parameter: str,
                 deploy: Callable[[], int], say: Callable[[str], None] = print, endpoint: str | None = None,
                 region: str = "") -> None:
        self.api, self.plan, self.deploy, self.say = api, plan, deploy, say
        self.initial_weights, self.image_parameter = dict(initial_weights), image_parameter
        self.endpoint, self.region = endpoint, region

    def run(self) -> int:
        api, plan, say = self.api, self.plan, self.say
        record = api.read_record() or Record(weights=dict(self.initial_weights),
                                             live=max(COLOURS, key=lambda c: (self.initial_weights[c], c == "blue")))
        before = dict(record.weights)
        live = max(COLOURS, key=lambda c: (before[c], c == record.live))
        idle = next(c for c in COLOURS if c != live)
        say(f"[{plan.env}] release {plan.version}: live {live} {before}, deploying {idle}")

        # 1. Deploy the idle colour through the gated pipeline (weights unchanged).
        image = plan.image_id or api.resolve_image(self.image_parameter)
        record.colours[idle] = {"version": plan.version, "image_id": image}
        if plan.artifact is not None:
            key = api.publish_artifact(plan.artifact)
            record.colours[idle].update(artifact_key=key, sha256=plan.artifact.sha256)
            say(f"[{plan.env}] published {key} (sha256 {plan.artifact.sha256})")
        record.last = {"version": plan.version, "colour": idle, "status": "deploying", "at": _now()}
        api.write_record(record)
        code = self.deploy()
        if code != EXIT_OK:
            record.last["status"] = "deploy-failed"
            api.write_record(record)
            raise ReleaseError(f"deploying {idle} failed (exit {code}); traffic was not shifted", code)

        # 2. Wait for the idle colour's targets.
        self._wait_healthy(idle)

        # 3. Shift in steps, validating each; roll back on the first failure.
        for step in plan.steps:
            weights = {idle: step, live: 100 - step}
            record.weights = weights
            record.last["status"] = f"shifting {step}%"
            api.write_record(record)
            api.set_weights(weights)
            say(f"[{plan.env}] {idle} {step}% / {live} {100 - step}%")
            if plan.bake_seconds:
                time.sleep(plan.bake_seconds)
            problem = self._validate(idle, step)
            if problem:
                say(f"[{plan.env}] validation failed at {step}%: {problem}; rolling back to {before}")
                record.weights = before
                record.last.update(status="rolled-back", reason=problem, at=_now())
                api.write_record(record)
                api.set_weights(before)
                return EXIT_BLOCKED
        record.live = idle
        record.last.update(status="released", at=_now())
        api.write_record(record)
        say(f"[{plan.env}] released {plan.version}: {idle} is live")
        return EXIT_OK

    def _wait_healthy(self, colour: str) -> None:
        deadline = time.monotonic() + self.plan.health_timeout_seconds
        while True:
            states = self.api.target_health(colour)
            if states and all(s == "healthy" for s in states):
                self.say(f"[{self.plan.env}] {colour}: {len(states)} healthy target(s)")
                return
            if time.monotonic() > deadline:
                raise ReleaseError(f"{colour} targets not healthy after {self.plan.health_timeout_seconds:g}s "
                                   f"({states or 'none registered'}); traffic was not shifted")
            time.sleep(5)

    def _validate(self, colour: str, weight: int) -> str | None:
        """None when the step is healthy, else what is wrong."""
        if self.plan.validate_command:
            env = {**os.environ, "RELEASE_ENV": self.plan.env, "RELEASE_COLOUR": colour,
                   "RELEASE_WEIGHT": str(weight), "RELEASE_VERSION": self.plan.version,
                   "RELEASE_TARGET_GROUP_ARN": self.api.target_group_arn(colour),
                   "RELEASE_REGION": self.region, "RELEASE_ENDPOINT": self.endpoint or ""}
            proc = subprocess.run(self.plan.validate_command, shell=True, env=env, capture_output=True, text=True,
                                  timeout=600)
            if proc.returncode != 0:
                return f"--validate-command exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}"
        states = self.api.target_health(colour)
        if not states or any(s != "healthy" for s in states):
            return f"{colour} targets not all healthy: {states or 'none registered'}"
        if self.api.error_alarm_state() == "ALARM":
            return "the target 5xx-rate alarm is in ALARM"
        return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_release(args: argparse.Namespace) -> int:
    """``release --env E --version V``: deploy the idle colour, shift traffic in steps, roll back on failure."""
    from envs import SettingsError

    from . import cli_helpers as helpers, synth as synth_mod
    from .commands import cmd_deploy
    from .local import EmulatorError
    from .run import PipelineError
    from .tfconfig import TerraformSetupError

    try:
        settings = synth_mod.load_settings([args.env], args.envs_dir)[args.env]
    except SettingsError as exc:
        return helpers.bad_settings(exc)
    if not settings.app.enabled:
        return helpers.refuse_switched_off(args.env, args.envs_dir, "app.enabled", "app tier to release")
    app = settings.app
    try:
        steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else app.release_steps
        if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps) or \
                any(a >= b for a, b in zip(steps, steps[1:])):
            raise ValueError
    except ValueError:
        helpers.fail(f"error: --steps {args.steps!r} must be increasing percentages ending at 100, e.g. 10,50,100")
        return EXIT_BAD_INPUT
    from workload import package

    artifact_file = getattr(args, "artifact", None)
    try:
        package.check_version(args.version)
        if app.workload == "image":
            if artifact_file:
                raise ValueError("--artifact is only used with app.workload = 'artifact' or 'reference'; this "
                                 "environment runs its image (app.workload = 'image'): release with --image-id")
            artifact = None
        elif artifact_file:
            artifact = package.from_file(Path(artifact_file), args.version)
        elif app.workload == "artifact":
            raise ValueError("app.workload = 'artifact': give your tarball with --artifact FILE")
        else:
            artifact = package.build(args.version)
    except OSError as exc:
        helpers.fail(f"error: --artifact {artifact_file}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except ValueError as exc:
        helpers.fail(f"error: {exc}")
        return EXIT_BAD_INPUT
    plan = ReleasePlan(env=args.env, version=args.version, steps=steps, artifact=artifact,
                       bake_seconds=app.release_bake_seconds if args.bake_seconds is None else args.bake_seconds,
                       health_timeout_seconds=app.release_health_timeout_seconds,
                       validate_command=args.validate_command, image_id=args.image_id)

    def deploy() -> int:
        return cmd_deploy(argparse.Namespace(env=args.env, target=args.target, envs_dir=args.envs_dir,
                                                      approve=[], lock_timeout=args.lock_timeout, recover=False,
                                                      waivers=None))

    try:
        endpoint = helpers.target(args.target).endpoint
        api = AppTierApi(settings.region, endpoint, settings.name_prefix)
        return Release(api, plan, dict(app.initial_weights), app.image_ssm_parameter, deploy, say=helpers.say,
                       endpoint=endpoint, region=settings.region).run()
    except ReleaseError as exc:
        helpers.fail(f"error: {exc}")
        return exc.exit_code
    except PipelineError as exc:
        helpers.fail(f"error: {exc}")
        return exc.exit_code
    except (TerraformSetupError, EmulatorError) as exc:
        helpers.fail(f"error: {exc}")
        return EXIT_TOOL


def _release_arguments(p: argparse.ArgumentParser) -> None:
    from .cli_helpers import env_argument, lock_timeout_argument, result_format_argument, target_argument

    env_argument(p)
    target_argument(p)
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
    lock_timeout_argument(p, "how long the deploy waits for the state lock")
    result_format_argument(p)


COMMANDS = (Command("release", "blue-green release of the app tier: deploy the idle colour, shift traffic in steps "
                               "with validation, roll back automatically on failure", _release_arguments, cmd_release,
                    json_result=True),)
