"""examples/lab-configured on the real lab: the user's role, a script, per-pool configuration and limits, one
volume mounted twice with different options, node-local scratch and a network policy — brought up and verified
by `grid check` (mounts, the scratch mode, an allowed port gets through and an undeclared one does not) and on
the nodes; a change to the role re-configures exactly the hosts that play it. Two nodes, one bring-up."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import brought_up, grid
from support.paths import EXAMPLES
from support.specs import lab_spec

pytestmark = pytest.mark.e2e

EXAMPLE = EXAMPLES / "lab-configured"
TRAIN, LOGIN = "east/train/node-0000", "east/login/node-0000"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    directory = tmp_path_factory.mktemp("lab-configured")
    for folder in ("roles", "scripts"):
        shutil.copytree(EXAMPLE / folder, directory / folder)
    spec, name = lab_spec(directory, source=EXAMPLE / "cluster.yaml")
    with brought_up(spec):  # with the acceptance checks: mounts, scratch mode, the policy probes
        yield spec, name


def _on(name: str, address: str, command: str) -> tuple[int, str]:
    container = f"grid-{name}-" + address.replace("/node-", "-").replace("/", "-")
    done = subprocess.run(["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          check=False, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_grid_check_verifies_mounts_scratch_and_policy(cluster: tuple[Path, str]) -> None:
    spec, _ = cluster
    checked = grid("check", str(spec), "--json")
    assert checked.code == 0, checked.output
    nodes = {n["hostname"]: n for n in json.loads(checked.stdout)["nodes"]}
    train = next(n for h, n in nodes.items() if "train" in h)
    names = set(train["checks"])
    assert {"mount:/checkpoints", "mount:/datasets"} <= names, names
    assert any(c.startswith("policy:compute:") and c.endswith(":allowed") for c in names), names
    assert any(c.startswith("policy:compute:") and c.endswith(":filtered") for c in names), names
    assert all(train["checks"].values()), train


def test_the_nodes_have_what_the_spec_says(cluster: tuple[Path, str]) -> None:
    _, name = cluster
    assert _on(name, TRAIN, "cat /etc/nccl.conf")[1].startswith("NCCL_SOCKET_IFNAME=eth0")
    assert _on(name, LOGIN, "test -e /etc/nccl.conf")[0] != 0  # the role is the train pool's only
    assert "hard memlock unlimited" in _on(name, TRAIN, "cat /etc/security/limits.d/90-grid.conf")[1]
    assert "memlock" not in _on(name, LOGIN, "cat /etc/security/limits.d/90-grid.conf")[1]
    assert _on(name, TRAIN, "stat -c %a /mnt/localssd") == (0, "1777\n")
    assert _on(name, TRAIN, "touch /datasets/x")[0] != 0  # mounted read-only
    assert _on(name, LOGIN, "echo shared > /checkpoints/datasets/probe")[0] == 0
    assert _on(name, TRAIN, "cat /datasets/probe") == (0, "shared\n")  # the subdir of the same volume
    assert _on(name, TRAIN, "test -s /var/lib/node-ready")[0] == 0  # the script ran once


def test_an_unchanged_cluster_is_planned_from_its_seal(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    first, second = (grid("plan", str(spec), "--detailed-exitcode") for _ in range(2))
    assert first.code == second.code == 0, (first.output, second.output)
    assert first.stdout == second.stdout and "No changes" in second.stdout
    sealed = json.loads((spec.parent / ".grid" / name / "state.seal.json").read_text())
    assert sealed["resources"] > 0 and sealed["hosts"] == 2


def test_a_role_change_reconfigures_only_the_hosts_that_play_it(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    role = spec.parent / "roles/nccl-tuning/tasks/main.yml"
    role.write_text(role.read_text().replace("NCCL_IB_DISABLE=0", "NCCL_IB_DISABLE=1"))
    # The seal the plans above left does not hide the edit: the role's digest is an input of the plan.
    assert grid("plan", str(spec), "--detailed-exitcode").code == 2
    plan = grid("plan", str(spec), "--json")
    assert plan.code == 0, plan.output
    configured = {c["address"]: c["scope"] for c in json.loads(plan.stdout)["configuration"]}
    assert configured == {TRAIN: "full"}, configured
    up = grid("up", str(spec), "--yes")
    assert up.code == 0, up.output
    assert "NCCL_IB_DISABLE=1" in _on(name, TRAIN, "cat /etc/nccl.conf")[1]
    # The run sealed the state it saved, after planning once more: the next `grid plan` answers from the seal.
    workdir = spec.parent / ".grid" / name
    sealed, index = (json.loads((workdir / f).read_text()) for f in ("state.seal.json", "state.index.json"))
    assert sealed["checksum"] == index["checksum"]
    after = grid("plan", str(spec), "--detailed-exitcode")
    assert after.code == 0 and "No changes" in after.stdout, after.output
    assert json.loads(grid("plan", str(spec), "--json").stdout)["configuration"] == []
