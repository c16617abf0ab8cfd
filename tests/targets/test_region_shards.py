"""A big region's Pulumi stack split in node shards (grid.drivers.pulumi_shards): the layout, its stability, the
engine running the shards and merging them, and the local program making only its part of a split region."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_mocks import run_isolated

from grid.drivers import pulumi_shards as shards
from grid.drivers.pulumi import ProcessStackEngine
from grid.engines import RegionInput
from grid.render.pulumi import region_program_input
from grid.resources import expand
from grid.spec.model import Cluster
from support.paths import LOCAL_LAB

NODES = 7  # east's pool `train`: over SHARDS_ABOVE below, so split in shards of 3 (0-2, 3-5, 6)


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "SHARD_ABOVE_NODES", 4)
    monkeypatch.setattr(shards, "SHARD_NODES", 3)


def east(nodes: int = NODES) -> RegionInput:
    spec = yaml.safe_load(LOCAL_LAB.read_text())
    spec["spec"]["regions"][0]["pools"][0]["count"] = nodes
    cluster = Cluster.model_validate(spec)
    return region_program_input(cluster, expand(cluster), "east", authorized_key="ssh-ed25519 AAAA test")


def test_a_new_big_region_is_split_by_pool_and_node_index() -> None:
    layout = shards.layout("east", east(), existing=[])
    names = [stack for stack, _ in layout.stacks]
    assert names == ["east", "east.train.0", "east.train.1", "east.train.2"]
    own = layout.stacks[0][1]
    assert own["nodes"] == [] and own["fabrics"] and own["volumes"]
    parts = {stack: [n["index"] for n in data["nodes"]] for stack, data in layout.stacks[1:]}
    assert parts == {"east.train.0": [0, 1, 2], "east.train.1": [3, 4, 5], "east.train.2": [6]}
    for _, data in layout.stacks[1:]:
        assert all(f["external"] for f in data["fabrics"]) and all(v["external"] for v in data["volumes"])
    assert layout.note is None


def test_small_regions_and_other_targets_keep_one_stack() -> None:
    assert [s for s, _ in shards.layout("east", east(3), existing=[]).stacks] == ["east"]
    cloud = dict(east())
    cloud["target"] = "aws"
    assert [s for s, _ in shards.layout("east", cloud, existing=[]).stacks] == ["east"]  # type: ignore[arg-type]


def test_an_existing_layout_is_never_changed_and_the_user_is_told() -> None:
    whole = shards.layout("east", east(), existing=["east", "west"])
    assert [s for s, _ in whole.stacks] == ["east"] and whole.stacks[0][1]["nodes"]
    assert whole.note is not None and "kept whole" in whole.note
    shrunk = shards.layout("east", east(2), existing=["east", "east.train.0", "east.train.1", "east.train.2"])
    assert [s for s, _ in shrunk.stacks] == ["east", "east.train.0"]
    assert shrunk.gone == ("east.train.1", "east.train.2")
    assert shrunk.note is not None and "stays split" in shrunk.note
    unknown = shards.layout("east", east(), existing=None)  # a backend whose stacks cannot be listed
    assert [s for s, _ in unknown.stacks] == ["east"] and unknown.note is not None


def test_growing_a_pool_never_moves_a_node_between_stacks() -> None:
    before = {n["address"]: s for s, d in shards.layout("east", east(), existing=[]).stacks for n in d["nodes"]}
    existing = ["east", *sorted(set(before.values()))]
    after = {n["address"]: s for s, d in shards.layout("east", east(11), existing=existing).stacks for n in d["nodes"]}
    assert {a: after[a] for a in before} == before


class RecordingEngine(ProcessStackEngine):
    """The real engine's region logic; each stack's operation recorded (and its stack made in the file
    backend) instead of run by a Pulumi worker."""

    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "pass").write_text("x\n")
        super().__init__(project="grid-t", target="local", workdir=tmp_path, passphrase_file=tmp_path / "pass")
        self.calls: list[tuple[str, str, list[str]]] = []
        self._calls_lock = threading.Lock()
        self.stack_dir = tmp_path / "pulumi-backend" / ".pulumi" / "stacks" / "grid-t"
        self.stack_dir.mkdir(parents=True)

    def _run(self, op: str, region: str, data: RegionInput, progress: Any, made: Any = None,
             **extra: Any) -> dict[str, Any]:
        with self._calls_lock:
            self.calls.append((op, region, [n["address"] for n in data["nodes"]]))
        checkpoint = self.stack_dir / f"{region}.json"
        if op == "destroy":
            checkpoint.unlink(missing_ok=True)
            return {}
        checkpoint.write_text("{}")
        nodes = {n["address"]: {"container_id": n["container"], "host_key": "k"} for n in data["nodes"]}
        return {"outputs": {"nodes": nodes}, "changes": {"create": len(nodes) + 1},
                "steps": {address: "create" for address in nodes}}


def test_the_engine_runs_the_region_first_then_its_shards_and_merges_them(tmp_path: Path) -> None:
    engine = RecordingEngine(tmp_path)
    data = east()
    result = engine.up("east", data)
    assert engine.calls[0] == ("up", "east", [])  # fabrics and storage before the nodes that use them
    assert sorted(c[1] for c in engine.calls[1:]) == ["east.train.0", "east.train.1", "east.train.2"]
    assert result.region == "east"
    assert sorted(result.outputs["nodes"]) == sorted(n["address"] for n in data["nodes"])
    assert result.changes == {"create": NODES + 4}  # the nodes and each of the 4 stacks' own root
    assert engine.regions() == ["east"]
    preview = engine.preview("east", data, refresh=False)
    assert sorted(preview.steps) == sorted(n["address"] for n in data["nodes"])

    engine.calls.clear()
    engine.up("east", east(2))  # shrunk: the emptied shards are destroyed, nothing else moves
    assert ("destroy", "east.train.1", []) in engine.calls and ("destroy", "east.train.2", []) in engine.calls
    assert sorted(p.name for p in engine.stack_dir.glob("*.json")) == ["east.json", "east.train.0.json"]

    engine.calls.clear()
    engine.destroy("east", east(2))
    assert [c[:2] for c in engine.calls] == [("destroy", "east.train.0"), ("destroy", "east")]
    assert engine.regions() == []


def test_the_local_program_makes_only_its_part_of_a_split_region() -> None:
    layout = shards.layout("east", east(), existing=[])
    own_data, (stack, part) = layout.stacks[0][1], layout.stacks[1]
    own = run_isolated(target="local", data=json.loads(json.dumps(own_data)))
    assert sorted(r["name"] for r in own["resources"]) == sorted(
        r["address"] for r in [*own_data["fabrics"], *own_data["volumes"]])
    made = run_isolated(target="local", data=json.loads(json.dumps(part)))
    # Registered concurrently under the mocks: the order is not the program's to keep.
    assert sorted(r["name"] for r in made["resources"]) == sorted(n["address"] for n in part["nodes"]), stack
    node = made["resources"][0]["inputs"]
    assert {n["network"] for n in node["networks"]} == {f["network"] for f in part["fabrics"]}
    assert {v["volume"] for v in node["volumes"]} == {v["volume"] for v in part["volumes"]}
    assert sorted(made["outputs"]["program"]["nodes"]) == sorted(n["address"] for n in part["nodes"])
