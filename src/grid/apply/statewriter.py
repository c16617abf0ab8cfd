"""Serialises state updates from concurrent stages and saves after every step."""

from __future__ import annotations

import threading
from collections.abc import Callable

from grid.killpoints import kill_point
from grid.state.model import Envelope, State
from grid.state.store import StateStore


class StateWriter:
    def __init__(self, store: StateStore, envelope: Envelope | None, initial: State) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._serial = envelope.serial if envelope else 0
        self.lineage = envelope.lineage if envelope else ""  # known after the first write of a new state
        self.state = envelope.state if envelope else initial

    def update(self, change: Callable[[State], State]) -> State:
        with self._lock:
            new_state = change(self.state)
            if new_state != self.state or self._serial == 0:
                kill_point("state.write.before")
                envelope = self._store.write(new_state, expected_serial=self._serial)
                kill_point("state.write.after")
                self._serial = envelope.serial
                self.lineage = envelope.lineage
                self.state = new_state
            return self.state

    @property
    def serial(self) -> int:
        return self._serial
