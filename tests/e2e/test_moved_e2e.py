"""Renaming a pool with `moved:` on the real lab (grid.plan.moved): one region, a pool of 2 nodes brought up as
`train-old`, renamed `train` → the plan shows the moves with 0 to create and 0 to delete, `grid up` converges
with the same containers (ids, names, IPs), Pulumi's stack holds the new addresses, drift is clean, the next plan
is empty and says the applied entry is stale; without the entry the plan stays empty."""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import grid
from support.specs import local_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # about 70 s: up, rename, up, drift, plans

REGIONS = """\
    - name: east
      site: {{power_mw: 0.1}}
      fabrics:
        - {{name: mgmt, kind: ethernet, cidr: {cidr}}}
      pools:
        - {{name: {pool}, count: 2, fabrics: [mgmt], roles: [compute], resources: {{cpus: 0.5, memory_gb: 0.5}}}}
"""
BASE_ROLE = "  configuration:\n    roles: [base]\n"
MOVED = "  moved:\n    - {from: east/train-old, to: east/train}\n"


def _free_subnet() -> str:
    """A /24 of this slice's 198.19.32.0/20 that no podman network holds."""
    listed = subprocess.run(["podman", "network", "ls", "--format", "{{range .Subnets}}{{.Subnet}} {{end}}"],
                            capture_output=True, text=True, check=True).stdout.split()
    free = [f"198.19.{octet}.0/24" for octet in range(40, 48) if f"198.19.{octet}.0/24" not in listed]
    return random.choice(free)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, list[str]]]:
    directory = tmp_path_factory.mktemp("moved")
    name, cidr = "mv" + uuid.uuid4().hex[:6], _free_subnet()
    spec = directory / "cluster.yaml"
    spec.write_text(local_cluster(name, REGIONS.format(cidr=cidr, pool="train-old"), BASE_ROLE))
    work = ["--workdir", str(directory / "wd")]
    try:
        # As an operator types it, from the spec's directory: a relative work directory once hung the new nodes'
        # configuration (Ansible's gate plugin looked for the gates in its own working directory).
        up = grid("up", "cluster.yaml", "--yes", "--workdir", "wd", cwd=directory)
        assert up.code == 0, up.output
        yield spec, name, work
    finally:
        grid("destroy", str(spec), "--yes", *work)


def _containers(name: str) -> dict[str, tuple[str, str]]:
    """{container name: (id, IP)} of the cluster's nodes."""
    names = [f"grid-{name}-east-train-old-{i:04d}" for i in range(2)]
    found = json.loads(subprocess.run(["podman", "inspect", *names], capture_output=True, text=True,
                                      check=True).stdout)
    return {c["Name"].lstrip("/"): (c["Id"], next(iter(c["NetworkSettings"]["Networks"].values()))["IPAddress"])
            for c in found}


def test_a_pool_renamed_keeps_its_nodes(lab: tuple[Path, str, list[str]]) -> None:
    spec, name, work = lab
    before = _containers(name)
    spec.write_text(spec.read_text().replace("name: train-old", "name: train") + MOVED)

    plan = grid("plan", str(spec), *work, "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "~> east/train-old/node-0000 → east/train/node-0000  (moved)" in plan.output
    assert "~> east/train-old/node-0001 → east/train/node-0001  (moved)" in plan.output
    assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 2 moved," in plan.output
    document = json.loads(grid("plan", str(spec), *work, "--json").stdout)
    assert document["summary"]["create"] == document["summary"]["delete"] == 0
    assert len(document["moved"]["resources"]) == 2

    up = grid("up", str(spec), "--yes", *work)
    assert up.code == 0, up.output
    assert ": create " not in up.output and ": delete " not in up.output, up.output  # Pulumi's steps
    assert _containers(name) == before  # the same containers: ids, names and IPs

    state = json.loads((spec.parent / "wd" / "state.json").read_text())["state"]
    assert sorted(a for a, r in state["resources"].items() if r["kind"] == "node") == [
        "east/train/node-0000", "east/train/node-0001"]
    assert sorted(state["hosts"]) == ["east/train/node-0000", "east/train/node-0001"]
    recorded = [(c["address"], c["action"]) for c in state["history"][-1]["changes"]]
    assert ("east/train/node-0000", "moved from east/train-old/node-0000") in recorded
    stack = next((spec.parent / "wd").glob("pulumi-backend/.pulumi/stacks/*/east.json")).read_text()
    assert "::east/train/node-0000" in stack and "::east/train-old/node-0000" not in stack

    drift = grid("drift", str(spec), *work, "--detailed-exitcode")
    assert drift.code == 0, drift.output
    again = grid("plan", str(spec), *work, "--detailed-exitcode")
    assert again.code == 0, again.output
    assert "No changes." in again.output
    assert f"{spec}:18:" in again.output and "matches nothing in the state" in again.output
    assert "remove this entry" in again.output

    spec.write_text(spec.read_text().replace(MOVED, ""))
    plain = grid("plan", str(spec), *work, "--detailed-exitcode")
    assert plain.code == 0 and "warning" not in plain.output, plain.output
