"""Ctrl-C: exit 130 with one final line, whatever was running, and no traceback from any thread.

The first SIGINT raises KeyboardInterrupt in the main thread as usual, so the steps in flight unwind
through their `finally` blocks (state is written step by step, locks are released) and Ansible runs are
cancelled (Pulumi's workers get the terminal's SIGINT themselves and cancel their operation); from that
moment the consoles print nothing, and threads that fail because of the interrupt print no traceback.
A second SIGINT does not wait for that: it prints the final line and ends the process at once (every
state write is atomic, and the next run reaps what is left).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

from . import console

SAVED = "interrupted; state was saved after each completed step — run the command again to finish"
_state = {"interrupted": False, "left": False}


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT handled as above while the command runs (main thread only: signal handlers live there).
    The previous handler comes back afterwards unless the command was interrupted (it is exiting then)."""
    _state.update(interrupted=False, left=False)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        yield
    finally:
        if not _state["interrupted"]:
            signal.signal(signal.SIGINT, previous)


def interrupted() -> bool:
    return _state["interrupted"]


def leave(line: str = SAVED) -> NoReturn:
    """Print the final line and exit 130; nothing printed later (threads ending at exit) reaches the user."""
    _final(line)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives until the process ends
    sys.exit(130)


def _final(line: str) -> None:
    if _state["left"]:
        return
    _state["left"] = True
    stream = sys.__stderr__ if sys.stderr is None else sys.stderr
    if stream is None:
        return
    try:
        # On a terminal the ^C echo is where the cursor was (after a prompt, say): start a line of our own.
        stream.write(("\n" if stream.isatty() else "") + line + "\n")
        stream.flush()
    except (OSError, ValueError):  # stderr closed: the exit code still says it
        pass


def _on_interrupt(signum: int, frame: Any) -> None:
    if _state["interrupted"]:  # the second Ctrl-C: no more waiting for the steps in flight
        _final(SAVED)
        os._exit(130)
    _state["interrupted"] = True
    console.mute()
    # Ansible runs in a session of its own, where the terminal's Ctrl-C does not reach it.
    if (ansible := sys.modules.get("grid.drivers.ansible")) is not None:
        ansible.cancel_runs()
    threading.excepthook = _quiet_thread
    sys.unraisablehook = _quiet_unraisable
    raise KeyboardInterrupt


def _quiet_thread(args: threading.ExceptHookArgs) -> None:
    """A thread that failed because of the interrupt (its worker process got the SIGINT too)."""


def _quiet_unraisable(args: Any) -> None:
    """An exception in a finalizer while the interrupt unwinds."""
