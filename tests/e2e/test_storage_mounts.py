"""Storage as people mount it, on a running lab of 2 nodes: one volume mounted twice (rw at /checkpoints,
ro at /datasets from its subdir `datasets`), so writing through /datasets fails while a file written through
/checkpoints/datasets shows there on the other node; a node-local scratch directory with mode 1777; `grid check`
verifies each; a changed mount plans a node replacement, a changed mode an in-place update."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import brought_up, grid
from support.specs import small_lab

pytestmark = pytest.mark.e2e

WRITER, READER = "east/train/node-0000", "east/train/node-0001"


def _mounts(data: dict[str, Any]) -> None:
    region = data["spec"]["regions"][0]
    region["storage"] = [
        {"name": "pfs", "kind": "parallel-fs", "capacity_tib": 1, "mounts": [
            {"path": "/checkpoints", "options": ["rw", "nosuid"]},
            {"path": "/datasets", "options": ["ro"], "subdir": "datasets"}]},
        {"name": "scratch", "kind": "local-scratch", "mounts": [{"path": "/mnt/localssd", "mode": "1777"}]}]
    pool = region["pools"][0]
    pool["storage"] = ["pfs", "scratch"]
    pool["resources"] = {"cpus": 0.25, "memory_gb": 0.25}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    spec, _ = small_lab(tmp_path_factory.mktemp("storage-mounts"), edit=_mounts)
    with brought_up(spec):  # `up` ends with `grid check`: the mounts and modes pass, or up fails
        yield spec


def _on(spec: Path, node: str, command: str) -> tuple[int, str]:
    done = grid("ssh", str(spec), node, "--", command, timeout=120)
    return done.code, done.output


def test_one_volume_twice_ro_and_rw_and_a_scratch_dir(lab: Path) -> None:
    code, out = _on(lab, WRITER, "echo ro > /datasets/x 2>&1; echo rc=$?")
    assert code == 0 and "rc=0" not in out, out  # read-only: writing fails
    code, out = _on(lab, WRITER, "echo hello > /checkpoints/datasets/shard-0 && echo written")
    assert code == 0 and "written" in out, out
    code, out = _on(lab, READER, "cat /datasets/shard-0; grep ' /datasets ' /proc/mounts; stat -c %a /mnt/localssd")
    assert code == 0, out
    assert "hello" in out and " ro," in out and "1777" in out


def test_check_verifies_each_mount_and_mode(lab: Path) -> None:
    done = grid("check", str(lab), "--json", timeout=300)
    assert done.code == 0, done.output
    for node in json.loads(done.stdout)["nodes"]:
        checks = node["checks"]
        assert checks["mount:/checkpoints"] is checks["mount:/datasets"] is checks["mode:/mnt/localssd"] is True
    _, out = _on(lab, READER, "chmod 755 /mnt/localssd && echo changed")
    assert "changed" in out, out
    done = grid("check", str(lab), "--json", timeout=300)
    assert done.code != 0
    reader = next(n for n in json.loads(done.stdout)["nodes"] if n["address"] == READER)
    assert reader["checks"]["mode:/mnt/localssd"] is False
    assert "scratch: /mnt/localssd has mode 755, the spec says 1777" in reader["problems"]


def _planned(spec: Path, change: Any) -> dict[str, str]:
    data = yaml.safe_load(spec.read_text())
    change(data["spec"]["regions"][0]["storage"])
    edited = spec.parent / "edited.yaml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))
    done = grid("plan", str(edited), "--json", timeout=300)
    assert done.code == 0, done.output
    return {c["address"]: c["action"] for c in json.loads(done.stdout)["changes"] if c["kind"] == "node"}


def test_a_changed_mount_replaces_nodes_and_a_changed_mode_does_not(lab: Path) -> None:
    def mount_rw(storage: list[dict[str, Any]]) -> None:
        storage[0]["mounts"][1]["options"] = ["rw"]

    def mode(storage: list[dict[str, Any]]) -> None:
        storage[1]["mounts"][0]["mode"] = "0777"

    assert set(_planned(lab, mount_rw).values()) == {"replace"}
    assert set(_planned(lab, mode).values()) == {"update"}
