"""PinnedRemote's promises with paramiko's client replaced (a thin seam): a failed connection, or a session the
node did not open in time, is tried again; a command that started is never run twice (even when its channel
went silent past the deadline); threads asking for one host share one connection."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest

from grid.drivers.ssh import PinnedRemote


class FakeChannel:
    def __init__(self, code: int) -> None:
        self.code = code

    def recv_exit_status(self) -> int:
        return self.code


class FakeStream:
    def __init__(self, text: str, code: int = 0, fail: Exception | None = None) -> None:
        self.text, self.fail, self.channel = text, fail, FakeChannel(code)

    def read(self) -> bytes:
        if self.fail is not None:
            raise self.fail
        return self.text.encode()


class Host:
    """What the fake clients of one test share: connections made, commands started, what to do."""

    def __init__(self) -> None:
        self.connects = 0
        self.refuse_connects = 0
        self.refuse_sessions = 0
        self.started: list[str] = []
        self.silent = False
        self.lock = threading.Lock()


def fake_client(host: Host) -> type:
    class FakeClient:
        def load_host_keys(self, path: str) -> None: ...

        def set_missing_host_key_policy(self, policy: Any) -> None: ...

        def connect(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)  # long enough for other threads to ask for the same host meanwhile
            with host.lock:
                host.connects += 1
                if host.refuse_connects:
                    host.refuse_connects -= 1
                    raise paramiko.SSHException("Error reading SSH protocol banner")

        def exec_command(self, command: str, timeout: float) -> tuple[None, FakeStream, FakeStream]:
            with host.lock:
                if host.refuse_sessions:  # as paramiko's open_session says it: the command was never sent
                    host.refuse_sessions -= 1
                    raise paramiko.SSHException("Timeout opening channel.")
                host.started.append(command)
            if host.silent:
                return None, FakeStream("", fail=TimeoutError("timed out")), FakeStream("")
            return None, FakeStream(f"ran {command}\n", code=255 if command == "exit 255" else 0), FakeStream("")

        def close(self) -> None: ...

    return FakeClient


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Host:
    shared = Host()
    monkeypatch.setattr(paramiko, "SSHClient", fake_client(shared))
    return shared


def remote() -> PinnedRemote:
    return PinnedRemote(user="root", private_key=Path("/nonexistent/key"), known_hosts=Path("/nonexistent/kh"))


def test_a_refused_connection_is_tried_again(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    host.refuse_connects = 2
    assert remote().run("n", "198.18.0.2", "hostname") == (0, "ran hostname\n")
    assert host.connects == 3 and host.started == ["hostname"]


def test_a_session_the_node_did_not_open_in_time_is_opened_again(host: Host,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    host.refuse_sessions = 2  # a busy node's sshd: what the heal e2e test met under CI's load
    assert remote().execute("198.18.0.2", "date +%s.%N") == (0, "ran date +%s.%N\n", "")
    assert host.started == ["date +%s.%N"]
    host.refuse_sessions = 3
    code, out, err = remote().execute("198.18.0.2", "date")
    assert (code, out) == (255, "") and "Timeout opening channel" in err and host.started == ["date +%s.%N"]


def test_a_command_that_went_silent_is_not_run_again(host: Host) -> None:
    host.silent = True
    code, output = remote().run("n", "198.18.0.2", "srun hostname")
    assert code == 255 and "timed out" in output
    assert host.started == ["srun hostname"]  # once: it may still be running on the node


def test_a_command_exiting_255_is_its_answer(host: Host) -> None:
    assert remote().run("n", "198.18.0.2", "exit 255")[0] == 255
    assert host.started == ["exit 255"]


def test_threads_share_one_connection_per_host(host: Host) -> None:
    shared = remote()
    threads = [threading.Thread(target=shared.run, args=("n", "198.18.0.2", f"echo {i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert host.connects == 1 and len(host.started) == 4
