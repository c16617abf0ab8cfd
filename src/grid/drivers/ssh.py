"""The cluster's SSH identity and pinned host keys.

One ed25519 key pair per cluster lives in the work directory's secrets folder (0600);
only its public half ever reaches state, rendered files or nodes. Connections verify
host keys against a known_hosts file built from the keys recorded when nodes were created.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_key: str
    # Other private keys to offer when connecting: the key being replaced, while a rotation is under way.
    also: tuple[Path, ...] = ()

    @property
    def private_paths(self) -> tuple[Path, ...]:
        return (self.private_path, *self.also)


def secrets_dir(workdir: Path) -> Path:
    path = workdir / "secrets"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def existing_keypair(workdir: Path) -> KeyPair | None:
    private = workdir / "secrets" / "id_ed25519"
    public = private.with_suffix(".pub")
    if private.is_file() and public.is_file():
        return KeyPair(private, public.read_text().strip())
    return None


def ensure_keypair(workdir: Path, comment: str, *, name: str = "id_ed25519") -> KeyPair:
    private = workdir / "secrets" / name
    public = private.with_name(f"{name}.pub")
    if private.is_file() and public.is_file():
        return KeyPair(private, public.read_text().strip())
    private = secrets_dir(workdir) / name
    for leftover in (private, public):
        leftover.unlink(missing_ok=True)  # the half of a pair an interrupted run left
    # Made under a temporary name and moved into place public half first, private half last: a pair is
    # whole the moment the private key appears, so no reader ever takes half a pair for the cluster's key.
    made = private.with_name(f".{name}.{os.getpid()}.tmp")
    made.unlink(missing_ok=True)
    made.with_name(made.name + ".pub").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(made)],
                   check=True, capture_output=True)
    os.chmod(made, 0o600)
    os.replace(made.with_name(made.name + ".pub"), public)
    os.replace(made, private)
    return KeyPair(private, public.read_text().strip())


def ensure_passphrase(workdir: Path) -> Path:
    """Passphrase for Pulumi's secrets provider; a file so it never appears in argv or env dumps."""
    path = secrets_dir(workdir) / "pulumi-passphrase"
    if not path.is_file() or not path.read_text().strip():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(os.urandom(24).hex())
    return path


def host_key_line(names: Iterable[str], public_key: str) -> str:
    """A known_hosts line: `name1,name2 ssh-ed25519 AAAA...` (the key's comment is dropped)."""
    kind, blob = public_key.split()[:2]
    return f"{','.join(names)} {kind} {blob}"


def write_known_hosts(path: Path, entries: Iterable[tuple[list[str], str]]) -> None:
    """Atomically: ssh processes of a run in flight may be reading the file while it is rewritten."""
    lines = sorted(host_key_line(names, key) for names, key in entries if key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text("\n".join(lines) + ("\n" if lines else ""))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or an interrupt: no partial file left behind
        raise


def ssh_options(known_hosts: Path, private_key: Path, *, batch: bool = True, also: tuple[Path, ...] = ()
                ) -> list[str]:
    options = [
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        "-i", str(private_key), *(arg for key in also for arg in ("-i", str(key))),
    ]
    return [*options, "-o", "BatchMode=yes"] if batch else options


class PinnedRemote:
    """Runs commands on nodes with paramiko, verifying host keys against the pinned known_hosts only."""

    def __init__(self, *, user: str, private_key: Path, known_hosts: Path, port: int = 22,
                 timeout: float = 10.0, also: tuple[Path, ...] = ()) -> None:
        import threading

        self._user, self._key, self._known, self._port, self._timeout = user, private_key, known_hosts, port, timeout
        self._also = also
        self._clients: dict[str, object] = {}
        self._connecting: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _client(self, address: str) -> object:
        import threading

        import paramiko

        with self._lock:
            client = self._clients.get(address)
            connecting = self._connecting.setdefault(address, threading.Lock())
        if client is not None:
            return client
        with connecting:  # threads asking for one host share one connection, not one each
            with self._lock:
                client = self._clients.get(address)
            if client is not None:
                return client
            created = paramiko.SSHClient()
            created.load_host_keys(str(self._known))
            created.set_missing_host_key_policy(paramiko.RejectPolicy())
            # paramiko takes a list of key files (its stubs say one): each is offered in turn.
            keys: Any = [str(k) for k in (self._key, *self._also)]
            created.connect(address, port=self._port, username=self._user, key_filename=keys,
                            timeout=self._timeout, allow_agent=False, look_for_keys=False,
                            banner_timeout=self._timeout)
            with self._lock:
                self._clients[address] = created
            return created

    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        """(exit code, output): stdout, and stderr after it when the command failed."""
        code, out, err = self.execute(address, command)
        return code, out if code == 0 else out + err

    def _forget(self, address: str) -> None:
        with self._lock:
            self._clients.pop(address, None)

    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]:
        """Like `run`, with stdout and stderr apart, and a read deadline of its own (`timeout`, else the
        remote's): (exit code, stdout, stderr); 255 and what went wrong in stderr when SSH failed."""
        import time

        import paramiko

        for attempt in range(3):
            try:
                client = self._client(address)
                assert isinstance(client, paramiko.SSHClient)
                _, stdout, stderr = client.exec_command(command, timeout=timeout or self._timeout)
            except (paramiko.SSHException, OSError) as exc:
                # Not connected, or the session was not opened (a busy node's sshd can miss the deadline):
                # nothing ran, so trying again is safe; a command that started is never run twice.
                self._forget(address)
                if attempt == 2:
                    return 255, "", f"{type(exc).__name__}: {exc}"
                time.sleep(1.0 + attempt)
                continue
            try:
                out = stdout.read().decode(errors="replace")
                err = stderr.read().decode(errors="replace")
                return stdout.channel.recv_exit_status(), out, err
            except (paramiko.SSHException, OSError) as exc:
                self._forget(address)
                return 255, "", f"{type(exc).__name__}: {exc}"
        return 255, "", "not connected"

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                close = getattr(client, "close", None)
                if close:
                    close()
            self._clients.clear()
