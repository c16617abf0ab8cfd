"""Plan values: what will change, why, and what each change costs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grid.slot_init import slot_init
from grid.spec.targets import TARGET_TRAITS

if TYPE_CHECKING:  # annotations only: a plan of a cluster without Slurm never loads Slurm's modules
    from grid.plan.jobs import JobImpact
    from grid.plan.moved import Moves
    from grid.plan.selection import Selection
    from grid.plan.slurm_plan import SlurmStep
    from grid.plan.waves import Roll  # which imports this module
    from grid.policy.report import PolicyReport

PLAN_FORMAT = "grid-plan/v1"


class Action(enum.StrEnum):
    CREATE = "create"
    # What a target that never makes machines (`existing`) does with one it has not recorded yet: it takes the
    # machine over as it is (pins its host key, records it, configures it). Such plans never say `create`.
    ADOPT = "adopt"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "adopt": "<=", "update": "~", "replace": "-/+", "delete": "-",
                "no-op": "="}[self.value]

    @property
    def makes(self) -> bool:
        """The resource is new to grid after this change (made, made again, or adopted): a node needs all
        of its configuration."""
        return self in (Action.CREATE, Action.ADOPT, Action.REPLACE)


def adopts(target: str) -> bool:
    """Whether `target` adopts machines that exist already instead of creating them (its traits say so)."""
    traits = TARGET_TRAITS.get(target)
    return traits is not None and not traits.creates_infrastructure


def new_resource_action(target: str) -> Action:
    """What a resource in the spec but not in the state gets: `adopt` on targets that never create."""
    return Action.ADOPT if adopts(target) else Action.CREATE


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


@slot_init  # one per resource (per host): made by the 10^5 in a plan
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


@slot_init  # one per resource (per host): made by the 10^5 in a plan
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
    # The Slurm nodes this plan deletes or replaces and their jobs (grid.plan.jobs); None: no scheduler, no such
    # node, or the plan was made without asking the live cluster.
    jobs: JobImpact | None = None
    # What applying the plan does to Slurm and what jobs feel of it (grid.plan.slurm_plan), first step first.
    slurm: tuple[SlurmStep, ...] = ()
    # The waves in which the nodes it replaces leave service, per pool (grid.plan.waves); None: not worked out
    # (a saved plan read back, or a plan made without the spec at hand).
    roll: Roll | None = None
    # A partial plan's selection (--target/--exclude: grid.plan.selection); None: the whole cluster.
    selection: Selection | None = None
    # What the policy packs said of this plan (grid.policy); None: no pack ran.
    policy: PolicyReport | None = None
    # What the spec's `moved:` entries re-address (grid.plan.moved); None: the spec has none.
    moved: Moves | None = None
    # Resources left unchanged that `changes` does not list: a sealed plan's (grid.state.seal), which never
    # reads their records. Counted with the listed no-ops.
    unlisted_unchanged: int = 0

    @property
    def pending(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    @property
    def has_changes(self) -> bool:
        return (bool(self.pending) or bool(self.config) or bool(self.unfinished)
                or bool(self.moved is not None and self.moved.resources))

    @property
    def adopts(self) -> bool:
        """The target adopts existing machines: counts and views say `adopt`, never `create`."""
        return adopts(self.target)

    def counts(self) -> dict[str, int]:
        """Changes per action. A plan counts `adopt` where its target adopts and `create` where it creates
        (the one that cannot happen is left out, so saved plans of creating targets keep their keys)."""
        left_out = Action.CREATE if self.adopts else Action.ADOPT
        out = {a.value: 0 for a in Action if a is not left_out}
        for change in self.changes:
            out[change.action.value] = out.get(change.action.value, 0) + 1
        out[Action.NOOP.value] += self.unlisted_unchanged
        return out

    @property
    def drifted(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.cause is Cause.DRIFT and c.action is not Action.NOOP)
