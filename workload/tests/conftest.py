"""Real servers for the workload's tests: a throwaway PostgreSQL cluster (the machine's server binaries, as
tests/test_masking.py does), a Redis server (Debian ``redis-server``, see .ci/install-system.sh) with an ACL user
and a password, and the project's emulator (moto server, S3 and Secrets Manager). Each is started on a free port and
stopped by its own handle (pg_ctl on its data folder, the Redis process, the emulator's pid). A missing server binary
fails the test with what to install; nothing is skipped.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    dbname: str


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """PostgreSQL (15 where installed) with a password-authenticated role ``app`` and database ``app``."""
    import psycopg

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql-15",
                    pytrace=False)
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="workload-pg-", dir="/tmp"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = next((u for u in ("postgres", "nobody") if _user_exists(u)), None)
        assert user, "no unprivileged user to run PostgreSQL as"
        shutil.chown(root, user)
        shutil.chown(sock, user)
        run_as = ["runuser", "-u", user, "--"]
    init = subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"], capture_output=True, text=True,
                          env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    port = free_port()
    log = root / "pg.log"
    started = subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                              "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                             capture_output=True, text=True, env=env)
    assert started.returncode == 0, started.stdout + started.stderr + (log.read_text() if log.exists() else "")
    try:
        with psycopg.connect(host=str(sock), port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE ROLE app LOGIN PASSWORD 'app-db-pw'")
            conn.execute("CREATE DATABASE app OWNER app")
        yield Postgres("127.0.0.1", port, "app", "app-db-pw", "app")
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Redis:
    host: str
    port: int
    user: str
    password: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """redis-server with the default user off and an ACL user ``app`` (the shape of the platform's cache: the
    ``default`` user is disabled, the app user has its own credentials), no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/install-system.sh)",
                    pytrace=False)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="workload-redis-"))
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), "--enable-debug-command", "local",
                             "--user", "default", "off",
                             "--user", "app", "on", ">app-cache-pw", "~*", "+@all"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not listen within 10 s"
                time.sleep(0.05)
        yield Redis("127.0.0.1", port, "app", "app-cache-pw", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Emulator:
    endpoint: str


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The project's emulator (moto server) on a free port, stopped by its pid."""
    from pipeline import local

    state = Path(tempfile.mkdtemp(prefix="workload-moto-"))
    running = local.start(state)
    try:
        yield Emulator(running.endpoint)
    finally:
        local.stop(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def aws_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator's credentials and endpoint for boto3 in this process (and subprocesses started with os.environ)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
                       "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": emulator.endpoint}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return emulator
