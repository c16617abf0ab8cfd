"""`grid up SPEC` without Typer (cli.main._quick, issue 20 start-up): the forms it takes run the same command as
Typer's path, with the same output and exit code; any other form is Typer's. And `--json` keeps its promise of
one result document on stdout when the spec is refused, on either path."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grid.cli import main
from support.cli import Run, grid
from support.paths import REPO

BAD = REPO / "examples" / "bad" / "multi-error.yaml"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRID_STATE", raising=False)
    monkeypatch.delenv(main.COMPLETION_ENV, raising=False)


def loaded_tops(*args: str, env: dict[str, str]) -> set[str]:
    """The top-level packages `grid ARGS` loaded (its console entry, in a fresh interpreter with `env` added)."""
    probe = ("import json, sys\nfrom grid.cli.main import run\nsys.argv = ['grid', *sys.argv[1:]]\n"
             "try:\n    run()\nexcept SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    return {name.split(".")[0] for name in json.loads(done.stderr.strip().splitlines()[-1])}


def quick(*argv: str) -> bool:
    return main._quick(list(argv)) is not None


def test_the_quick_path_takes_flags_and_a_workdir_in_any_order() -> None:
    assert quick("up", "s.yaml")
    assert quick("--no-color", "up", "s.yaml", "--yes")
    assert quick("up", "--workdir", "w", "s.yaml", "-y", "-v", "--skip-check", "--json", "--refresh")
    assert quick("up", "s.yaml", "--workdir=w", "--yes", "--yes", "--trust-new-hosts", "--allow-job-impact")


@pytest.mark.parametrize("argv", [
    ["up"], ["up", "a.yaml", "b.yaml"], ["up", "s.yaml", "--help"], ["up", "--", "s.yaml"],
    ["up", "s.yaml", "--region", "east"], ["up", "s.yaml", "--target", "east/*"], ["up", "s.yaml", "--state", "x"],
    ["up", "s.yaml", "--workdir"], ["up", "s.yaml", "--workdir", "--yes"], ["up", "s.yaml", "--workdir="],
    ["up", "-yv", "s.yaml"], ["up", "s.yaml", "--yse"], ["--no-color", "--no-color", "up", "s.yaml"],
])
def test_any_other_form_is_typer_s(argv: list[str]) -> None:
    assert not quick(*argv)


@pytest.mark.parametrize("argv", [
    ["up", "./a//b/../c.yaml"],
    ["up", "--workdir", "./w//x/", "s.yaml", "-y", "-v", "--json"],
    ["--no-color", "up", "s.yaml", "--workdir=w", "--workdir", "v", "--skip-check", "--refresh", "--heal"],
    ["up", "s.yaml", "--trust-new-hosts", "--allow-job-impact", "--rotate-ssh-key", "--yes", "--yes"],
])
def test_the_quick_path_hands_the_command_what_typer_does(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from grid.cli import console
    from grid.cli.commands import up

    monkeypatch.setitem(console._state, "no_color", console._state["no_color"])  # --no-color: back after the test
    calls: list[dict[str, object]] = []
    defaults = {name: p.default for name, p in inspect.signature(up.run).parameters.items()
                if p.default is not inspect.Parameter.empty}
    monkeypatch.setattr(up, "run", lambda spec, workdir, **given: calls.append(
        {**defaults, **given, "spec": spec, "workdir": workdir}))
    main.registered(("up",))(args=argv, standalone_mode=False)
    fast = main._quick(argv)
    assert fast is not None and fast() == 0
    typed, quick_run = calls
    assert quick_run == typed


def test_grid_state_in_the_environment_is_typer_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRID_STATE", "file:///nowhere")
    assert not quick("up", "s.yaml", "--yes")


def _without_elapsed(run: Run) -> tuple[int, str, str]:
    stdout = run.stdout
    if stdout.startswith("{"):
        doc = json.loads(stdout)
        doc.pop("elapsed_seconds")
        stdout = json.dumps(doc)
    return run.code, stdout, run.stderr


def test_quick_and_typer_paths_say_the_same_for_a_bad_spec_and_a_missing_file(tmp_path: Path) -> None:
    for spec in (str(BAD), str(tmp_path / "missing.yaml")):
        for extra in ((), ("--json",), (f"--workdir={tmp_path / 'w'}", "-v")):
            fast = grid("up", spec, "--yes", *extra, cwd=REPO)
            typed = grid("up", "--yes", *extra, "--", spec, cwd=REPO)
            assert fast.code == 1, fast.output
            assert _without_elapsed(fast) == _without_elapsed(typed), (spec, extra)
    # A refusal that is not Typer's Exit (GRID_LOCK_LEASE is checked before the spec is read) loads no Typer.
    assert not {"typer", "click"} & loaded_tops("up", str(BAD), "--yes", env={"GRID_LOCK_LEASE": "soon"})


def test_a_refused_spec_still_gives_one_json_result_document(tmp_path: Path) -> None:
    """The messages go to stderr; stdout is the grid-result/v1 document saying the run failed (it was empty)."""
    for args in (("up", str(BAD), "--yes", "--json"), ("up", "--json", "--yes", "--", str(tmp_path / "no.yaml"))):
        run = grid(*args, cwd=REPO)
        assert run.code == 1
        doc = json.loads(run.stdout)
        assert (doc["format"], doc["outcome"], doc["ok"]) == ("grid-result/v1", "error", False), run.stdout
        assert "error" in run.stderr


def test_ctrl_c_in_a_quick_up_says_the_state_was_saved_as_typer_s_path_does(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import grid.cli.commands.up as up_command

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # mid-apply: steps may have been saved

    monkeypatch.setattr(up_command, "run", interrupted)
    monkeypatch.setattr(sys, "argv", ["grid", "up", "s.yaml", "--yes"])
    with pytest.raises(SystemExit) as ended:
        main.run()
    assert ended.value.code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == main.interrupts.SAVED
