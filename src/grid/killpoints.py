"""The crash-test seam: SIGKILL the whole run at the n-th occurrence of a named point.

`GRID_KILL_AT=<point>:<n>` arms it (e.g. `state.write.before:3`); unset, `kill_point` is one
environment lookup. `GRID_PAUSE_AT=<point>:<n>` SIGSTOPs the calling process there instead, so a
test can change the world at that exact moment (e.g. take a node down before Ansible starts) and
SIGCONT it. Occurrences are counted per process: points named `worker.*` run in the Pulumi
worker, `provider.*` in Pulumi's dynamic-provider process, the rest in the grid process.

The kill takes the grid process's whole process group (recorded in `GRID_KILL_GROUP` by the first
armed call in the grid process, inherited by every child) and the caller's own group — Pulumi starts
its plugins in groups of their own — so a crash test sees what a `kill -9` of the run would leave.
Only tests set these variables; grid never does in normal use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

ENV = "GRID_KILL_AT"
PAUSE_ENV = "GRID_PAUSE_AT"
GROUP_ENV = "GRID_KILL_GROUP"

_counts: dict[str, int] = {}
_guard = threading.Lock()


def kill_point(name: str) -> None:
    """Die here, with every process of the run, if this is the armed point's n-th occurrence."""
    armed, pause = os.environ.get(ENV), os.environ.get(PAUSE_ENV)
    if not armed and not pause:
        return
    os.environ.setdefault(GROUP_ENV, str(os.getpgrp()))
    with _guard:
        _counts[name] = count = _counts.get(name, 0) + 1
    if pause and _matches(pause, name, count):
        os.kill(os.getpid(), signal.SIGSTOP)
    if armed and _matches(armed, name, count):
        kill_run()


def _matches(armed: str, name: str, count: int) -> bool:
    point, _, nth = armed.rpartition(":")
    return point == name and nth.strip() == str(count)


def kill_run() -> None:
    """SIGKILL the run's process group and this process's own group (this process last)."""
    own = os.getpgrp()
    try:
        run = int(os.environ.get(GROUP_ENV, own))
    except ValueError:
        run = own
    for group in dict.fromkeys((run, own)):
        if group != own:
            _killpg(group)
    _killpg(own)
    os.kill(os.getpid(), signal.SIGKILL)  # not reached unless the group kill was refused


def _killpg(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
