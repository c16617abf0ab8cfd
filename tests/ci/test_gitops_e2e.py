"""GitOps against team state in PostgreSQL, end to end on the real engines (Pulumi, podman, Ansible).

One lab cluster goes through what a pipeline does: plan on a pull request (saved plan + markdown), apply
that exact plan on merge while a second runner is turned away by the lock, refuse the now-stale plan,
recognise a no-change plan by `has_changes`, a scheduled drift check that fails on drift, moving the state
(grid's and Pulumi's) to a work directory and back, and destroy. Tests run in file order on one cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import yaml

from grid.state import PostgresStateStore
from support.cli import grid
from support.paths import GRID
from support.postgres import PASSWORD, PgServer
from support.schemas import validate
from support.specs import lab_spec

pytestmark = pytest.mark.e2e


@dataclass
class Team:
    spec: Path
    name: str
    url: str
    outputs: list[str] = field(default_factory=list)

    @property
    def workdir(self) -> Path:
        return self.spec.parent / ".grid" / self.name

    def grid(self, *args: str, state: bool = True, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        run = grid(*args, *(["--state", self.url] if state else []), cwd=self.spec.parent, env=env)
        self.outputs.append(run.output)
        return run

    def containers(self) -> list[str]:
        return subprocess.run(["podman", "ps", "-a", "--filter", f"label=grid.cluster={self.name}", "--format",
                               "{{.Names}}"], capture_output=True, text=True, check=True).stdout.split()

    def sql(self, query: str, *args: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(query, args).fetchall()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer) -> Iterator[Team]:
    spec, name = lab_spec(tmp_path_factory.mktemp("gitops"))
    team = Team(spec, name, pg_server.create_database())
    yield team
    grid("destroy", str(spec), "--yes", "--state", team.url)
    grid("destroy", str(spec), "--yes")
    assert not team.containers()


def test_pull_request_plan_is_saved_with_changes(team: Team) -> None:
    run = team.grid("plan", "cluster.yaml", "--out", "plan.json", "--format", "markdown", "--detailed-exitcode")
    assert run.code == 2, run.output
    assert run.stdout.startswith(f"### grid plan: `{team.name}` (target local)")
    doc = json.loads((team.spec.parent / "plan.json").read_text())
    validate(doc, "grid-plan-v1")
    assert doc["has_changes"] is True and doc["spec"]["path"] == "cluster.yaml"
    assert doc["state"] == {"serial": 0, "lineage": ""}


def test_merge_applies_the_saved_plan_while_a_second_runner_is_locked_out(team: Team) -> None:
    first = subprocess.Popen([GRID, "apply", "plan.json", "--yes", "--json", "--state", team.url],
                             cwd=team.spec.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "CI": "true"})
    deadline = time.monotonic() + 120
    while not team.sql("SELECT 1 FROM grid_lock WHERE cluster = %s", team.name):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first runner never took the lock"
        time.sleep(0.2)
    second = team.grid("apply", "plan.json", "--yes")
    assert second.code == 1
    assert "the state is locked by" in second.stderr and "running 'apply'" in second.stderr
    assert "lease runs until" in second.stderr
    out, err = first.communicate(timeout=900)
    team.outputs.append(out + err)
    assert first.returncode == 0, err
    result = json.loads(out)  # stdout is exactly one JSON document; progress went to stderr
    validate(result, "grid-result-v1")
    assert (result["command"], result["outcome"], result["ok"]) == ("apply", "applied", True)
    assert result["counts"] == {"create": 10, "update": 0, "replace": 0, "delete": 0, "configure": 4}
    assert result["checks"]["ok"] is True and result["failures"] == []
    assert "infrastructure east" in err
    assert result["state"]["serial"] == PostgresStateStore(team.url, team.name).read().serial  # type: ignore[union-attr]
    assert len(team.containers()) == 4
    assert not team.sql("SELECT 1 FROM grid_lock WHERE cluster = %s", team.name), "the lock must be released"


def test_pulumi_stacks_are_in_the_same_database_and_the_password_nowhere(team: Team) -> None:
    keys = {str(k) for (k,) in team.sql("SELECT key FROM grid_pulumi_state")}
    project = f"grid-{team.name}"
    assert {k.rsplit("/", 1)[-1] for k in keys if f"/.pulumi/stacks/{project}/" in k} >= {"east.json", "west.json"}
    assert not (team.workdir / "pulumi-backend").exists()
    history = PostgresStateStore(team.url, team.name).read().state.history  # type: ignore[union-attr]
    assert history[-1].command == "apply plan.json"
    for path in team.workdir.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), f"{path} holds the database password"
    assert not any(PASSWORD in text for text in team.outputs)


def test_the_merged_plan_is_now_stale_and_refused(team: Team) -> None:
    run = team.grid("apply", "plan.json", "--yes")
    assert run.code == 1
    assert "the saved plan is stale" in run.stderr and "state serial 0" in run.stderr


def test_a_no_change_plan_is_recognised_by_its_field_and_exit_code(team: Team) -> None:
    run = team.grid("plan", "cluster.yaml", "--out", "noop.json", "--detailed-exitcode")
    assert run.code == 0, run.output
    doc = json.loads((team.spec.parent / "noop.json").read_text())
    assert doc["has_changes"] is False and doc["summary"]["create"] == 0
    run = team.grid("apply", "noop.json", "--json")  # no --yes needed: nothing to confirm
    assert run.code == 0, run.output
    result = json.loads(run.stdout)
    validate(result, "grid-result-v1")
    assert (result["outcome"], result["ok"]) == ("no-changes", True)
    assert "No changes" in run.stderr


def test_scheduled_drift_check_fails_on_drift_and_up_repairs_it(team: Team) -> None:
    run = team.grid("drift", "cluster.yaml", "--json", "--detailed-exitcode")
    assert run.code == 0, run.output
    report = json.loads(run.stdout)
    validate(report, "grid-drift-v1")
    assert report["drifted"] is False
    victim = sorted(team.containers())[0]
    subprocess.run(["podman", "rm", "-f", victim], capture_output=True, check=True)
    run = team.grid("drift", "cluster.yaml", "--json", "--detailed-exitcode")
    assert run.code == 2, run.output
    report = json.loads(run.stdout)
    validate(report, "grid-drift-v1")
    assert report["drifted"] is True and report["items"]
    run = team.grid("up", "cluster.yaml", "--yes", "--json", env={"GRID_STATE": team.url})
    assert run.code == 0, run.output
    result = json.loads(run.stdout)
    validate(result, "grid-result-v1")
    assert result["outcome"] == "applied" and result["counts"]["create"] >= 1 and victim in team.containers()


def test_state_moves_to_a_work_directory_and_back_with_its_stacks(team: Team) -> None:
    before = PostgresStateStore(team.url, team.name).read()
    assert before is not None
    run = team.grid("state", "migrate", "cluster.yaml", "--to", "file", "--json")
    assert run.code == 0, run.output
    moved = json.loads(run.stdout)
    assert (moved["checksum"], moved["serial"], moved["verified"]) == (before.checksum, before.serial, True)
    assert moved["pulumi_stacks"] == ["east", "west"] and PASSWORD not in run.output
    on_disk = json.loads((team.workdir / "state.json").read_text())
    assert (on_disk["checksum"], on_disk["lineage"]) == (before.checksum, before.lineage)
    # The Pulumi stacks came along: a refreshing plan against the file state sees the cluster as it is.
    run = team.grid("plan", "cluster.yaml", "--refresh", "--detailed-exitcode", state=False)
    assert run.code == 0, run.output
    # Work on the file state (a pool grows), then move it back to the team database.
    data = yaml.safe_load(team.spec.read_text())
    data["spec"]["regions"][1]["pools"][0]["count"] = 3
    team.spec.write_text(yaml.safe_dump(data, sort_keys=False))
    run = team.grid("up", "cluster.yaml", "--yes", "--skip-check", state=False)
    assert run.code == 0, run.output
    grown = json.loads((team.workdir / "state.json").read_text())
    run = team.grid("state", "migrate", "cluster.yaml", "--to", team.url, state=False)
    assert run.code == 0, run.output
    assert f"checksum {grown['checksum']} verified identical" in run.stdout and PASSWORD not in run.output
    after = PostgresStateStore(team.url, team.name).read()
    assert after is not None and (after.checksum, after.serial, after.lineage) == (
        grown["checksum"], grown["serial"], before.lineage)
    assert len(team.containers()) == 5
    run = team.grid("plan", "cluster.yaml", "--refresh", "--detailed-exitcode")
    assert run.code == 0, run.output


def test_destroy_from_team_state_leaves_nothing(team: Team) -> None:
    run = team.grid("destroy", "cluster.yaml", "--yes", "--json")
    assert run.code == 0, run.output
    result = json.loads(run.stdout)
    validate(result, "grid-result-v1")
    assert (result["outcome"], result["counts"]) == ("destroyed", {"delete": 10})
    assert team.containers() == []
    stacks = [k for (k,) in team.sql("SELECT key FROM grid_pulumi_state WHERE key LIKE %s",
                                     f"%/.pulumi/stacks/grid-{team.name}/%.json")]
    assert stacks == [], "the Pulumi stacks are removed from the database"
