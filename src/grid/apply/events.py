"""Progress events apply emits; the CLI renders them (Rich live view or log lines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    stage: str  # render | infrastructure | configuration | check | state
    status: str  # started | progress | done | failed | skipped | info
    address: str = ""  # resource address or host
    message: str = ""


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Failure:
    stage: str
    address: str
    message: str

    def __str__(self) -> str:
        where = f" {self.address}" if self.address else ""
        return f"[{self.stage}]{where}: {self.message}"
