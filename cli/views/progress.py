"""Progress of apply: a line per meaningful event; timestamps and no colour when not interactive."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from .. import console

if TYPE_CHECKING:  # the apply is loaded by the runs that apply
    from grid.apply.events import Event

_ICON = {"started": "…", "done": "✓", "failed": "✗", "skipped": "·", "progress": " ", "info": "i"}
_STYLE = {"done": "green", "failed": "bold red", "skipped": "dim", "started": "bold"}


class ProgressView:
    def __init__(self, *, verbose: bool = False, stderr: bool = False) -> None:
        # stderr: when stdout carries a JSON document (--json), progress must not mix into it.
        self._out = console.errout() if stderr else console.out()
        self._plain = console.non_interactive()
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._verbose = verbose

    def __call__(self, event: Event) -> None:
        if event.status == "progress" and not self._verbose and not event.message.endswith(("done", "failed")):
            return
        stamp = f"{time.monotonic() - self._start:6.1f}s "
        who = f" {event.address}" if event.address else ""
        text = f"{stamp}{_ICON.get(event.status, ' ')} {event.stage}{who}"
        if event.message:
            text += f": {event.message}"
        with self._lock:
            self._out.print(text, style=None if self._plain else _STYLE.get(event.status), markup=False)
