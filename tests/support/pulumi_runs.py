"""A real `pulumi up` (Automation API, inline program, no plugins) against a DIY backend, to leave or to
prove what grid's lock cleanup must handle: the lock of a `pulumi` killed while it held it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = "grid-c1"
STACK = "east"

_UP = textwrap.dedent("""
    import os, sys, time
    from pulumi import automation as auto

    backend, home, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])

    def program():
        print("holding the stack lock", flush=True)
        time.sleep(hold)

    settings = auto.ProjectSettings(name=sys.argv[4], runtime="python", backend=auto.ProjectBackend(url=backend))
    work = os.path.join(os.path.dirname(home), "pulumi-work")  # beside the home: not a new /tmp/automation-*
    os.makedirs(work, exist_ok=True)
    options = auto.LocalWorkspaceOptions(work_dir=work, project_settings=settings, env_vars={
        "PULUMI_CONFIG_PASSPHRASE": "test", "PULUMI_HOME": home, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    stack = auto.create_or_select_stack(sys.argv[5], sys.argv[4], program, opts=options)
    stack.up(on_output=lambda line: None)
    print("up done", flush=True)
""")


def pulumi_missing() -> str | None:
    from shutil import which

    return None if which("pulumi") else "the pulumi CLI is not on PATH (source scripts/env.sh after make setup)"


def pulumi_up(backend_url: str, home: Path, *, hold_seconds: float = 0.0,
              own_session: bool = True) -> subprocess.Popen[str]:
    """Start `pulumi up` of PROJECT/STACK whose program sleeps `hold_seconds` while the stack is locked
    (in a session of its own, so that killing its process group takes the pulumi CLI along)."""
    return subprocess.Popen(
        [sys.executable, "-c", _UP, backend_url, str(home), str(hold_seconds), PROJECT, STACK],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=own_session)


def run_pulumi_up(backend_url: str, home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    process = pulumi_up(backend_url, home)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def kill_pulumi_holding_its_lock(backend_url: str, home: Path, lock_seen: Callable[[], bool],
                                 timeout: float = 120) -> None:
    """Run `pulumi up` until its lock is visible, then SIGKILL it (and the Automation API process)."""
    process = pulumi_up(backend_url, home, hold_seconds=600)
    deadline = time.monotonic() + timeout
    try:
        while not lock_seen():
            if process.poll() is not None:
                raise AssertionError(f"pulumi up ended before its lock was seen: {process.communicate()}")
            if time.monotonic() > deadline:
                raise AssertionError("pulumi up never took its lock")
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the pulumi CLI dies with it
        process.communicate()
