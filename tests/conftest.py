"""Shared fixtures: one synthesized app per session and target, one emulator per test run, one local deployment of
dev shared by every end-to-end test (deployed by two concurrent ``deploy`` runs, the second of which must be
refused by the state lock).

Tests that need Terraform, the provider mirror or moto fail with a message naming what is missing; they never skip.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# Property tests (tests/test_properties.py): on CI the examples are derived from each test (the same every run, no
# example database), so a red run is reproducible; a developer's run explores new examples each time.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - a dev dependency (pyproject.toml)
    pass


# -- ordering and workers -------------------------------------------------------------------------------------------
# `make test` runs the suite on pytest-xdist workers (`-n 4 --dist loadgroup --no-loadscope-reorder`). Each worker has
# its own session fixtures (its own emulator, its own synthesized app). Tests that share something expensive form one
# group, which one worker runs in collection order: the tests of a shared deployment (the longest groups, collected
# first so that they start first, each on a worker of its own), and the tests of a module with a module-scoped fixture
# (a plan of every environment, a throwaway PostgreSQL...), which would otherwise be set up again on every worker.
# Every other test goes to whichever worker is free. The order the units are handed out: the deployment groups, then
# every other unit that runs Terraform, an emulator or a stock tool (a test or group marked `e2e`, `validate` or
# `slow`), then the cheap tests, so that the workers end on small units at about the same time (with the heavy units
# last, one worker ran the Terraform runner's lifecycle and another the aws-variant plans for the last 90 s while the
# other two had finished). A run without workers keeps the same order.

#: fixture of a shared deployment -> the xdist group of the tests that use it, in the order the groups start (on four
#: workers the first four at once: the orchestrator's staging runs, the shared dev deployment, the release environment,
#: the release/promotion/cleanup runs; the two-region DR deployment when the first of them ends)
DEPLOYMENT_GROUPS = {"delivery": "delivery", "deployed_dev": "dev-deployment", "release_env": "release",
                     "promotion": "promotion", "dr_env": "dr"}
#: expensive session fixtures whose tests share one worker, so that one worker pays for them (a Checkov gate over every
#: compliance fixture per stage)
SESSION_GROUPS = {"static_all": "compliance-gate-all", "plan_all": "compliance-gate-all"}


def pytest_configure(config: pytest.Config) -> None:
    _install_overall_timeout_report(config)


# -- markers: every test that needs the emulator or Terraform says so ---------------------------------------------
# `make test-fast` deselects `e2e` and `validate` (and `slow`, the proofs of equivalence with stock tools and installed
# packages); a test that starts an emulator or runs Terraform without `e2e` or `validate` would make it slow (or fail
# on a machine without Terraform), so collection refuses it.

#: fixtures that start a moto server, plan with Terraform or deploy (directly or through the fixtures they use)
HEAVY_FIXTURES = frozenset({"emulator", "deployed_dev", "delivery", "promotion", "release_env", "dr_env",
                            "aws_plans"})
HEAVY_MARKERS = frozenset({"e2e", "validate"})


def unmarked_heavy_tests(items: list[pytest.Item]) -> list[str]:
    """Tests that use a heavy fixture (or live in a ``*_e2e.py`` module) without an ``e2e``/``validate`` marker."""
    bad = []
    for item in items:
        uses = sorted(HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())))
        module = item.nodeid.split("::")[0]
        if module.endswith("_e2e.py"):
            uses.append("an *_e2e.py module")
        if uses and not HEAVY_MARKERS & {m.name for m in item.iter_markers()}:
            bad.append(f"{item.nodeid} (uses {', '.join(uses)})")
    return bad


# -- hang safety: what was running when the overall limit of `.ci/run` hit ------------------------------------------
# `.ci/run` runs `make test` under `timeout --signal=USR1`, which signals the whole process group: every pytest
# process (the controller and each xdist worker) then prints the test it is running and the stack of every thread
# (the test function's frame names the line it waits on), and stops. Per-test limits are pytest-timeout's
# (`timeout` in pyproject.toml, larger `pytest.mark.timeout` on the end-to-end modules).

_RUNNING: dict[str, str] = {}


def _install_overall_timeout_report(config: pytest.Config) -> None:
    import faulthandler
    import signal

    def report(signum: int, frame: Any) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # pytest holds fd 2 during a test: give it back so the report reaches the log
            capture.suspend_global_capture(in_=False)
        who = os.environ.get("PYTEST_XDIST_WORKER", "controller")
        running = _RUNNING.get("nodeid", "no test (between tests or collecting)")
        sys.stderr.write(f"\n=== overall time limit (signal {signum}) [{who}]: running {running} ===\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.write(f"=== [{who}] stopped while running {running} ===\n")
        sys.stderr.flush()
        os._exit(124)

    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, report)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    _RUNNING["nodeid"] = item.nodeid


def _group(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    shared = next((group for fixture, group in DEPLOYMENT_GROUPS.items() if fixture in names), None)
    if shared:
        return shared
    shared = next((group for fixture, group in SESSION_GROUPS.items() if fixture in names), None)
    if shared:
        return shared
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return item.nodeid.split("::")[0] if any(d and d[-1].scope == "module" for d in defs) else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    groups = {item.nodeid: _group(item) for item in items}
    starts = list(DEPLOYMENT_GROUPS.values())
    heavy = {groups[item.nodeid] or item.nodeid for item in items
             if (HEAVY_MARKERS | {"slow"}) & {m.name for m in item.iter_markers()}}

    def rank(item: pytest.Item) -> int:
        group = groups[item.nodeid]
        if group in starts:
            return starts.index(group)
        return len(starts) + (0 if (group or item.nodeid) in heavy else 1)

    unmarked = unmarked_heavy_tests(items)
    if unmarked:
        raise pytest.UsageError("these tests start an emulator, run Terraform or deploy but are not marked "
                                "`e2e` or `validate` (add `pytestmark = pytest.mark.e2e` or a mark on the test):\n  "
                                + "\n  ".join(unmarked))
    items.sort(key=rank)
    for item in items:
        if groups[item.nodeid]:
            item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))


# -- prerequisites ------------------------------------------------------------------------------------------------

def require_tools() -> None:
    """Fail (never skip) when Terraform, the provider mirror or moto is missing, saying what to install or set."""
    problems = []
    if shutil.which("terraform") is None:
        problems.append("terraform is not on PATH: install Terraform 1.11+ (the CI image has 1.11.4)")
    mirror = os.environ.get("TF_PROVIDER_MIRROR")
    if not mirror:
        problems.append("TF_PROVIDER_MIRROR is not set: point it at the folder that holds "
                        "registry.terraform.io/hashicorp/aws/5.100.0 (find / -type d -name registry.terraform.io)")
    elif not (Path(mirror) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        problems.append(f"TF_PROVIDER_MIRROR={mirror} holds no registry.terraform.io/hashicorp/aws: fix the path")
    if importlib.util.find_spec("moto") is None:
        problems.append("moto is not installed: pip install -e '.[dev]'")
    if problems:
        pytest.fail("missing test prerequisites:\n  " + "\n  ".join(problems), pytrace=False)


# -- workspace and synthesis --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch working folder for the session; the build folder (CLI config, emulator state) lives inside."""
    work = tmp_path_factory.mktemp("work")
    os.environ["PLATFORM_BUILD_DIR"] = str(work / ".build")
    return work


@pytest.fixture(scope="session")
def settings() -> dict[str, Any]:
    import envs

    return envs.load_all()


@pytest.fixture(scope="session")
def synth_aws(workspace: Path, settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, dict[str, Any]]:
    """Every environment synthesized once for the aws target: env -> parsed cdk.tf.json."""
    from envs.target import AWS

    stacks = _shared_synthesis("aws", AWS, settings, workspace / "cdktf.out", tmp_path_factory)
    return {name: json.loads(path.read_text()) for name, path in stacks.items()}


def _shared_synthesis(kind: str, target: Any, settings: dict[str, Any], out: Path,
                      tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every environment synthesized for ``target`` into ``out`` at the digest tool's commit: env -> cdk.tf.json.

    Under xdist the workers of one run share one synthesis per target (the same settings, commit and code: the output
    holds no path of its own): the first worker writes it, the others wait on the lock and copy the tree."""
    from pipeline.synth import synthesize
    from tools.synth_digests import COMMIT

    shared = _run_shared_dir(tmp_path_factory)
    if shared is None:
        return dict(synthesize(settings, target, out, commit=COMMIT).stacks)
    import fcntl

    done = shared / f"synth_{kind}"
    with open(shared / f"synth_{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done / "complete.json").exists():
            result = synthesize(settings, target, done / "cdktf.out", commit=COMMIT)
            (done / "complete.json").write_text(json.dumps(
                {name: str(path.relative_to(done / "cdktf.out")) for name, path in result.stacks.items()}))
    shutil.copytree(done / "cdktf.out", out)
    return {name: out / rel for name, rel in json.loads((done / "complete.json").read_text()).items()}


def _run_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A folder every xdist worker of this run shares (the parent of the workers' base temp), None without xdist."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session")
def synth_aws_dir(workspace: Path, synth_aws: dict[str, Any]) -> Path:
    return workspace / "cdktf.out"


@dataclass(frozen=True)
class LocalEmulator:
    endpoint: str
    pid: int
    state_dir: Path


@contextmanager
def own_emulator(state_dir: Path) -> Iterator[LocalEmulator]:
    """A moto server of its own on a free port (state in ``state_dir``), stopped by its process id on exit."""
    require_tools()
    from pipeline import local

    running = local.start(state_dir)
    try:
        yield LocalEmulator(running.endpoint, running.pid, state_dir)
    finally:
        local.stop(state_dir)


@pytest.fixture(scope="session")
def emulator(workspace: Path) -> Any:
    """This run's own moto server on a free port, stopped by its process id at the end."""
    with own_emulator(workspace / ".build" / "local") as running:
        yield running


@pytest.fixture(scope="session")
def synth_local(workspace: Path, settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every environment synthesized once for the local target; returns the output folder (``stacks/<env>/``).
    Synthesis needs no running emulator: the endpoint (tools/synth_digests.py's, port 9, discard) is only written into
    the provider and backend blocks and never contacted; tests/test_synth_digests.py compares this output with the
    committed digests."""
    from envs.target import Target
    from tools.synth_digests import LOCAL_ENDPOINT

    outdir = workspace / "cdktf.local.out"
    _shared_synthesis("local", Target(kind="local", endpoint=LOCAL_ENDPOINT), settings, outdir, tmp_path_factory)
    return outdir


def primary_region(doc: dict[str, Any]) -> dict[str, Any]:
    """A synthesized stack without its DR-region pilot light (``pilot-light_*``, prod's `data.dr.mode`): for tests of
    the primary region's tiers; the pilot light itself is tests/test_dr.py's."""
    out = dict(doc)
    out["resource"] = {rtype: {n: r for n, r in items.items() if not n.startswith("pilot-light_")}
                       for rtype, items in doc.get("resource", {}).items()}
    return out


def resources(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """The resources of ``rtype`` in a synthesized stack: name -> config."""
    return doc.get("resource", {}).get(rtype, {})


# -- one local deployment of dev for every end-to-end test --------------------------------------------------------

def cli(*args: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run ``python main.py ARGS`` in ``cwd`` with the session's build folder (and so its emulator)."""
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@dataclass
class Deployment:
    env: str
    endpoint: str
    region: str
    cwd: Path
    first: subprocess.CompletedProcess[str]
    """The deploy that applied."""
    concurrent: subprocess.CompletedProcess[str]
    """A second deploy of the same environment started while the first was applying."""
    artifacts: Path
    """Copies of what the applying deploy synthesized and gated (``cdk.tf.json``, ``tfplan.json``, ``review.md``),
    kept because later commands re-synthesize the stack folder."""

    def client(self, service: str) -> Any:
        from pipeline.aws import client

        return client(service, self.region, self.endpoint)


def _deploy_twice_concurrently(env: str, cwd_a: Path, cwd_b: Path) -> tuple[Any, Any]:
    """Start deploy A; once it is applying, run deploy B of the same environment; return both results."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "deploy", "--env", env], cwd=cwd_a,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    applying = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "terraform apply" in line:
                applying.set()
        applying.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    applying.wait(timeout=900)
    concurrent = cli("deploy", "--env", env, cwd=cwd_b) if proc.poll() is None else None
    stderr = proc.stderr.read() if proc.stderr else ""
    code = proc.wait(timeout=1800)
    reader.join(timeout=10)
    first = subprocess.CompletedProcess(proc.args, code, "".join(lines), stderr)
    return first, concurrent


@pytest.fixture(scope="session")
def deployed_dev(workspace: Path, emulator: LocalEmulator, settings: dict[str, Any]) -> Deployment:
    """dev deployed to the session's emulator through the real CLI (bootstrap, gates, apply, re-plan)."""
    cwd_a, cwd_b = workspace / "deploy-a", workspace / "deploy-b"
    cwd_a.mkdir(exist_ok=True)
    cwd_b.mkdir(exist_ok=True)
    started = time.monotonic()
    first, concurrent = _deploy_twice_concurrently("dev", cwd_a, cwd_b)
    assert first.returncode == 0, f"deploy of dev failed ({time.monotonic() - started:.0f}s):\n{first.stdout}\n{first.stderr}"
    assert concurrent is not None, "the first deploy finished before the concurrent one could start"
    artifacts = workspace / "deployed-dev"
    artifacts.mkdir(exist_ok=True)
    for name in ("cdk.tf.json", "tfplan.json", "review.md"):
        shutil.copy(cwd_a / "cdktf.local.out" / "stacks" / "dev" / name, artifacts / name)
    return Deployment("dev", emulator.endpoint, settings["dev"].region, cwd_a, first, concurrent, artifacts)
