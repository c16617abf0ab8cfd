"""`grid up` and the jobs on the nodes it removes, through the operations layer with fake engines and a fake
Slurm: the plan names the jobs, a drain that times out stops the run before any infrastructure changes, and
--allow-job-impact lets it go on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grid import operations
from grid.errors import OperationFailed
from grid.plan import Action
from grid.workspace import Workspace, open_workspace
from support.fake_slurm import FakeSlurm, Job, Node
from support.fakes import FakeStacks, RecordingAnsible
from support.paths import EXAMPLES


def write_spec(path: Path, *, train: int) -> Path:
    """The AWS lab (planned and applied with fake engines) with a Slurm controller pool in `west`."""
    data = yaml.safe_load((EXAMPLES / "targets" / "lab-aws.yaml").read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = train
    data["spec"]["regions"][1]["pools"].insert(0, {"name": "ctl", "count": 1, "fabrics": ["mgmt"],
                                                   "instance_types": {"aws": "c7g.large"}})
    data["spec"]["scheduler"] = {"kind": "slurm", "controller": {"pool": "ctl"}, "drain_timeout": 0}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def workspace(spec: Path, workdir: Path) -> Workspace:
    opened = open_workspace(spec, workdir=workdir)
    assert isinstance(opened, Workspace)
    return opened


def up(ws: Workspace, fake: FakeSlurm, stacks: FakeStacks, *, allow: bool = False,
       shown: list[Any] | None = None) -> operations.Outcome:
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: RecordingAnsible(),
                                 slurm=fake.connection)
    return operations.up(ws, operations.UpOptions(skip_check=True, allow_job_impact=allow),
                         approve=lambda planned, _: (shown if shown is not None else []).append(planned.plan),
                         emit=lambda _: None, engines=engines)


@pytest.fixture
def running(tmp_path: Path) -> tuple[Path, Path, FakeSlurm]:
    """A cluster up with 2 train nodes; Slurm runs job 1234 on east-train-0001, which never ends."""
    spec, workdir = write_spec(tmp_path / "cluster.yaml", train=2), tmp_path / "work"
    fake = FakeSlurm([Node(n) for n in ("east-train-0000", "east-train-0001", "west-infer-0000", "west-infer-0001")],
                     running={"east-train-0001": [Job("1234", "sleep")]})
    assert up(workspace(spec, workdir), fake, FakeStacks(seconds=(0.0, 0.0))).status == "applied"
    assert fake.calls == []  # a first bring-up removes nothing: Slurm is not asked
    write_spec(spec, train=1)
    return spec, workdir, fake


def test_a_drain_that_times_out_stops_the_run_before_the_infrastructure(running: tuple[Path, Path, FakeSlurm]
                                                                        ) -> None:
    spec, workdir, fake = running
    stacks, shown = FakeStacks(seconds=(0.0, 0.0)), []
    ws = workspace(spec, workdir)
    serial = ws.store.read().serial  # type: ignore[union-attr]
    with pytest.raises(OperationFailed, match="east-train-0001: 1234 sleep") as refused:
        up(ws, fake, stacks, shown=shown)
    assert "--allow-job-impact" in refused.value.hint
    plan, = shown
    assert [c.address for c in plan.pending if c.action is Action.DELETE] == ["east/train/node-0001"]
    assert plan.jobs.lines() == ["east-train-0001: 1 job running (1234 sleep); drained first, up to 0 s"]
    assert stacks.ran == []  # the infrastructure was not touched
    assert ws.store.read().serial == serial  # type: ignore[union-attr]  # nor the state
    assert fake.asked("drain") == [(("east-train-0001",), "grid: removed from the spec")]


def test_allow_job_impact_goes_on(running: tuple[Path, Path, FakeSlurm]) -> None:
    spec, workdir, fake = running
    stacks = FakeStacks(seconds=(0.0, 0.0))
    outcome = up(workspace(spec, workdir), fake, stacks, allow=True)
    assert outcome.status == "applied"
    assert {region for region, *_ in stacks.ran} == {"east"}
