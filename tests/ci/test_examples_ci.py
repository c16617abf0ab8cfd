"""examples/ci: the GitHub Actions workflow is valid YAML with the three jobs, and every grid command it runs
uses options the real CLI has (a renamed flag would otherwise break users' pipelines silently)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from support.cli import grid
from support.paths import EXAMPLES

CI = EXAMPLES / "ci"
WORKFLOW = CI / ".github" / "workflows" / "grid.yml"


def _grid_commands(text: str) -> list[list[str]]:
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        found = re.search(r"\bgrid (\w+(?: \w+)?) (.*?)(?:>|\||$)", line)
        if found and not line.lstrip().startswith("#"):
            commands.append(shlex.split(f"{found[1]} {found[2]}"))
    return commands


def test_the_workflow_has_plan_apply_and_drift_jobs() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    jobs = workflow["jobs"]
    assert set(jobs) == {"plan", "apply", "drift"}
    steps = {name: " ".join(str(s.get("run", "")) for s in job["steps"]) for name, job in jobs.items()}
    assert "--out plan.json --format markdown --detailed-exitcode" in steps["plan"]
    assert "gh pr comment" in steps["plan"] and any(
        s.get("uses", "").startswith("actions/upload-artifact") for s in jobs["plan"]["steps"])
    assert "grid apply plan.json" in steps["apply"] and "gh run download" in steps["apply"]
    assert "grid drift" in steps["drift"] and "--detailed-exitcode" in steps["drift"]
    assert "PGPASSWORD" in workflow["env"] and "GRID_STATE" in workflow["env"]
    assert yaml.safe_load((CI / ".github" / "actions" / "grid-setup" / "action.yml").read_text())["runs"]


def test_every_grid_command_in_the_workflow_exists_with_its_options() -> None:
    commands = _grid_commands(WORKFLOW.read_text())
    assert len(commands) >= 3
    for argv in commands:
        words = [w for w in argv if not w.startswith("-") and not w.startswith("$") and not w.endswith(".json")]
        subcommand = words[:2] if words[:1] == ["state"] else words[:1]
        help_text = grid(*subcommand, "--help").stdout
        for option in (w for w in argv if w.startswith("--")):
            assert re.search(rf"{re.escape(option)}\b", help_text), f"grid {' '.join(subcommand)} has no {option}"


def test_the_readme_documents_the_secrets_the_workflow_reads() -> None:
    readme = (CI / "README.md").read_text()
    secrets = set(re.findall(r"secrets\.(\w+)", WORKFLOW.read_text()))
    assert secrets == {"GRID_STATE", "GRID_DB_PASSWORD", "GRID_SSH_KEY", "GRID_PULUMI_PASSPHRASE"}
    for name in secrets:
        assert f"`{name}`" in readme
    assert Path(CI / "README.md").stat().st_size > 1000
