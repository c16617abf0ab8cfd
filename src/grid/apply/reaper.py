"""Leftovers of killed runs: every process a run starts carries its tag; the next run ends those whose run died.

`kill -9` of grid ends grid's process group, but not everything grid started: Pulumi starts its plugins
in process groups of their own, and ansible-runner runs Ansible in a session of its own (it dies at the
pty's hangup, seconds later). While `up` and `destroy` run, `GRID_RUN=<workdir>|<pid>|<start>` is in
the environment every child inherits; before they change anything, they SIGKILL the processes tagged
with their work directory whose grid process (pid and start time) is gone — never a live run's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

RUN_ENV = "GRID_RUN"
# podman's own daemons outlive every grid run by design (and never carry grid's environment anyway).
NEVER = frozenset({"conmon", "podman", "netavark", "aardvark-dns", "catatonit", "slirp4netns", "pasta"})


def process_start(pid: int) -> str:
    """Start time of `pid` in clock ticks since boot ("" if unknown): with the pid, names one process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return ""


def run_tag(workdir: Path, pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{workdir.resolve()}|{pid}|{process_start(pid)}"


@contextlib.contextmanager
def tagged(workdir: Path) -> Iterator[str]:
    """Tag every process started inside the block as this run's."""
    tag = run_tag(workdir)
    previous = os.environ.get(RUN_ENV)
    os.environ[RUN_ENV] = tag
    try:
        yield tag
    finally:
        if previous is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = previous


def _owner_alive(tag: str) -> bool:
    _, pid, start = tag.rsplit("|", 2)
    return pid.isdigit() and process_start(int(pid)) == start != ""


def orphans(workdir: Path) -> list[int]:
    """Processes tagged with `workdir` whose run is gone."""
    prefix = f"{RUN_ENV}={workdir.resolve()}|".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            if prefix not in environ:
                continue
            name = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:  # gone meanwhile, or another user's
            continue
        tag = next(v for v in environ.split(b"\0") if v.startswith(prefix)).decode(errors="replace")
        if name not in NEVER and not _owner_alive(tag.split("=", 1)[1]):
            found.append(int(entry))
    return found


def reap(workdir: Path, *, timeout: float = 10.0) -> list[int]:
    """SIGKILL the orphans of `workdir` and wait (up to `timeout`) until they are gone; returns their pids."""
    victims = orphans(workdir)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in victims):
        time.sleep(0.05)
    return victims


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True
