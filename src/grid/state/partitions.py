"""A cluster's state kept as parts (grid.state.partition_split), each a full store of its own, and the store a
run scoped to some regions works through.

Where the parts are: next to a file state, `<state dir>/partitions/<part>/` (a FileStateStore each: serial,
lineage, backups and LOCK of its own); in PostgreSQL, the same tables under the cluster names "<cluster>@<part>".
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grid.state import codec
from grid.state._osutil import DIR_MODE
from grid.state.errors import LockHeld, StateConflict, StateError
from grid.state.holder import LockHolder, Status
from grid.state.lease import HeldLock
from grid.state.model import Envelope, HistoryEntry, State
from grid.state.partition_split import CLUSTER_PART, RUN_FIELDS, history_region, merge, split, without
from grid.state.postgres import DEFAULT_PG_LEASE_SECONDS, PostgresStateStore
from grid.state.roles import BackupInfo, PulumiBackend, Restored, StateStore
from grid.state.scoped import PARTITIONS_DIR
from grid.state.store import FileStateStore

PART_HISTORY_KEPT = 200
"""History entries each part keeps (as a single state keeps them: grid.apply.engine)."""
PENDING_RETRIES = 20
"""How often recording pending work retries when another run wrote (or briefly locked) the cluster part."""


class Partitions(Protocol):
    """Where a cluster's parts are kept."""

    def names(self) -> list[str]:
        """The parts that exist (the cluster part included when it does)."""
        ...

    def open(self, part: str) -> StateStore: ...


@dataclass(frozen=True)
class FilePartitions:
    state_dir: Path  # the directory of the cluster's (legacy) state.json
    pulumi_home: Path

    @property
    def root(self) -> Path:
        return self.state_dir / PARTITIONS_DIR

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "state.json").exists())

    def open(self, part: str) -> StateStore:
        directory = self.root / part
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        return FileStateStore(directory, pulumi_home=self.pulumi_home)


class PostgresPartitions:
    def __init__(self, url: str, cluster: str, *, lease_seconds: float = DEFAULT_PG_LEASE_SECONDS) -> None:
        self.url = url
        self.cluster = cluster
        self.lease_seconds = lease_seconds
        self._opened: dict[str, PostgresStateStore] = {}

    def names(self) -> list[str]:
        probe = self.open(CLUSTER_PART)
        with probe._tx() as cur:  # the parts' own connection and schema
            cur.execute("SELECT cluster FROM grid_state_head WHERE cluster LIKE %s AND serial > 0",
                        (self.cluster.replace("%", r"\%").replace("_", r"\_") + "@%",))
            rows = cur.fetchall()
        prefix = self.cluster + "@"
        return sorted(str(row[0])[len(prefix):] for row in rows)

    def open(self, part: str) -> PostgresStateStore:
        if part not in self._opened:
            self._opened[part] = PostgresStateStore(self.url, f"{self.cluster}@{part}",
                                                    lease_seconds=self.lease_seconds)
        return self._opened[part]


def partitions_for(store: StateStore, cluster: str) -> Partitions | None:
    """The partitions that go with a single store's location (None for a store kind that has none)."""
    if isinstance(store, FileStateStore):
        return FilePartitions(store.workdir, store.pulumi_home)
    if isinstance(store, PostgresStateStore):
        return PostgresPartitions(store.url, cluster, lease_seconds=store.lease_seconds)
    return None


class ScopeViolation(StateError):
    """A write would change a part outside the run's scope: a bug in what the run planned."""


class PartitionedStore:
    """Every role of grid.state.roles.StateStore over a cluster's parts, for a scope: some regions, or all
    (`regions=None`). Reads merge every part; writes and locks touch only the scope's parts (the whole
    cluster's scope: every part, the cluster part too)."""

    def __init__(self, partitions: Partitions, cluster: str, regions: Sequence[str] | None = None) -> None:
        self.partitions = partitions
        self.cluster = cluster
        self.regions = tuple(sorted(set(regions))) if regions is not None else None
        self._read: dict[str, Envelope] = {}  # each part as last read or written by us

    # -- scope -----------------------------------------------------------------------------------

    def in_scope(self, part: str) -> bool:
        return self.regions is None or part in self.regions

    def _scope_parts(self) -> list[str]:
        if self.regions is None:
            return sorted({CLUSTER_PART, *self.partitions.names()})
        return list(self.regions)

    def _store(self, part: str) -> StateStore:
        return self.partitions.open(part)

    # -- read ------------------------------------------------------------------------------------

    def read(self) -> Envelope | None:
        envelopes: dict[str, Envelope] = {}
        for part in self.partitions.names():
            envelope = self._store(part).read()
            if envelope is not None:
                envelopes[part] = envelope
        self._read = envelopes
        if not envelopes:
            return None
        return self._merged()

    def _merged(self) -> Envelope:
        state = merge(self.cluster, {part: e.state for part, e in self._read.items()})
        cluster_part = self._read.get(CLUSTER_PART)
        return Envelope(serial=sum(e.serial for e in self._read.values()),
                        lineage=cluster_part.lineage if cluster_part else "", state=state)

    # -- write -----------------------------------------------------------------------------------

    def write(self, state: State, expected_serial: int) -> Envelope:
        """Write the scope's parts that changed, each against the serial we last read of it (StateConflict only
        when that part changed meanwhile); pending work for other regions goes to the cluster part by a short
        locked read-modify-write. A change to a part out of scope is a bug: ScopeViolation."""
        home = self.regions[0] if self.regions else None
        if home is not None and CLUSTER_PART not in self._read:
            # A new state: its cluster part (whose lineage the objects are labelled with) comes first.
            self._update_cluster_part(lambda s: s)
        stored = {part: envelope.state for part, envelope in self._read.items()}
        before = merge(self.cluster, stored) if stored else State(cluster=self.cluster)
        content = split(state.model_copy(update={"history": []}))
        known = {_entry_key(e) for e in before.history}
        added = [e for e in state.history if _entry_key(e) not in known]
        targets: dict[str, State] = {}
        for part in sorted(set(content) | set(stored)):
            old = stored.get(part) or State(cluster=self.cluster)
            fresh = content.get(part) or State(cluster=self.cluster)
            kept = (*_BOOKKEEPING, "pending") if part == CLUSTER_PART and home else _BOOKKEEPING
            if without(fresh, kept) != without(old, kept):
                targets[part] = fresh.model_copy(update={f: getattr(old, f) for f in kept})
        for entry in added:
            region = history_region(entry)
            part = region if region and self.in_scope(region) else (home or CLUSTER_PART)
            base = targets.get(part) or stored.get(part) or State(cluster=self.cluster)
            targets[part] = base.model_copy(update={"history": [*base.history, entry][-PART_HISTORY_KEPT:]})
        run_part = home or CLUSTER_PART
        base = targets.get(run_part) or stored.get(run_part) or State(cluster=self.cluster)
        if any(getattr(base, f) != getattr(state, f) for f in RUN_FIELDS):
            targets[run_part] = base.model_copy(update={f: getattr(state, f) for f in RUN_FIELDS})
        shared = None  # what a region run may add to the cluster part: the admin key once, the links
        if home is not None and CLUSTER_PART in targets:
            shared = _shared_update(targets.pop(CLUSTER_PART), stored.get(CLUSTER_PART), state)
            if shared is None:
                targets[CLUSTER_PART] = state  # anything else there is out of scope (raised below)
        for part in sorted(targets):
            if not self.in_scope(part):
                raise ScopeViolation(f"this run is limited to {', '.join(self.regions or ())} but would change "
                                     f"the state of {_part_words(part)}",
                                     "run it without --region; if that is not expected, report it as a bug")
        for part in sorted(targets):
            last = self._read.get(part)
            self._read[part] = self._store(part).write(targets[part], last.serial if last else 0)
        if home is not None:
            if shared is not None:
                self._update_cluster_part(shared)
            self._record_pending(before.pending, state.pending)
        return self._merged()

    def _record_pending(self, was: dict[str, list[str]], now: dict[str, list[str]]) -> None:
        changes = {region: now.get(region) for region in set(was) | set(now) if was.get(region) != now.get(region)}
        if not changes:
            return

        def apply(state: State) -> State:
            pending = dict(state.pending)
            for region, lines in changes.items():
                if lines:
                    pending[region] = list(lines)
                else:
                    pending.pop(region, None)
            return state.model_copy(update={"pending": pending})

        self._update_cluster_part(apply)

    def _update_cluster_part(self, change: Callable[[State], State]) -> None:
        """Read, change and write the cluster part under its lock, briefly; retried while another run holds
        it for a moment or wrote it meanwhile."""
        store = self._store(CLUSTER_PART)
        for attempt in range(PENDING_RETRIES):
            try:
                with store.lock("record pending work", lease_seconds=30.0):
                    current = store.read()
                    state = current.state if current else State(cluster=self.cluster)
                    new_state = change(state)
                    if current is not None and new_state == state:
                        self._read[CLUSTER_PART] = current
                        return
                    self._read[CLUSTER_PART] = store.write(new_state, current.serial if current else 0)
                    return
            except (StateConflict, LockHeld):
                if attempt == PENDING_RETRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def import_envelope(self, raw: bytes) -> bool:
        incoming = codec.decode(raw, "the imported state")
        current = self.read()
        if current is not None:
            if current.state == incoming.state:
                return True
            raise StateError(f"the partitioned state of {self.cluster} already holds a different state",
                             "import into an empty location")
        self.create(incoming.state, incoming.lineage, incoming.serial)
        return False

    def create(self, state: State, lineage: str, serial: int = 1) -> Envelope:
        """Store `state` as a new partitioned state whose cluster part carries `lineage` (a single state's,
        split: the objects grid made are labelled with it) and `serial` (so the merged serial only grows)."""
        if self.read() is not None:
            raise StateError(f"the state of {self.cluster} is already partitioned", "")
        parts = split(state)
        body, digest = codec.encode_state(parts.pop(CLUSTER_PART))
        raw = b"".join(codec.envelope_chunks(body, digest, serial=max(serial, 1), lineage=lineage))
        self._store(CLUSTER_PART).import_envelope(raw)
        for part, part_state in sorted(parts.items()):
            self._read[part] = self._store(part).write(part_state, 0)
        envelope = self.read()
        assert envelope is not None
        return envelope

    # -- lock ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, command: str, *, lease_seconds: float | None = None,
             break_stale: bool = False) -> Iterator[HeldLock]:
        """The scope's parts' locks, taken in sorted order (two runs never wait on each other in a cycle)."""
        with contextlib.ExitStack() as stack:
            held: list[HeldLock] = []
            for part in sorted(self._scope_parts()):
                store = self._store(part)
                held.append(stack.enter_context(
                    store.lock(command, break_stale=break_stale) if lease_seconds is None
                    else store.lock(command, lease_seconds=lease_seconds, break_stale=break_stale)))
            yield _AllHeld(held)

    def lock_holder(self) -> LockHolder | None:
        for part in self._scope_parts():
            holder = self._store(part).lock_holder()
            if holder is not None:
                return holder
        return None

    def lock_status(self) -> Status | None:
        for part in self._scope_parts():
            status = self._store(part).lock_status()
            if status is not None:
                return status
        return None

    def unlock(self, *, force: bool = False) -> LockHolder | None:
        found: LockHolder | None = None
        for part in self._scope_parts():
            holder = self._store(part).unlock(force=force)
            found = found or holder
        return found

    # -- backups and location --------------------------------------------------------------------

    @property
    def backup_location(self) -> str:
        return f"{self.where} (each partition's own backups)"

    def backups(self) -> list[BackupInfo]:
        return [info for part in sorted(self.partitions.names()) for info in self._store(part).backups()]

    def restore(self, serial: int, *, command: str = "") -> Restored:
        raise StateError(f"the state of {self.cluster} is partitioned by region: a serial names no one version",
                         "restore one partition with `grid state restore` against its location "
                         f"({self.where}), or re-run `grid up`")

    def pull(self) -> bytes | None:
        envelope = self.read()
        if envelope is None:
            return None
        body, digest = codec.encode_state(envelope.state)
        return b"".join(codec.envelope_chunks(body, digest, serial=envelope.serial,
                                              lineage=envelope.lineage or "partitioned"))

    @property
    def where(self) -> str:
        base = self._store(CLUSTER_PART).where
        return f"{base} (partitioned by region)"

    @property
    def is_shared(self) -> bool:
        return self._store(CLUSTER_PART).is_shared

    def pulumi_backend(self) -> PulumiBackend:
        return self._store(CLUSTER_PART).pulumi_backend()


@dataclass(frozen=True)
class _AllHeld:
    locks: list[HeldLock]

    @property
    def holder(self) -> LockHolder | None:
        return self.locks[0].holder if self.locks else None

    def check(self) -> None:
        for held in self.locks:
            held.check()


_BOOKKEEPING = ("history", *RUN_FIELDS)
"""What a part keeps of its own runs: not derived from the merged state's content by split()."""


def _entry_key(entry: HistoryEntry) -> tuple[int, str, str]:
    return entry.serial, entry.at, entry.command


def _shared_update(target: State, stored: State | None, state: State) -> Callable[[State], State] | None:
    """The change a region run may make to the cluster part — the admin key where none is recorded yet, the
    links between regions (the spec's, the same for every run) — as a function of its current state; None
    when the run changes more than that there."""
    base = stored or State(cluster=target.cluster)
    ignored = ("admin_public_key", "resources", "pending")
    links = {a: r for a, r in target.resources.items() if r.kind == "link"}
    if without(target, ignored) != without(base, ignored) or len(links) != len(target.resources) or (
            base.admin_public_key and target.admin_public_key != base.admin_public_key):
        return None
    key = state.admin_public_key

    def change(current: State) -> State:
        others = {a: r for a, r in current.resources.items() if r.kind != "link"}
        return current.model_copy(update={"resources": {**others, **links},
                                          "admin_public_key": current.admin_public_key or key})

    return change


def _part_words(part: str) -> str:
    return "the whole cluster (what no one region holds)" if part == CLUSTER_PART else f"region {part!r}"


def is_partitioned(store: StateStore, cluster: str) -> bool:
    found = partitions_for(store, cluster)
    return bool(found and found.names())


__all__ = ["CLUSTER_PART", "FilePartitions", "PartitionedStore", "Partitions", "PostgresPartitions",
           "ScopeViolation", "is_partitioned", "partitions_for"]
