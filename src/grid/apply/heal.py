"""The pieces of `grid up --heal` that touch Slurm and state: quarantining a failing node (drained in Slurm with a
reason naming the check, recorded in state), resuming one, and the pool slots of a replacement.

Every piece writes state before the next one starts, so a heal killed anywhere is completed by the next run:
what state records (grid.state.model: QuarantineRecord, PoolSlots) says where it stands. The flow is in
grid.operations.heal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from grid.apply.drain import QUARANTINE_REASON_PREFIX, UNREACHABLE, SlurmConnect, SlurmControl, controller_of
from grid.apply.events import Event, EventSink
from grid.apply.statewriter import StateWriter
from grid.health.results import CheckResult
from grid.plan.slots import slots_key
from grid.resources import ResourceGraph
from grid.state.history import history_entry
from grid.state.model import ChangeRecord, HealthRun, HistoryEntry, PoolSlots, QuarantineRecord, State
from grid.workspace import Workspace

COMMAND = "up --heal"
REASON_CHARS = 120  # Slurm keeps longer reasons, but sinfo's columns and people read them whole


def quarantine_reason(failed: Sequence[CheckResult]) -> str:
    """The Slurm drain reason of a node quarantined for `failed` (its first failing result names the check)."""
    first = failed[0]
    where = f" device {first.device}" if first.device else ""
    more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
    text = f"{QUARANTINE_REASON_PREFIX}{first.check}{where}: {first.found}"
    return text[:REASON_CHARS - len(more)] + more


def quarantine_record(address: str, failed: Sequence[CheckResult]) -> QuarantineRecord:
    first = failed[0]
    since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return QuarantineRecord(address=address, check=first.check, device=first.device, detail=first.line(),
                            since=since, by=COMMAND)


def write(ws: Workspace, change: Callable[[State, int], State]) -> State:
    """State re-read and `change`d (given the serial the write will have), written at once."""
    envelope, state = ws.read_state()
    writer = StateWriter(ws.store, envelope, state)
    return writer.update(lambda s: change(s, writer.serial + 1))


def entry(serial: int, changes: Sequence[tuple[str, str]], *, health: HealthRun | None = None, message: str = "",
          failed: bool = False) -> HistoryEntry:
    """A history entry of the heal: changes as (node address, action), all caused by health."""
    made = history_entry(serial, COMMAND, changes=[ChangeRecord(address=a, action=action, cause="health")
                                                   for a, action in changes],
                         outcome="failed" if failed else "applied")
    return made.model_copy(update={"health": health, "message": message})


def with_history(state: State, item: HistoryEntry) -> State:
    return state.model_copy(update={"history": [*state.history, item][-200:]})


def set_slots(state: State, region: str, pool: str, *, replacing: Sequence[int] | None = None,
              retired: Sequence[int] | None = None) -> State:
    key = slots_key(region, pool)
    now = state.slots.get(key, PoolSlots())
    new = PoolSlots(retired=sorted(retired if retired is not None else now.retired),
                    replacing=sorted(replacing if replacing is not None else now.replacing))
    slots = {**state.slots, key: new} if (new.retired or new.replacing) else {
        k: v for k, v in state.slots.items() if k != key}
    return state.model_copy(update={"slots": slots})


@dataclass
class Slurm:
    """The cluster's Slurm for a heal, or nothing (no scheduler, no controller made): nothing to drain then."""

    control: SlurmControl | None
    emit: EventSink

    def known(self) -> set[str]:
        if self.control is None:
            return set()
        return {n.name for n in self.control.nodes()}

    def drain(self, hostname: str, reason: str) -> bool:
        """Drain `hostname` (no new jobs; running ones go on); False when Slurm does not have it as a node."""
        if self.control is None or hostname not in self.known():
            return False
        self.control.drain([hostname], reason)
        self.emit(Event("heal", "done", hostname, f"drained in Slurm: {reason}"))
        return True

    def resume(self, hostname: str) -> bool:
        """Back in service when Slurm has it drained or down (SlurmController.resume leaves others as they are)."""
        if self.control is None or hostname not in self.known():
            return False
        self.control.resume([hostname])
        self.emit(Event("heal", "done", hostname, "in service in Slurm"))
        return True


@contextmanager
def slurm_for(ws: Workspace, state: State, graph: ResourceGraph, connect: SlurmConnect,
              emit: EventSink) -> Iterator[Slurm]:
    if ws.cluster.spec.scheduler is None:
        yield Slurm(None, emit)
        return
    controller = controller_of(ws.cluster, graph, state, ())
    if controller is None:
        yield Slurm(None, emit)
        return
    with connect(ws.workdir, state, ws.cluster) as controller_for:
        yield Slurm(controller_for(controller.hostname, controller.ip), emit)


__all__ = ["UNREACHABLE", "Slurm", "entry", "quarantine_reason", "quarantine_record", "set_slots", "slurm_for",
           "with_history", "write"]
