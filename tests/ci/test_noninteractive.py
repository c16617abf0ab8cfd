"""Under CI=true or without a terminal grid never prompts (it asks for --yes), logs progress line by line and
writes no colour or other escape sequences — even when a CI runner gives it a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path

import pytest

from grid.apply.events import Event
from grid.cli import common, console
from grid.cli.views.progress import ProgressView
from support.cli import grid
from support.paths import GRID
from support.specs import lab_spec

ESC = "\x1b"


def run_in_terminal(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run grid with stdin/stdout/stderr on a pseudo-terminal, as on a runner that allocates one."""
    main, child = pty.openpty()
    proc = subprocess.Popen([GRID, *args], stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([main], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError("grid did not finish: " + b"".join(chunks).decode(errors="replace"))
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "TERM")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "200", **extra}


def test_no_escape_sequences_under_ci_even_on_a_terminal(tmp_path: Path) -> None:
    spec, _ = lab_spec(tmp_path)
    code, text = run_in_terminal("plan", str(spec), env=_env(CI="true"))
    assert code == 0, text
    assert "Plan:" in text and ESC not in text
    # The same run on an interactive terminal is coloured: the check above can see escapes.
    code, coloured = run_in_terminal("plan", str(spec), env=_env())
    assert code == 0 and ESC in coloured


def test_confirm_asks_for_yes_when_not_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "non_interactive", lambda: True)
    with pytest.raises(console.CommandFailed) as caught:
        common.confirm("Apply these changes?", yes=False)
    assert "non-interactive" in caught.value.message and caught.value.hint == "pass --yes to apply"
    common.confirm("Apply these changes?", yes=True)  # --yes: no question, no failure


@pytest.mark.parametrize("env", [{"CI": "true"}, {"CI": ""}], ids=["CI=true", "no-tty"])
def test_mutating_commands_refuse_without_yes(tmp_path: Path, env: dict[str, str]) -> None:
    spec, _ = lab_spec(tmp_path)
    run = grid("destroy", str(spec), env=env, input="y\n")  # stdin is a pipe: no terminal either way
    assert run.code == 1
    assert "refusing to apply without confirmation in a non-interactive run" in run.stderr
    assert "pass --yes" in run.stderr
    assert ESC not in run.output


def test_progress_is_one_plain_line_per_event(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    view = ProgressView()
    view(Event("render", "started"))
    view(Event("infrastructure", "progress", "east/train/node-0000", "create done"))
    view(Event("infrastructure", "failed", "east", "boom"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and ESC not in "".join(lines) and "\r" not in "".join(lines)
    assert lines[1].split()[1:] == ["infrastructure", "east/train/node-0000:", "create", "done"]
    assert lines[2].endswith("✗ infrastructure east: boom")


def test_json_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    ProgressView(stderr=True)(Event("render", "done", message="24 files"))
    captured = capsys.readouterr()
    assert captured.out == "" and "render: 24 files" in captured.err
