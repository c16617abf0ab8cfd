"""migrate.py: a small state moved from one work directory's file to another's, whole and verified.

The existing target has no Pulumi stacks (its hosts are tracked in grid's state alone), so this runs
without Pulumi; moving stacks between backends is tested end to end in tests/ci (PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.operations.migrate import migrate_state
from grid.resources import expand
from grid.state import FileStateStore
from grid.state.errors import StateError
from grid.workspace import Workspace, open_workspace
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from


def listed_hosts(data: dict[str, Any]) -> None:
    """The example's two hosts in the spec itself (no inventory file to find)."""
    data["spec"]["targets"] = {"existing": {"hosts": [
        {"name": f"dc1-gpu-000{i}", "address": f"198.18.100.1{i}", "region": "dc1", "pool": "gpu"}
        for i in range(2)]}}


def store_in(workdir: Path) -> FileStateStore:
    """A state file store in a new work directory (as `grid state migrate --to DIR` makes it)."""
    workdir.mkdir(mode=0o700)
    return FileStateStore(workdir)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """The existing-hosts example with a state of serial 2 in its work directory."""
    data = yaml.safe_load((EXAMPLES / "targets" / "existing.yaml").read_text())
    listed_hosts(data)
    spec = tmp_path / "cluster.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = open_workspace(spec, workdir=tmp_path / "from")
    assert isinstance(ws, Workspace), ws
    state = applied_state(expand(cluster_from(data)))
    ws.store.write(state, 0)
    ws.store.write(state.model_copy(update={"spec_digest": "sha256:" + "d" * 64}), 1)
    return ws


def test_the_state_arrives_byte_for_byte_and_the_source_stays(workspace: Workspace, tmp_path: Path) -> None:
    dest = store_in(tmp_path / "to")
    original = workspace.store.pull()
    said: list[str] = []

    migrated = migrate_state(workspace, dest, say=said.append)

    assert dest.pull() == original  # same serial, lineage and checksum: the very same bytes
    assert workspace.store.pull() == original  # the source is left as it was, as a backup
    copied = dest.read()
    assert copied is not None
    assert (migrated.serial, migrated.lineage, migrated.checksum) == (2, copied.lineage, copied.checksum)
    assert migrated.stacks == () and not migrated.already and said == []


def test_migrating_again_finds_the_copy_already_there(workspace: Workspace, tmp_path: Path) -> None:
    dest = store_in(tmp_path / "to")
    migrate_state(workspace, dest)
    assert migrate_state(workspace, dest).already


def test_the_same_place_and_no_state_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="already kept in"):
        migrate_state(workspace, FileStateStore(workspace.workdir))
    empty = open_workspace(workspace.spec_path, workdir=tmp_path / "empty")
    assert isinstance(empty, Workspace)
    with pytest.raises(StateError, match="there is no state of cluster 'existing-gpus'"):
        migrate_state(empty, store_in(tmp_path / "to"))
