"""`grid plan` of the local example against no state, as a person reads it, against a golden file.

The spec is named relative to the repository and the console width is fixed (the capacity table fits
itself to the width), so the text is the same on every machine. `pytest --update-golden` rewrites it.
"""

from __future__ import annotations

from pathlib import Path

from support.cli import grid
from support.golden import assert_golden
from support.paths import REPO


def test_the_plan_text_of_the_local_example_is_the_golden_one(tmp_path: Path, update_golden: bool) -> None:
    run = grid("plan", "examples/local-lab/cluster.yaml", "--workdir", str(tmp_path / "work"), cwd=REPO,
               env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert run.code == 0, run.output
    assert str(tmp_path) not in run.stdout  # nothing of this run's machine in the text
    assert_golden("plan-local-lab.txt", run.stdout, update=update_golden)
