"""`grid state migrate --partition`: split a cluster's single state into a cluster part and one part per
region (grid.state.partitions), in the same location. The single state is left as it was, as a backup."""

from __future__ import annotations

from dataclasses import dataclass

from grid.state.errors import StateCorrupted, StateError
from grid.state.partitions import PartitionedStore, partitions_for
from grid.workspace import Workspace


@dataclass(frozen=True)
class Partitioned:
    parts: tuple[str, ...]  # the parts now kept
    serial: int  # of the single state that was split
    already: bool  # the state was partitioned before


def partition_state(ws: Workspace) -> Partitioned:
    if isinstance(ws.store, PartitionedStore):
        envelope = ws.store.read()
        return Partitioned(tuple(ws.store.partitions.names()), envelope.serial if envelope else 0, True)
    parts = partitions_for(ws.store, ws.cluster.name)
    if parts is None:
        raise StateError(f"the state in {ws.store.where} cannot be partitioned by region",
                         "keep it in a work directory or in PostgreSQL first (`grid state migrate --to`)")
    command = "grid state migrate --partition"
    with ws.store.lock(command):
        envelope = ws.store.read()
        if envelope is None:
            raise StateError(f"there is no state of cluster '{ws.cluster.name}' in {ws.store.where} to partition",
                             "a new state is created partitioned by the first `grid up --region`")
        partitioned = PartitionedStore(parts, ws.cluster.name)
        with partitioned.lock(command):
            if partitioned.read() is None:
                partitioned.create(envelope.state, envelope.lineage, envelope.serial)
            check = PartitionedStore(parts, ws.cluster.name).read()
            if check is None or check.state != envelope.state or check.lineage != envelope.lineage:
                raise StateCorrupted(f"the partitions in {partitioned.where} do not read back as the state split",
                                     f"the single state in {ws.store.where} is untouched; remove the partitions "
                                     "and run the migration again")
    return Partitioned(tuple(parts.names()), envelope.serial, False)
