"""The local target's podman listing, started before a `grid up` has imported anything heavy (issue 20, start-up).

A no-op `grid up` on the lab spends ~0.1 s waiting on three podman listings (grid.targets.local.probe) after
~0.2 s of imports and spec loading it could have overlapped with. `start` launches them at the CLI's entry,
for every grid-labelled object (the cluster's name is not known yet), and the probe `take`s them, filtered to
its cluster, instead of listing again.

A listing taken before the state lock can be older than what a run that held the lock meanwhile did; such a
run writes the state when it ends. So `take` hands the listing over only once `check` saw, under the lock, a
state file older than the listing's start (by a margin: file times come from a coarse clock); in any other
case (another store, no state yet, a podman failure) the probe lists again, as it always did.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LISTINGS = ((("ps", "--all"), "container"), (("network", "ls"), "network"), (("volume", "ls"), "volume"))
"""What the probe lists, and the kind of object each listing names."""
CLUSTER_LABEL = "grid.cluster"
MARGIN_NS = 30_000_000
"""A state written less than this before the listing started may postdate it: file times come from the kernel's
coarse clock (a tick, ≤ 10 ms). Not more: a no-op right after an apply (CI, `grid up && grid up`) starts
≥ 50 ms after that run wrote its state, and a listing thrown away costs the no-op a second one."""


@dataclass
class _Early:
    started_ns: int
    processes: list[subprocess.Popen[bytes]]
    trusted: bool = False  # check() saw, under the lock, a state file older than the listing
    listings: list[list[dict[str, Any]]] | None = field(default=None)


_early: _Early | None = None


def start() -> None:
    """Start the listings in the background (nothing when podman cannot be run: the probe reports that)."""
    global _early
    if _early is not None:
        return
    from grid.drivers.podman import Podman  # ~2 ms; the listing's environment is exactly the probe's

    podman = Podman()
    started = time.time_ns()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for argv, _ in LISTINGS:
            processes.append(subprocess.Popen(  # a session of its own, as every podman call (grid.drivers.podman)
                [podman.binary, *argv, "--filter", f"label={CLUSTER_LABEL}", "--format", "json"], env=podman.env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True))
    except OSError:
        _reap(processes)
        return
    _early = _Early(started, processes)
    atexit.register(_discard)  # a run that never probes (another target, a failure) leaves no podman behind


def check(state_file: Path | None) -> None:
    """Under the state lock: the listing may stand in for the probe's own only when the state file (None: not a
    plain file store) was last written well before the listing started."""
    if _early is None:
        return
    try:
        written = state_file.stat().st_mtime_ns if state_file is not None else None
    except OSError:
        written = None
    _early.trusted = written is not None and written < _early.started_ns - MARGIN_NS
    if not _early.trusted:
        _discard()


def take(cluster: str, timeout: float) -> list[list[dict[str, Any]]] | None:
    """The three listings (LISTINGS order) of `cluster`'s objects, once, when check() trusted them; else None."""
    global _early
    early, _early = _early, None
    if early is None or not early.trusted:
        if early is not None:
            _reap(early.processes)
        return None
    listings: list[list[dict[str, Any]]] = []
    try:
        for process in early.processes:
            out, _ = process.communicate(timeout=timeout)
            if process.returncode != 0:
                return None
            listing = json.loads(out or b"[]")
            if not isinstance(listing, list):
                return None
            listings.append([entry for entry in listing if _cluster_of(entry) == cluster])
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return None
    finally:
        _reap(early.processes)
    return listings


def _cluster_of(entry: object) -> str | None:
    """The grid.cluster label of a listed object: what podman's `label=grid.cluster=NAME` filter matches."""
    if not isinstance(entry, dict):
        return None
    labels = entry.get("Labels", entry.get("labels"))
    return str(labels.get(CLUSTER_LABEL)) if isinstance(labels, dict) and CLUSTER_LABEL in labels else None


def _discard() -> None:
    global _early
    if _early is not None:
        _reap(_early.processes)
        _early = None


def _reap(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        with contextlib.suppress(OSError):
            if process.poll() is None:
                process.kill()
            process.communicate()
