"""Serialises state updates from concurrent stages and saves after every step."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from grid.killpoints import kill_point
from grid.state.model import Envelope, State
from grid.state.store import StateStore

# A fence every StateWriter made in this context calls right before each write: it raises (and nothing is
# written) when the caller no longer may write, e.g. an agent whose lease ran out (grid.agent.lease).
_WRITE_FENCE: ContextVar[Callable[[], None] | None] = ContextVar("grid_state_write_fence", default=None)


@contextlib.contextmanager
def fenced_writes(fence: Callable[[], None]) -> Iterator[None]:
    """Every StateWriter made inside the block calls `fence()` before each write."""
    token = _WRITE_FENCE.set(fence)
    try:
        yield
    finally:
        _WRITE_FENCE.reset(token)


class StateWriter:
    def __init__(self, store: StateStore, envelope: Envelope | None, initial: State, *,
                 fence: Callable[[], None] | None = None) -> None:
        self._store = store
        self._fence = fence or _WRITE_FENCE.get()
        self._lock = threading.Lock()
        self._serial = envelope.serial if envelope else 0
        self.lineage = envelope.lineage if envelope else ""  # known after the first write of a new state
        self.state = envelope.state if envelope else initial
        self.saved = envelope  # the state as last written (or read): its checksum, for a seal (grid.state.seal)

    def update(self, change: Callable[[State], State]) -> State:
        with self._lock:
            new_state = change(self.state)
            if new_state != self.state or self._serial == 0:
                kill_point("state.write.before")
                if self._fence is not None:
                    self._fence()
                envelope = self._store.write(new_state, expected_serial=self._serial)
                kill_point("state.write.after")
                self._serial = envelope.serial
                self.lineage = envelope.lineage
                self.state = new_state
                self.saved = envelope
            return self.state

    @property
    def serial(self) -> int:
        return self._serial
