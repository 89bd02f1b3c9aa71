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


# -- ordering and workers -------------------------------------------------------------------------------------------
# `make test` runs the suite on pytest-xdist workers (`-n 3 --dist loadgroup --no-loadscope-reorder`). Each worker has
# its own session fixtures (its own emulator, its own synthesized app). Tests that share something expensive form one
# group, which one worker runs in collection order: the tests of a shared deployment (the longest groups, collected
# first so that they start first, each on a worker of its own), and the tests of a module with a module-scoped fixture
# (a plan of every environment, a throwaway PostgreSQL...), which would otherwise be set up again on every worker.
# Every other test goes to whichever worker is free. Tests marked `last` (the destroy of the shared dev deployment)
# run after every other test of their group (nothing outside the group uses that deployment); a run without workers
# keeps the same order: the deployment groups first, then the rest.

#: fixture of a shared deployment -> the xdist group of the tests that use it, in the order the groups start
DEPLOYMENT_GROUPS = {"delivery": "delivery", "deployed_dev": "dev-deployment"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last: run after every other test of its group (destroys the shared deployment)")


def _group(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    shared = next((group for fixture, group in DEPLOYMENT_GROUPS.items() if fixture in names), None)
    if shared:
        return shared
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return item.nodeid.split("::")[0] if any(d and d[-1].scope == "module" for d in defs) else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    groups = {item.nodeid: _group(item) for item in items}
    starts = list(DEPLOYMENT_GROUPS.values())

    def rank(item: pytest.Item) -> tuple[int, bool]:
        group = groups[item.nodeid]
        return (starts.index(group) if group in starts else len(starts),
                item.get_closest_marker("last") is not None)

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
def synth_aws(workspace: Path, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every environment synthesized once for the aws target: env -> parsed cdk.tf.json."""
    from envs.target import AWS
    from pipeline.synth import synthesize

    result = synthesize(settings, AWS, workspace / "cdktf.out", commit="0123456789ab")
    return {name: json.loads(path.read_text()) for name, path in result.stacks.items()}


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
def synth_local(workspace: Path, settings: dict[str, Any], emulator: LocalEmulator) -> Path:
    """Every environment synthesized once for the local target; returns the output folder."""
    from envs.target import Target
    from pipeline.synth import synthesize

    outdir = workspace / "cdktf.local.out"
    synthesize(settings, Target(kind="local", endpoint=emulator.endpoint), outdir, commit="0123456789ab")
    return outdir


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
