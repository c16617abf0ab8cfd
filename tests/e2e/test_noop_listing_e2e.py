"""A no-op `grid up` takes its podman listing at its entry, before the state lock (grid.drivers.podman_listing,
issue 20 start-up): it must still see what was changed by hand, and say "No changes" only when nothing was."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import grid
from support.specs import small_lab

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    spec, name = small_lab(tmp_path_factory.mktemp("noop-listing"))
    try:
        run = grid("up", str(spec), "--yes", "--skip-check")
        assert run.code == 0, run.output
        yield spec, name
    finally:
        grid("destroy", str(spec), "--yes")


def age_state(spec: Path, name: str) -> None:
    """The state as a user's next run finds it, written minutes ago: the early listing is then trusted."""
    state = spec.parent / ".grid" / name / "state.json"
    then = time.time_ns() - 600 * 10**9
    os.utime(state, ns=(then, then))


def containers(name: str) -> dict[str, str]:
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label=grid.cluster={name}", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return {entry["Names"][0]: entry["State"] for entry in json.loads(out or "[]")}


def test_noop_up_says_no_changes_with_the_early_listing(lab: tuple[Path, str]) -> None:
    spec, name = lab
    age_state(spec, name)
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    assert "No changes" in run.stdout, run.output


def test_noop_up_sees_a_container_removed_and_one_stopped_by_hand(lab: tuple[Path, str]) -> None:
    spec, name = lab
    before = containers(name)
    assert len(before) == 2 and set(before.values()) == {"running"}, before
    removed, stopped = sorted(before)
    subprocess.run(["podman", "rm", "-f", removed], check=True, capture_output=True)
    subprocess.run(["podman", "stop", "-t", "0", stopped], check=True, capture_output=True)
    age_state(spec, name)
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    assert "No changes" not in run.stdout, run.output
    assert containers(name) == {removed: "running", stopped: "running"}
    again = grid("up", str(spec), "--yes", "--skip-check")  # right after a write: listed under the lock
    assert again.code == 0 and "No changes" in again.stdout, again.output
