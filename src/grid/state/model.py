"""What grid remembers about a cluster: the values inside the state envelope."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 2  # 2: the checksum covers serial and lineage too (grid.state.codec)
# state.outputs key: regions whose last infrastructure run started and did not finish (grid.apply.engine)
INTERRUPTED = "interrupted_regions"


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
    outputs: dict[str, Any] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)

    def interrupted_regions(self) -> list[str]:
        """Regions whose last infrastructure run started and did not finish (killed, or failed): what
        their stacks hold is not known to state until a run of theirs completes."""
        return interrupted_in(self.outputs)

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


def interrupted_in(outputs: dict[str, Any]) -> list[str]:
    found = outputs.get(INTERRUPTED)
    return [str(r) for r in found] if isinstance(found, list) else []


def empty_state(cluster: str) -> State:
    return State(cluster=cluster)
