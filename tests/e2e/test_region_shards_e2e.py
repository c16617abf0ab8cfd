"""A split region on the real engine: grid's Pulumi driver runs a local region of 5 nodes as its own stack (the
fabrics and storage) and node stacks of 2, makes real podman containers, merges their outputs, previews as one
region with nothing to do, and destroys every stack. The thresholds are lowered in this process (the layout is
decided here; the worker processes only run the stacks they are given)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.drivers import pulumi_shards as shards
from grid.drivers.pulumi import ProcessStackEngine
from grid.render.pulumi import project_name, region_program_input
from grid.resources import expand
from grid.spec.model import Cluster
from support.lab import leftovers, podman_inventory, remove_cluster
from support.specs import small_lab

pytestmark = [pytest.mark.e2e]

NODES = 5
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6SayqSdvsExHGhfB919/SQiDV9V7ZIvSW/GibMHahs grid-test"


def five_nodes(data: dict[str, Any]) -> None:
    data["spec"]["regions"][0]["pools"][0]["count"] = NODES


def test_a_split_region_is_made_merged_and_destroyed_by_the_real_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "SHARD_ABOVE_NODES", 4)
    monkeypatch.setattr(shards, "SHARD_NODES", 2)
    spec, name = small_lab(tmp_path / "lab", edit=five_nodes)
    cluster = Cluster.model_validate(yaml.safe_load(spec.read_text()))
    region = cluster.spec.regions[0].name
    data = region_program_input(cluster, expand(cluster), region, authorized_key=KEY)
    (tmp_path / "passphrase").write_text("test-only\n")
    engine = ProcessStackEngine(project=project_name(name), target="local", workdir=tmp_path / "work",
                                passphrase_file=tmp_path / "passphrase")
    try:
        result = engine.up(region, data)
        pool = str(data["nodes"][0]["pool"])
        assert engine.stacks() == [region, *(shards.shard_stack(region, pool, k) for k in range(3))]
        assert engine.regions() == [region]
        assert sorted(result.outputs["nodes"]) == sorted(n["address"] for n in data["nodes"])
        assert all(out["container_id"] and out["host_key"] for out in result.outputs["nodes"].values())
        assert result.changes.get("create", 0) >= NODES
        made = podman_inventory(name)
        assert made["containers"] == {n["container"] for n in data["nodes"]}
        for container in made["containers"]:
            state = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", container],
                                   capture_output=True, text=True, check=True).stdout.strip()
            assert state == "true", container
        preview = engine.preview(region, data, refresh=True)
        assert set(preview.changes) <= {"same"}, preview.changes
        engine.destroy(region, data)
        assert engine.stacks() == []
        assert leftovers(name) == []
    finally:
        remove_cluster(name)
