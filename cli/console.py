"""Output helpers shared by the commands: colour policy, errors, diagnostics with carets."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any, NoReturn, Union

from grid.diagnostics import Diagnostic, Diagnostics, Severity, path_text

if TYPE_CHECKING:  # imported when a console is made: `grid --version` needs neither rich nor the spec models
    from rich.console import Console

    from grid.spec.loader import SourceMap

_state = {"no_color": False, "muted": False}

CANCELLED = "cancelled; nothing was changed"


class CommandFailed(Exception):
    """Raised by commands for user-facing failures; `main.run` prints it and exits with `code`."""

    def __init__(self, message: str, *, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def exit_with(code: int) -> NoReturn:
    """End the command with `code`, as Typer's Exit. Typer is loaded here, on a failure's path: a plain `grid up`
    runs without it (cli.main._quick), and `exit_code` reads the code back."""
    import typer

    raise typer.Exit(code)


def exit_code(exc: BaseException) -> int | None:
    """The code of a Typer Exit (None for any other exception; one was raised only if Typer is loaded)."""
    typer = sys.modules.get("typer")
    return exc.exit_code if typer is not None and isinstance(exc, typer.Exit) else None


def non_interactive() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or not sys.stdin.isatty()


def configure(*, no_color: bool) -> None:
    _state["no_color"] = no_color


def mute() -> None:
    """From now on the consoles print nothing (after Ctrl-C: only the final line is to follow)."""
    _state["muted"] = True


class _Stream:
    """sys.stdout or sys.stderr as they are when written to (tests redirect them), silent once muted:
    consoles made before a Ctrl-C (a progress view's) fall quiet with the rest."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def _target(self) -> IO[str]:
        stream: IO[str] = getattr(sys, self._name)
        return stream

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        return len(text) if _state["muted"] else self._target.write(text)

    def flush(self) -> None:
        if not _state["muted"]:
            self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()


def _colour_off() -> bool:
    return _state["no_color"] or bool(os.environ.get("NO_COLOR")) or non_interactive() or not sys.stdout.isatty()


def _rich_console(stream: _Stream, *, plain: bool) -> Console:
    # color_system=None drops every escape sequence (bold and dim too), not only colours: CI logs stay plain
    # even when a runner allocates a terminal. emoji=False: rich would turn `spec.yaml:100:5:` into
    # `spec.yaml💯5:` (and :up:, :ok:, :id: in names into symbols); grid prints what it is given.
    from rich.console import Console

    file: Any = stream  # a text stream to rich (it writes and flushes; IO[str] in its annotations)
    if plain:
        return Console(file=file, no_color=True, color_system=None, highlight=False, soft_wrap=True, emoji=False)
    return Console(file=file, highlight=False, soft_wrap=True, emoji=False)


def _as_written(text: str) -> bool:
    """Whether rich, without colour, would print `text` as it is: no tab (expanded) and no control character
    (dropped) in it."""
    return text.replace("\n", "").isprintable()


class PlainConsole:
    """What out() and errout() give when colour is off (a pipe, a CI log, NO_COLOR, --no-color): a line of text
    that rich would print unchanged is written as it is, without loading rich (≈ 15 ms of a command's start-up,
    issue 20); anything else (tables, markup, tabs, control characters) goes through rich's own Console."""

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self._console: Console | None = None

    def _rich(self) -> Console:
        if self._console is None:
            self._console = _rich_console(self._stream, plain=True)
        return self._console

    def print(self, *objects: Any, style: str | None = None, markup: bool | None = None, **options: Any) -> None:
        if (len(objects) == 1 and isinstance(text := objects[0], str) and not options
                and (markup is False or "[" not in text) and _as_written(text)):
            self._stream.write(text + "\n")  # a style would change nothing without colour: neither does rich
            return
        self._rich().print(*objects, style=style, markup=markup, **options)

    @property
    def is_terminal(self) -> bool:
        return self._rich().is_terminal

    @property
    def width(self) -> int:
        return self._rich().width


Output = Union["Console", PlainConsole]
"""A console to print on: rich's, or the plain one when colour is off."""


def _console(*, stderr: bool) -> Output:
    stream = _Stream("stderr" if stderr else "stdout")
    return PlainConsole(stream) if _colour_off() else _rich_console(stream, plain=False)


def out() -> Output:
    return _console(stderr=False)


def errout() -> Output:
    return _console(stderr=True)


def table_width(output: Output) -> int | None:
    """The columns a table printed on `output` may take: the terminal's, or COLUMNS when set. None (no limit)
    on a pipe, a file or a CI log, where every row stays one line to read, grep and diff."""
    if output.is_terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        return output.width
    return None


def err(message: str) -> None:
    errout().print(message, markup=False)


def fail(exc: CommandFailed) -> None:
    err(f"error: {exc.message}")
    if exc.hint:
        err(f"  hint: {exc.hint}")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render_diagnostic(diag: Diagnostic, source: SourceMap | None) -> str:
    lines = []
    where = f"{diag.source.file}:{diag.source.line}:{diag.source.col}: " if diag.source else ""
    lines.append(f"{where}{diag.severity.value}: {diag.summary}")
    if diag.source and source is not None:
        text = source.line_text(diag.source.line)
        if text:
            lines.append(f"  {diag.source.line:>4} | {text}")
            lines.append("       | " + " " * (diag.source.col - 1) + "^")
    if diag.detail:
        lines.append(f"  {diag.detail}")
    if diag.path:
        lines.append(f"  at: {path_text(diag.path)}")
    if diag.hint:
        lines.append(f"  fix: {diag.hint}")
    return "\n".join(lines)


def print_diagnostics(diagnostics: Diagnostics, source: SourceMap | None) -> None:
    console = errout()
    for diag in diagnostics:
        console.print(render_diagnostic(diag, source), style=_STYLE[diag.severity], markup=False)
    errors, warnings = len(diagnostics.errors), len(diagnostics.warnings)
    if errors or warnings:
        console.print(f"{errors} error(s), {warnings} warning(s)", markup=False)


def diagnostics_json(diagnostics: Diagnostics) -> list[dict[str, Any]]:
    return [
        {
            "severity": d.severity.value, "summary": d.summary, "detail": d.detail, "hint": d.hint,
            "code": d.code, "path": path_text(d.path),
            "source": {"file": d.source.file, "line": d.source.line, "col": d.source.col} if d.source else None,
        }
        for d in diagnostics
    ]
