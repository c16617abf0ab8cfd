"""Findings returned by loaders and validators; nothing raises for user mistakes."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

Path = tuple[str | int, ...]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SourceRange:
    """Where a finding points to: 1-based line and column."""

    file: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    path: Path = ()
    hint: str = ""
    code: str = ""
    source: SourceRange | None = None

    def at(self, source: SourceRange | None) -> Diagnostic:
        return Diagnostic(self.severity, self.summary, self.detail, self.path, self.hint, self.code, source)


def error(summary: str, path: Path = (), *, detail: str = "", hint: str = "", code: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, path, hint, code)


def warning(summary: str, path: Path = (), *, detail: str = "", hint: str = "", code: str = "") -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, path, hint, code)


def info(summary: str, path: Path = (), *, detail: str = "", hint: str = "", code: str = "") -> Diagnostic:
    return Diagnostic(Severity.INFO, summary, detail, path, hint, code)


@dataclass(frozen=True, slots=True)
class Diagnostics:
    items: tuple[Diagnostic, ...] = field(default_factory=tuple)

    @staticmethod
    def of(items: Iterable[Diagnostic]) -> Diagnostics:
        return Diagnostics(tuple(items))

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __add__(self, other: Diagnostics) -> Diagnostics:
        return Diagnostics(self.items + other.items)

    @property
    def errors(self) -> Sequence[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> Sequence[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)


def path_text(path: Path) -> str:
    """`spec.regions[0].pools[1].count` — the form users see and search for."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
