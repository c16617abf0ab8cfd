"""The scheduler of a spec (`spec.scheduler`): Slurm, placed on the spec's pools.

Kept loose here where a precise message helps more than a pattern: what a pool reference resolves to, whether
`max_time` is a Slurm time and whether a `slurm_conf` key is one Slurm knows and grid does not own are judged by
grid.validate.scheduler at file:line:col. The alphabets below are what reaches slurm.conf, so rendering never
has to escape anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

if TYPE_CHECKING:
    from grid.spec.model import Cluster, Pool

_LABEL = r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?"
# `pool` (a name used by one region only) or `region/pool`.
PoolRef = Annotated[str, StringConstraints(pattern=rf"^({_LABEL}/)?{_LABEL}$")]
# Slurm partition names are case-sensitive words; grid keeps them DNS-label-like (they appear in its messages).
PartitionName = Annotated[str, StringConstraints(pattern=r"^[a-z][-a-z0-9_]{0,39}$")]
# `UNLIMITED`, `INFINITE` or minutes / [days-]hours:minutes:seconds: grid.validate.scheduler checks the form
# (with the forms in its hint), so only what could never be a time is refused here.
TimeText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f#\x7f]{1,32}$")]
SlurmKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]
# One slurm.conf value: no newline (a second line), no '#' (a comment) and no control characters.
SlurmValue = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f#\x7f]{1,400}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Controller(_Model):
    pool: PoolRef = Field(description="The pool whose node runs slurmctld (`pool` or `region/pool`)")
    ha: bool = Field(False, description="Run a backup slurmctld: the pool then has exactly 2 nodes")


class DatabasePlacement(_Model):
    pool: PoolRef = Field(description="The pool whose node runs slurmdbd (accounting); one node")


class LoginPlacement(_Model):
    pools: list[PoolRef] = Field(min_length=1, max_length=16,
                                 description="Pools whose nodes submit jobs but run none (no slurmd)")


class Partition(_Model):
    name: PartitionName
    pools: list[PoolRef] = Field(min_length=1, max_length=256, description="Pools whose nodes the partition has")
    default: bool = Field(False, description="Jobs that name no partition go here (one partition at most)")
    max_time: TimeText = Field("UNLIMITED", description="Longest job: UNLIMITED, minutes, or "
                                                        "days-hours:minutes:seconds (\"1-00:00:00\")")
    exclusive: bool = Field(False, description="Each job gets whole nodes (OverSubscribe=EXCLUSIVE); its pools "
                                               "belong to this partition alone")


class SlurmScheduler(_Model):
    kind: Literal["slurm"]
    controller: Controller
    database: DatabasePlacement | None = None
    login: LoginPlacement | None = None
    partitions: list[Partition] | None = Field(
        None, max_length=256,
        description="Left out: one partition per pool that runs no controller, database or login node, named "
                    "after the pool, the first one the default")
    slurm_conf: dict[SlurmKey, StrictBool | StrictInt | SlurmValue] = Field(
        default_factory=dict,
        description="Site-specific slurm.conf lines (Key: value) for keys grid does not own; they override "
                    "grid's lab defaults such as ProctrackType and TaskPlugin; true/false are written YES/NO")
    drain_timeout: int = Field(
        3600, ge=0, le=30 * 86400,
        description="Seconds grid waits for the jobs of a node that leaves (drained first) before it goes on")


Scheduler = SlurmScheduler
"""Every scheduler grid knows (one so far; `kind` tells them apart)."""


@dataclass(frozen=True)
class PoolPlace:
    """A pool a scheduler reference resolves to: its region and its position in the spec."""

    region: str
    region_index: int
    pool_index: int
    pool: Pool

    @property
    def key(self) -> tuple[str, str]:
        return self.region, self.pool.name


def pool_places(cluster: Cluster) -> Iterator[PoolPlace]:
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            yield PoolPlace(region.name, r, p, pool)


def resolve(cluster: Cluster, ref: str) -> list[PoolPlace]:
    """The pools `ref` names: one when it resolves, none when nothing has that name, several when a bare
    pool name is used in more than one region (grid.validate.scheduler reports the last two)."""
    region, _, name = ref.rpartition("/")
    return [place for place in pool_places(cluster)
            if place.pool.name == name and (not region or place.region == region)]


@dataclass(frozen=True)
class PartitionPlan:
    """A partition as grid renders it: the spec's, or one derived from a pool."""

    name: str
    pools: tuple[tuple[str, str], ...]  # (region, pool)
    default: bool
    max_time: str
    exclusive: bool


def service_pools(scheduler: Scheduler) -> list[str]:
    """References of the pools that run Slurm's services rather than jobs (controller, database, login)."""
    refs = [scheduler.controller.pool]
    if scheduler.database is not None:
        refs.append(scheduler.database.pool)
    if scheduler.login is not None:
        refs.extend(scheduler.login.pools)
    return refs


def partitions(cluster: Cluster, scheduler: Scheduler) -> list[PartitionPlan]:
    """The partitions of a valid spec: as written, or one per pool that runs no service (named after the pool,
    or `region-pool` when the pool's name is used in several regions); without a `default: true`, the first
    is the default."""
    if scheduler.partitions is not None:
        plans = [PartitionPlan(p.name, tuple(dict.fromkeys(place.key for ref in p.pools
                                                           for place in resolve(cluster, ref))),
                               p.default, p.max_time, p.exclusive) for p in scheduler.partitions]
    else:
        services = {place.key for ref in service_pools(scheduler) for place in resolve(cluster, ref)}
        places = [place for place in pool_places(cluster) if place.key not in services]
        names = [place.pool.name for place in places]
        plans = [PartitionPlan(place.pool.name if names.count(place.pool.name) == 1
                               else f"{place.region}-{place.pool.name}", (place.key,), False, "UNLIMITED", False)
                 for place in places]
    if plans and not any(p.default for p in plans):
        first = plans[0]
        plans[0] = PartitionPlan(first.name, first.pools, True, first.max_time, first.exclusive)
    return plans
