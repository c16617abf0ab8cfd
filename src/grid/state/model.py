"""What grid remembers about a cluster: the values inside the state envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 3
"""2: the checksum covers serial and lineage too (grid.state.codec). 3: what grid remembers of its own runs
is typed fields of State, no longer keys of `outputs` (older files are upgraded on read: grid.state.upgrade)."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceRecord(Record):
    """A resource as last applied: the desired attributes and what the target reported back."""

    address: str
    kind: str
    region: str
    attrs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)  # e.g. container id, pinned host key


class HostRecord(Record):
    """Configuration status of one node: digests of the inputs its last successful run saw."""

    address: str
    status: Literal["pending", "configured", "failed", "drifted"] = "pending"
    node_digest: str = ""  # inputs specific to this host
    cluster_digest: str = ""  # cluster-wide inputs but the hosts table (users, keys, sysctls)
    hosts_digest: str = ""  # the cluster's hosts table (/etc/hosts)
    error: str = ""
    drift: list[str] = Field(default_factory=list)  # tasks a check-mode run found changed (grid drift)
    updated_at: str = ""


class ChangeRecord(Record):
    address: str
    action: str
    cause: Literal["spec", "drift", "config", "health"] = "spec"


class HealthRecord(Record):
    """One health check's result that was not ok (grid.health.results.CheckResult as stored)."""

    node: str  # node address
    check: str
    device: str = ""
    status: Literal["warning", "failed", "unknown"]
    found: str
    threshold: str = ""


class HealthRun(Record):
    """A health suite's run over nodes: how many it checked and passed, and every result that was not ok."""

    suite: str
    nodes: int = 0
    passed: int = 0  # nodes whose every result is ok
    results: list[HealthRecord] = Field(default_factory=list)


class HistoryEntry(Record):
    serial: int
    at: str
    command: str
    user: str = ""
    spec_digest: str = ""
    changes: list[ChangeRecord] = Field(default_factory=list)
    outcome: Literal["applied", "partial", "failed"] = "applied"
    health: HealthRun | None = None  # `grid check --suite`, `grid up --heal`, a roll's health gate
    message: str = ""  # why a run stopped (max_unhealthy exceeded, a failing health gate, ...)


class QuarantineRecord(Record):
    """A node taken out of service by grid because it failed a health check (drained in Slurm)."""

    address: str
    check: str  # the check that failed, as grid.health names it (device.health, link, ecc, ...)
    device: str = ""
    detail: str = ""  # the failing result as people read it (CheckResult.line())
    since: str = ""
    by: str = ""  # the command that quarantined it
    replacement: str = ""  # the node address made to replace it (on_failure: replace), once chosen


class PoolSlots(Record):
    """Node indices of a pool that differ from 0..count-1 because grid replaced failed nodes: a `replacing`
    index is kept (quarantined) while its replacement, the next free index, comes up; a `retired` one is
    never used again (its node was removed once the replacement passed)."""

    retired: list[int] = Field(default_factory=list)
    replacing: list[int] = Field(default_factory=list)


class RollRecord(Record):
    """A rolling replacement under way in one pool: the wave it is in, so a killed run resumes there."""

    region: str
    pool: str
    spec_digest: str  # the spec the roll is applying
    waves: int  # how many waves the roll had when it started
    wave: int  # the wave under way, from 0
    nodes: list[str] = Field(default_factory=list)  # that wave's node addresses
    phase: Literal["drain", "replace", "gate", "resume"] = "drain"
    started_at: str = ""


class State(Record):
    cluster: str
    spec_digest: str = ""
    resources: dict[str, ResourceRecord] = Field(default_factory=dict)
    hosts: dict[str, HostRecord] = Field(default_factory=dict)
    applied_spec: dict[str, Any] | None = None  # the cluster spec (JSON form) of the last apply: capacity deltas,
    # accounts to remove
    rendered_digest: str = ""  # digest of the rendered tree of the last apply
    admin_public_key: str = ""  # the admin key things were made with (grid.identity)
    interrupted: list[str] = Field(default_factory=list)  # regions whose infrastructure run did not finish
    # Values grid does not interpret, kept as they are (an older file's keys other than the ones above).
    outputs: dict[str, Any] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)
    quarantined: dict[str, QuarantineRecord] = Field(default_factory=dict)  # by node address
    slots: dict[str, PoolSlots] = Field(default_factory=dict)  # by "region/pool"
    rolls: dict[str, RollRecord] = Field(default_factory=dict)  # by "region/pool"
    # Region -> what its next run must do because another region changed (a `--region` run records it for the
    # regions it did not touch; that region's next run does the work and clears its lines).
    pending: dict[str, list[str]] = Field(default_factory=dict)
    # Resources the spec's `moved:` entries re-addressed when this state was read ({new address: previous}):
    # never stored (the stored state has the new addresses once a run writes it). grid.plan.moved.
    moved_now: dict[str, Any] = Field(default_factory=dict, exclude=True)  # str values; Any: grid.state._fastdecode

    def interrupted_regions(self) -> list[str]:
        """Regions whose last infrastructure run started and did not finish (killed, or failed): what
        their stacks hold is not known to state until a run of theirs completes."""
        return list(self.interrupted)

    def allocations(self) -> dict[str, Mapping[str, str]]:
        """Node IPs per fabric, so re-expanding the spec keeps them (see grid.resources). The records' own
        dicts, read-only to the caller: a copy of each costs 0.1 s at 10^5 nodes."""
        return {
            address: fabrics if type(fabrics := record.attrs.get("fabrics", {})) is dict else dict(fabrics)
            for address, record in self.resources.items()
            if record.kind == "node"
        }


class Envelope(Record):
    """The stored form: identity and integrity around the state."""

    format_version: int = FORMAT_VERSION
    serial: int = 0
    lineage: str = ""
    checksum: str = ""
    state: State


def empty_state(cluster: str) -> State:
    return State(cluster=cluster)
