"""The one CLI runner of tests and benchmarks: every way of running `grid` gives a `Run`.

- `grid(...)`: the installed console script as a user types it (a subprocess; timed).
- `run(argv)`: any other command the same way (bench times ansible-playbook with it).
- `start(...)`: `grid` in a session of its own, to SIGKILL mid-way. A marker in its environment is
  inherited by every process it starts, even those that put themselves in another process group (Pulumi's
  plugins) or session (ansible-runner's pty), so `survivors(marker)` finds whatever outlived a kill.
- `invoke(...)`: the console script's own entry point in this process (the same exit codes and messages,
  without ~0.5 s of interpreter start).
- `invoke_app(...)`: the Typer app in this process, keeping the failure (message, hint) it raised.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from .paths import GRID

MARKER_ENV = "GRID_TEST_RUN_MARKER"
TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0
    failure: Exception | None = None  # invoke_app: the user-facing failure raised (it has message and hint)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def grid_env(**extra: str) -> dict[str, str]:
    """The environment of a run: this one, as CI (no prompts, no colour), plus `extra`. The terminal's size is not
    passed on (a developer's shell or an earlier test may have set it): a test that wants a width gives COLUMNS."""
    inherited = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    return {**inherited, "CI": "true", **extra}


def run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900,
        input: str | None = None, check: bool = False) -> Run:
    """Run a command; its exit code, output and wall seconds. check: fail with the output on a non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=grid_env(**(env or {})), capture_output=True, text=True,
                          timeout=timeout, input=input, check=False)
    done = Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)
    if check and done.code != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.code}:\n{done.output[-6000:]}")
    return done


def grid(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900,
         input: str | None = None, check: bool = False) -> Run:
    """`grid ARGS...` as a user would run it; fails the test on a Python traceback in its output (from any
    thread): grid answers with diagnostics, never tracebacks."""
    done = run([GRID, *args], cwd=cwd, env=env, timeout=timeout, input=input, check=check)
    assert TRACEBACK not in done.output, f"grid {' '.join(args)} printed a traceback:\n{done.output}"
    return done


@contextlib.contextmanager
def brought_up(spec: Path, *args: str) -> Iterator[None]:
    """`grid up SPEC --yes ARGS` (it must succeed), and `grid destroy` afterwards whatever happens: a test
    or fixture sharing one lab between several checks."""
    try:
        up = grid("up", str(spec), "--yes", *args)
        assert up.code == 0, up.output
        yield
    finally:
        grid("destroy", str(spec), "--yes")


# -- killable runs ---------------------------------------------------------------------------------------

@dataclass
class Killable:
    process: subprocess.Popen[str]
    marker: str
    started: float

    def kill(self) -> None:
        """SIGKILL the run's process group, as `kill -9 -PGID` or a CI job cancellation would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out


def start(*args: str, env: dict[str, str] | None = None) -> Killable:
    """`grid ARGS` started in a session of its own, stdout and stderr together, marked for `survivors`."""
    marker = uuid.uuid4().hex
    process = subprocess.Popen([GRID, *args], env=grid_env(**(env or {}), **{MARKER_ENV: marker}),
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    return Killable(process, marker, time.monotonic())


def survivors(marker: str) -> list[tuple[int, str]]:
    """Processes (pid, command line) whose environment carries `marker`."""
    found = []
    needle = f"{MARKER_ENV}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if needle not in Path(f"/proc/{entry}/environ").read_bytes():
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((int(entry), command.strip()[:160]))
    return found


def wait_for_no_survivors(marker: str, timeout: float, *, kill: bool = True) -> list[tuple[int, str]]:
    """Survivors still there after `timeout` seconds (with `kill`, each is then SIGKILLed: tests clean up)."""
    deadline = time.monotonic() + timeout
    left = survivors(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = survivors(marker)
    for pid, _ in left if kill else ():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


# -- in this process -------------------------------------------------------------------------------------

def invoke(*args: str) -> Run:
    """`grid ARGS` through the console script's own entry point (grid.cli.main.run), in this process."""
    from grid.cli.main import run as console_entry

    out, err = io.StringIO(), io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "GRID_DEBUG"}
    started = time.perf_counter()
    with mock.patch.object(sys, "argv", ["grid", *args]), \
            mock.patch.dict(os.environ, {**env, "CI": "true"}, clear=True), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            console_entry()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - started)


def invoke_app(*args: str) -> Run:
    """`grid ARGS` through the Typer app in this process: a user-facing failure (an exception with a message
    and a hint) is kept in `failure`, with its code; any other exception is raised (a bug)."""
    from typer.testing import CliRunner

    from grid.cli.main import app

    started = time.perf_counter()
    result = CliRunner().invoke(app, list(args))
    raised = result.exception
    failure = raised if raised is not None and hasattr(raised, "hint") and hasattr(raised, "code") else None
    if raised is not None and failure is None and not isinstance(raised, SystemExit):
        raise raised
    code = int(getattr(failure, "code", 1)) if failure is not None else result.exit_code
    return Run(code, result.stdout, result.stderr, time.perf_counter() - started, failure)
