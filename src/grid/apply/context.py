"""What an apply works with (ApplyContext) and what it returns (ApplyResult)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grid.apply.events import EventSink, Failure
from grid.apply.statewriter import StateWriter
from grid.drivers.ansible import AnsibleRunner
from grid.drivers.ssh import KeyPair
from grid.engines import StackEngine
from grid.resources import ResourceGraph
from grid.spec.model import Cluster
from grid.state.model import Envelope, State


@dataclass
class ApplyContext:
    cluster: Cluster
    graph: ResourceGraph
    workdir: Path
    rendered: Path  # the directory `grid render` output was written to
    keypair: KeyPair
    stacks: StackEngine | None
    ansible: AnsibleRunner | None
    writer: StateWriter
    emit: EventSink
    host_digests: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    command: str = "up"
    # The plan was just made against the live target: regions it found as state says need no Pulumi
    # refresh before their changes (grid.apply.engine). False for a saved plan applied later.
    fresh_plan: bool = False
    # Accounts the spec as last applied had and this one lacks: the playbook removes them from the nodes;
    # history records it.
    removed_accounts: tuple[str, ...] = ()
    # Labels every object made carries, naming the state that owns it (lineage, where it lives): another state
    # finds them and refuses to touch them (grid.targets.local.probe).
    owner: Mapping[str, str] = field(default_factory=dict)
    # The spec (JSON form) this run applies: state records it as applied once the run succeeds, not before (a
    # failed run leaves the previous one, so the next run still removes the accounts this one was to remove).
    applied_spec: dict[str, Any] | None = None


@dataclass(frozen=True)
class ApplyResult:
    state: State
    failures: tuple[Failure, ...]
    configured: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()
    serial: int = 0  # of the state as last saved by the run; 0 when none was saved
    # That state as saved (its checksum): a run that applied the whole plan seals it (grid.operations.sealed).
    saved: Envelope | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


