"""Which store a state location names, and what Pulumi needs to go with it: backend selection in one place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grid.state import _osutil as osu
from grid.state.errors import StateError
from grid.state.postgres import DEFAULT_PG_LEASE_SECONDS, PostgresStateStore, is_postgres, redact
from grid.state.roles import PulumiBackend, StateLocation, StateStore
from grid.state.scoped import scoped_store
from grid.state.store import FileStateStore


def open_store(location: str | None, *, workdir: Path, cluster: str, lease_seconds: float | None = None,
               regions: Sequence[str] | None = None) -> StateStore:
    """The store a location names: none or `file` → state.json in `workdir`; `file://DIR`; `postgres://…`.
    A state partitioned by region there is opened as one (grid.state.scoped), limited to `regions` if given.

    Pulumi's stacks go with it: in the same database for postgres, else in `workdir` (grid.state.roles)."""
    return scoped_store(_single_store(location, workdir=workdir, cluster=cluster, lease_seconds=lease_seconds),
                        cluster, regions)


def _single_store(location: str | None, *, workdir: Path, cluster: str,
                  lease_seconds: float | None = None) -> StateStore:
    if not location or location == "file":
        return FileStateStore(workdir)
    if location.startswith("file://"):
        directory = Path(location[len("file://"):])
        directory.mkdir(mode=osu.DIR_MODE, parents=True, exist_ok=True)
        return FileStateStore(directory, pulumi_home=workdir)
    if is_postgres(location):
        return PostgresStateStore(location, cluster, lease_seconds=lease_seconds or DEFAULT_PG_LEASE_SECONDS)
    raise StateError(f"unsupported state location {redact(location)!r}",
                     "use postgres://user@host/db (team state), file://DIR, "
                     "or leave it out for state.json in the work directory")


def pulumi_backend(store: StateLocation) -> PulumiBackend:
    """The Pulumi backend URL that goes with `store`, and the environment (e.g. PGPASSWORD) to start Pulumi's
    processes with: given to them, never put in this process's environment or in a file."""
    return store.pulumi_backend()
