"""A machine missing one of grid's tools gets a diagnostic that says which and how to get it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.cli import grid
from support.specs import lab_spec

pytestmark = pytest.mark.e2e


def _path_without(program: str) -> str:
    kept = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / program).exists()]
    return os.pathsep.join(kept)


def test_up_without_the_pulumi_cli_says_how_to_get_it_and_creates_nothing(tmp_path: Path) -> None:
    spec, _ = lab_spec(tmp_path)
    run = grid("up", str(spec), "--yes", "--skip-check", env={"PATH": _path_without("pulumi")})
    assert run.code == 1, run.output
    assert "the pulumi CLI is not on PATH" in run.output
    assert "make setup" in run.output
    assert ": failed" not in run.output, "no host's configuration failed: it never started"
    # Nothing was made, so nothing is recorded and the next run (with pulumi) starts from scratch.
    state = grid("state", "list", str(spec))
    assert "node" not in state.stdout, state.output
