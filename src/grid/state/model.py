"""What grid remembers about a cluster: the values inside the state envelope."""

from __future__ import annotations

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
    cause: Literal["spec", "drift", "config"] = "spec"


class HistoryEntry(Record):
    serial: int
    at: str
    command: str
    user: str = ""
    spec_digest: str = ""
    changes: list[ChangeRecord] = Field(default_factory=list)
    outcome: Literal["applied", "partial", "failed"] = "applied"


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

    def interrupted_regions(self) -> list[str]:
        """Regions whose last infrastructure run started and did not finish (killed, or failed): what
        their stacks hold is not known to state until a run of theirs completes."""
        return list(self.interrupted)

    def allocations(self) -> dict[str, dict[str, str]]:
        """Node IPs per fabric, so re-expanding the spec keeps them (see grid.resources)."""
        return {
            address: dict(record.attrs.get("fabrics", {}))
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
