"""Output without colour (a pipe, a CI log): grid.cli.console.PlainConsole writes plain lines itself, without
loading rich, and must print exactly what rich's console would; `file:100:5` stays a position, not an emoji."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError

from grid.cli import console
from support.cli import grid
from support.paths import LOCAL_LAB

PIECES = [*"ab :[]/\\\t\n\r\x07\x08\x0b\x0c\x1b\x00é中😄-_.", ":smile:", ":100:", "[bold]", "[/]", "\u00a0",
          "\u200b", "\u2028", "\x85"]


def _printed(make: object, text: str, markup: bool | None, style: str | None) -> tuple[str, str]:
    """What `text` printed on stdout by the console `make` returns, and the error it raised, if any."""
    saved, sys.stdout = sys.stdout, io.StringIO()
    try:
        try:
            make().print(text, style=style, markup=markup)  # type: ignore[operator]
            failed = ""
        except MarkupError as exc:  # markup rich refuses: both must refuse it
            failed = str(exc)
        return sys.stdout.getvalue(), failed
    finally:
        sys.stdout = saved


def _rich() -> Console:
    return console._rich_console(console._Stream("stdout"), plain=True)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join) | st.text(max_size=20),
       st.sampled_from([False, None, True]), st.sampled_from([None, "bold red"]))
def test_plain_lines_are_printed_as_rich_prints_them(text: str, markup: bool | None, style: str | None) -> None:
    plain = _printed(lambda: console.PlainConsole(console._Stream("stdout")), text, markup, style)
    assert plain == _printed(_rich, text, markup, style)


def test_a_muted_plain_console_prints_nothing() -> None:
    saved = dict(console._state)
    try:
        console.mute()
        assert _printed(lambda: console.PlainConsole(console._Stream("stdout")), "after Ctrl-C", False, None) \
            == ("", "")
    finally:
        console._state.update(saved)


def test_a_finding_on_line_100_names_its_line(tmp_path: Path) -> None:
    """rich reads `:100:` as an emoji code (💯); a diagnostic's position must come out as written."""
    lines = LOCAL_LAB.read_text().splitlines()
    padded = [*lines, *(["# padding"] * (99 - len(lines))), "bogus_key: 1"]
    spec = tmp_path / "cluster.yaml"
    spec.write_text("\n".join(padded) + "\n")
    run = grid("validate", str(spec))
    assert run.code == 1
    assert f"{spec}:100:1:" in run.output and "💯" not in run.output, run.output
    for plain in (True, False):  # and in a terminal, in colour
        written = io.StringIO()
        rich_console = console._rich_console(console._Stream("stdout"), plain=plain)
        rich_console.file = written
        rich_console.print("cluster.yaml:100:1: error: unknown key 'up' (:up: :ok:)", markup=False)
        assert "cluster.yaml:100:1:" in written.getvalue() and ":up: :ok:" in written.getvalue()
