"""Plan values: what will change, why, and what each change costs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

PLAN_FORMAT = "grid-plan/v1"


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": "="}[self.value]


class Policy(enum.StrEnum):
    """What applying a change costs (AWS ParallelCluster's update policies)."""

    IN_PLACE = "in-place"
    REPLACES = "replaces-resource"
    NOT_ALLOWED = "not-allowed"

    @property
    def rank(self) -> int:
        return {"in-place": 0, "replaces-resource": 1, "not-allowed": 2}[self.value]


class Cause(enum.StrEnum):
    SPEC = "spec"
    DRIFT = "drift"


@dataclass(frozen=True, slots=True)
class AttributeChange:
    name: str
    before: Any
    after: Any
    policy: Policy


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    kind: str
    region: str
    action: Action
    cause: Cause = Cause.SPEC
    attributes: tuple[AttributeChange, ...] = ()
    reason: str = ""
    after: dict[str, Any] | None = None  # desired attributes (None when deleting)

    @property
    def policy(self) -> Policy:
        if self.action is Action.REPLACE:
            return max((a.policy for a in self.attributes), key=lambda p: p.rank, default=Policy.REPLACES)
        return max((a.policy for a in self.attributes), key=lambda p: p.rank, default=Policy.IN_PLACE)


SCOPES: dict[str, str] = {
    "full": "full configuration",  # a new host, or its own inputs changed: every task
    "cluster-wide": "cluster-wide tasks only",  # users, keys, sysctls, hosts table (tagged `cluster-wide`)
    "hosts": "hosts table only",  # a node came or went elsewhere: /etc/hosts alone
}
"""Ansible scopes, widest first, with the words plans and progress use for them."""


@dataclass(frozen=True, slots=True)
class HostConfigChange:
    """Ansible work a host needs: everything, only the cluster-wide tasks, or only the hosts table."""

    address: str
    scope: str  # a key of SCOPES
    reason: str
    cause: Cause = Cause.SPEC  # drift: the host (or its node) was found changed; spec: its inputs changed


@dataclass(frozen=True)
class Plan:
    cluster: str
    target: str
    spec_digest: str
    state_serial: int
    state_lineage: str
    changes: tuple[ResourceChange, ...]
    config: tuple[HostConfigChange, ...] = ()
    errors: tuple[str, ...] = ()
    capacity: dict[str, Any] = field(default_factory=dict)
    refreshed: bool = False
    # Regions whose last infrastructure run did not finish: `grid up` runs them again to complete them.
    unfinished: tuple[str, ...] = ()

    @property
    def pending(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return bool(self.pending) or bool(self.config) or bool(self.unfinished)

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for change in self.changes:
            out[change.action.value] += 1
        return out

    @property
    def drifted(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.cause is Cause.DRIFT and c.action is not Action.NOOP)
