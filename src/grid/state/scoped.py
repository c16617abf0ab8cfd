"""Which store a run works through: the single store as before, or the partitioned one (grid.state.partitions)."""

from __future__ import annotations

from collections.abc import Sequence

from grid.state.errors import StateError
from grid.state.roles import StateStore
from grid.state.store import FileStateStore

PARTITIONS_DIR = "partitions"  # grid.state.partitions keeps a work directory's parts here

PARTITION_HINT = "run `grid state migrate --partition SPEC` first (it keeps the current state as a backup)"


def scoped_store(single: StateStore, cluster: str, regions: Sequence[str] | None) -> StateStore:
    """The partitioned store when the partition layout exists at the single store's location; a new state
    opened for some regions is created partitioned; otherwise the single store as it is."""
    if not regions and isinstance(single, FileStateStore) and not (single.workdir / PARTITIONS_DIR).is_dir():
        return single  # the common case, decided without loading the partitions' code (every command's start)
    from grid.state.partitions import PartitionedStore, partitions_for

    parts = partitions_for(single, cluster)
    try:
        partitioned = parts is not None and bool(parts.names())
    except StateError:
        if regions:
            raise
        return single  # unreachable now: the single store says so, as before, when it is used
    if parts is not None and partitioned:
        return PartitionedStore(parts, cluster, regions)
    if not regions:
        return single
    if parts is None:
        raise StateError("--region needs a state kept in a work directory or in PostgreSQL",
                         "leave out --region, or keep the state in one of those")
    if single.read() is not None:
        raise StateError(f"the state of cluster '{cluster}' is not partitioned by region, so a run cannot be "
                         "limited to some regions", PARTITION_HINT)
    return PartitionedStore(parts, cluster, regions)
