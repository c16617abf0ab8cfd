"""Leftovers of killed runs: every process a run starts carries its tag; the next run ends those whose run died.

`kill -9` of grid ends grid's process group, but not everything grid started: Pulumi starts its plugins
in process groups of their own, and ansible-runner runs Ansible in a session of its own (it dies at the
pty's hangup, seconds later). While `up` and `destroy` run, `GRID_RUN=<workdir>|<pid>|<start>` is in
the environment every child inherits; before they change anything, they SIGKILL the processes tagged
with their work directory whose grid process (pid and start time) is gone — never a live run's.

Files too: the temporary directories a run makes in the work directory (ansible-runner's private data
dir, whose artifacts hold Ansible's environment; the gates of a run started early) are named after their
process (`owned_prefix`), and the same step removes those whose process is gone, with the temp files of
interrupted atomic writes (`.known_hosts.<pid>.<thread>.tmp`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
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


def end_processes_with(variable: str, value: str) -> list[int]:
    """SIGKILL every process (but this one) whose environment holds `variable=value` exactly: a tree of
    processes some of which put themselves in sessions of their own (Ansible's task workers)."""
    entry = f"{variable}={value}".encode()
    ended = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            if entry not in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                continue
            os.kill(int(name), signal.SIGKILL)
        except (OSError, ProcessLookupError):  # gone meanwhile, or another user's
            continue
        ended.append(int(name))
    return ended


def reap(workdir: Path, *, timeout: float = 10.0) -> list[int]:
    """SIGKILL the orphans of `workdir` and wait (up to `timeout`) until they are gone, then remove the
    temporary files of dead runs (remove_leftovers); returns the pids ended."""
    victims = _kill_orphans(workdir, timeout)
    remove_leftovers(workdir)
    return victims


def _kill_orphans(workdir: Path, timeout: float) -> list[int]:
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


def owned_prefix(kind: str, pid: int | None = None) -> str:
    """Prefix of a temporary name in the work directory that says which process on which host owns it:
    `<kind>-<pid>.<start>.<host>-` (tempfile adds a random tail)."""
    pid = os.getpid() if pid is None else pid
    return f"{kind}-{pid}.{process_start(pid) or 0}.{host_id()}-"


def host_id() -> str:
    """This host, in 8 hex digits (a work directory may be shared: only its own host can see a pid)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


OWNED_DIRECTORIES = ("ansible-run", "gates")
_OWNED = re.compile(rf"^(?:{'|'.join(OWNED_DIRECTORIES)})-(\d+)\.(\d+)\.([0-9a-f]{{8}})-")
_ATOMIC_TEMP = re.compile(r"^\.known_hosts\.(\d+)\.\d+\.tmp$")
ATOMIC_TEMP_SECONDS = 10.0
UNOWNED_GRACE_SECONDS = 3600.0
"""A directory whose owner this host cannot check (made on another host sharing the work directory, or
by a grid that did not name its owner yet: `ansible-run-<random>`) goes once nothing in it changed for
this long: no run leaves its directory untouched that long."""


def remove_leftovers(workdir: Path) -> list[Path]:
    """Remove what runs that are gone left in `workdir`; a live process's files are never touched."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(workdir))
    except OSError:
        return removed
    for entry in entries:
        if _left_behind(entry):
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
            removed.append(path)
    return removed


def _left_behind(entry: os.DirEntry[str]) -> bool:
    owned = _OWNED.match(entry.name)
    if owned and owned.group(3) == host_id():
        pid, start = owned.group(1), owned.group(2)
        if start == "0":  # made while its start time could not be read: the pid alone decides
            return not Path(f"/proc/{pid}").exists()
        return process_start(int(pid)) != start
    if temp := _ATOMIC_TEMP.match(entry.name):  # written and renamed at once: old means abandoned
        return not Path(f"/proc/{temp.group(1)}").exists() and _quiet_for(Path(entry.path)) > ATOMIC_TEMP_SECONDS
    if entry.name.startswith(tuple(f"{kind}-" for kind in OWNED_DIRECTORIES)) and entry.is_dir(
            follow_symlinks=False):
        return _quiet_for(Path(entry.path)) > UNOWNED_GRACE_SECONDS
    return False


def _quiet_for(path: Path) -> float:
    """Seconds since `path`, or anything under it, last changed."""
    newest = 0.0
    with contextlib.suppress(OSError):
        newest = os.lstat(path).st_mtime
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return time.time() - newest
