"""`grid state migrate --partition`: a single state split by region in place; the single state kept."""

from __future__ import annotations

from pathlib import Path

import yaml

from grid.operations.partition import partition_state
from grid.resources import expand
from grid.state.partitions import PartitionedStore
from grid.workspace import Workspace, open_workspace
from support.paths import LOCAL_LAB
from support.specs import applied_state, cluster_from


def test_a_single_state_is_split_and_reads_back_the_same(tmp_path: Path) -> None:
    data = yaml.safe_load(LOCAL_LAB.read_text())
    spec = tmp_path / "cluster.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = open_workspace(spec, workdir=tmp_path / "wd")
    assert isinstance(ws, Workspace), ws
    single = ws.store.write(applied_state(expand(cluster_from(data))), 0)
    before = (tmp_path / "wd" / "state.json").read_bytes()

    result = partition_state(ws)
    assert sorted(result.parts) == ["_cluster", "east", "west"] and not result.already
    assert (tmp_path / "wd" / "state.json").read_bytes() == before  # kept as a backup

    reopened = open_workspace(spec, workdir=tmp_path / "wd", regions=["west"])
    assert isinstance(reopened, Workspace) and isinstance(reopened.store, PartitionedStore)
    merged = reopened.store.read()
    assert merged is not None
    assert merged.state == single.state and merged.lineage == single.lineage and merged.serial > single.serial
    assert reopened.rendered_dir == tmp_path / "wd" / "rendered" / "regions" / "west"

    again = open_workspace(spec, workdir=tmp_path / "wd")
    assert isinstance(again, Workspace)
    assert partition_state(again).already
