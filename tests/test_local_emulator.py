"""The local emulator lifecycle (real moto server processes, no mocks)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import local
from pipeline.aws import client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state folder whose emulator is stopped by its recorded pid at the end of the module."""
    path = tmp_path_factory.mktemp("emulator")
    yield path
    local.stop(path)


@pytest.fixture(scope="module")
def emulator(state_dir: Path) -> local.Emulator:
    """One moto server on a free port for this module."""
    return local.start(state_dir)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_records_and_serves(emulator: local.Emulator, state_dir: Path) -> None:
    assert emulator.endpoint == f"http://127.0.0.1:{emulator.port}"
    assert _pid_alive(emulator.pid)
    assert (state_dir / "moto.json").is_file()
    assert local.status(state_dir) == emulator


def test_start_is_idempotent(emulator: local.Emulator, state_dir: Path) -> None:
    assert local.start(state_dir) == emulator
    assert local.start(state_dir, port=emulator.port) == emulator
    with pytest.raises(local.EmulatorError, match="already runs on port"):
        local.start(state_dir, port=emulator.port + 1)


def test_client_and_reset(emulator: local.Emulator) -> None:
    s3 = client("s3", "eu-west-1", emulator.endpoint)
    s3.create_bucket(Bucket="emulator-test", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["emulator-test"]
    local.reset(emulator.endpoint)
    assert s3.list_buckets()["Buckets"] == []


def test_a_retry_of_an_answered_call_gets_the_first_answer(emulator: local.Emulator, state_dir: Path) -> None:
    """A lost answer must not turn the SDK's retry into a second operation: the state lock taken by attempt 1 would
    refuse attempt 2 (and stay). Another call (a new invocation id) is still refused by the lock."""
    import uuid

    from botocore.exceptions import ClientError

    ddb = client("dynamodb", "us-east-1", emulator.endpoint)
    ddb.create_table(TableName="retry-locks", KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    headers = {"amz-sdk-invocation-id": str(uuid.uuid4()), "amz-sdk-request": "attempt=1; max=3"}

    def same_call(request: object, **_: object) -> None:
        for name, value in headers.items():
            request.headers[name] = value  # type: ignore[attr-defined]

    ddb.meta.events.register("before-send.dynamodb.PutItem", same_call)
    lock = dict(TableName="retry-locks", Item={"LockID": {"S": "state"}, "Info": {"S": "run 1"}},
                ConditionExpression="attribute_not_exists(LockID)")
    ddb.put_item(**lock)                                   # attempt 1 takes the lock
    headers["amz-sdk-request"] = "attempt=2; max=3"
    ddb.put_item(**lock)                                   # its retry: the same (successful) answer
    assert f"call {headers['amz-sdk-invocation-id']}" in (state_dir / "moto.log").read_text()
    headers["amz-sdk-invocation-id"] = str(uuid.uuid4())   # another run's call
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.put_item(**lock)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.put_item(**lock)                               # an error answer is not replayed: the retry runs
    assert ddb.scan(TableName="retry-locks")["Count"] == 1


def test_managed_policies_are_loaded(emulator: local.Emulator) -> None:
    iam = client("iam", "us-east-1", emulator.endpoint)
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")["Policy"]
    assert policy["PolicyName"] == "ReadOnlyAccess"


def test_stop_then_status_and_restart_on_given_port(tmp_path: Path) -> None:
    first = local.start(tmp_path)
    try:
        assert local.stop(tmp_path) is True
        assert not _pid_alive(first.pid)
        assert local.status(tmp_path) is None
        assert not (tmp_path / "moto.json").exists()
        assert local.stop(tmp_path) is False
        again = local.start(tmp_path, port=first.port)
        assert again.port == first.port and again.pid != first.pid
    finally:
        local.stop(tmp_path)


def test_start_fails_with_log_tail_when_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(local.EmulatorError, match=rf"127\.0\.0\.1:{port}.*moto\.log") as info:
            local.start(tmp_path, port=port, timeout=10)
    assert "address already in use" in str(info.value).lower()
    assert local.status(tmp_path) is None
    assert not (tmp_path / "moto.json").exists()


def test_stale_state_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "moto.json").write_text('{"pid": 999999999, "port": 1, "endpoint": "http://127.0.0.1:1"}')
    assert local.status(tmp_path) is None
    assert local.stop(tmp_path) is False
    assert not (tmp_path / "moto.json").exists()


def test_missing_moto_is_reported_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = local.importlib.util.find_spec
    monkeypatch.setattr(
        local.importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real_find_spec(name, *a)
    )
    with pytest.raises(local.EmulatorError, match=r"moto\[server\] is not installed: pip install -e '\.\[dev\]'"):
        local.start(tmp_path)
