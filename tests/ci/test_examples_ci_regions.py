"""examples/ci/.github/workflows/grid-regions.yml: one `grid up --region` job per region, options the CLI has."""

from __future__ import annotations

import re
import shlex

import yaml

from support.cli import grid
from support.paths import EXAMPLES

WORKFLOW = EXAMPLES / "ci" / ".github" / "workflows" / "grid-regions.yml"


def test_one_up_job_per_region() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["up"]
    assert job["strategy"]["matrix"]["region"] and job["strategy"]["fail-fast"] is False
    assert "matrix.region" in job["concurrency"]["group"]
    runs = " ".join(str(step.get("run", "")) for step in job["steps"])
    assert 'grid up "$SPEC" --region "${{ matrix.region }}"' in runs
    assert "PGPASSWORD" in workflow["env"] and "GRID_STATE" in workflow["env"]


def test_the_up_command_has_every_option_the_workflow_passes() -> None:
    line = next(line for line in WORKFLOW.read_text().splitlines() if "grid up " in line and "run:" in line)
    argv = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "R", line.split("run:", 1)[1].split(">")[0]))
    help_text = grid("up", "--help").stdout
    for option in (w for w in argv if w.startswith("--")):
        assert re.search(rf"{re.escape(option)}\b", help_text), f"grid up has no {option}"
