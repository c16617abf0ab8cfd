"""`grid agent` runs the spec's policy packs: it calls the same operations as `grid up`, so a mandatory finding
stops its apply before anything is made, and the loop reports why (never a traceback)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from grid.agent.config import AgentConfig
from grid.agent.policy import GridActor
from grid.operations.policy_gate import PolicyRefused
from grid.workspace import Workspace, open_workspace
from support.paths import LOCAL_LAB

GATE = """\
from grid.policy import policy

@policy(name="hands-off", level="mandatory")
def hands_off(plan, config):
    return ["no changes by agents this week"] if plan.has_changes else []
"""


def gated_lab(directory: Path) -> Path:
    data = yaml.safe_load(LOCAL_LAB.read_text())
    data["metadata"]["name"] = "po" + uuid.uuid4().hex[:6]
    for number, fabric in enumerate(f for region in data["spec"]["regions"] for f in region["fabrics"]):
        fabric["cidr"] = f"198.19.{88 + number}.0/24"
    data["spec"]["policy"] = {"packs": ["gate"]}
    (directory / "gate").mkdir(parents=True)
    (directory / "gate" / "gate.py").write_text(GATE)
    spec = directory / "cluster.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def test_an_applying_agent_is_refused_by_the_spec_pack_before_anything_is_made(tmp_path: Path) -> None:
    spec = gated_lab(tmp_path)
    ws = open_workspace(spec, workdir=tmp_path / "wd")
    assert isinstance(ws, Workspace)
    actor = GridActor(AgentConfig(repo=str(tmp_path), path="cluster.yaml", policy="apply", workdir=tmp_path / "wd"))
    fenced: list[str] = []
    with pytest.raises(PolicyRefused, match=r"grid up refused, nothing was changed: 1 mandatory policy finding\(s\): "
                                            r"gate/hands-off: no changes by agents this week"):
        actor.reconcile(ws, tmp_path, lambda: fenced.append("fence"))
    assert not (tmp_path / "wd" / "state.json").exists()
