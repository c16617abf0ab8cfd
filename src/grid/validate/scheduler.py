"""Validators of `spec.scheduler`: every pool it names exists, the services sit where Slurm can run them, the
partitions are unambiguous and the site's slurm.conf lines are ones Slurm knows and grid does not write itself.

Like the other validators they walk pools, never nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, path_text, warning
from grid.spec import slurm_keys
from grid.spec.model import Cluster
from grid.spec.scheduler import PoolPlace, Scheduler, pool_places, resolve, service_pools
from grid.validate.base import Validator
from grid.validate.references import first_duplicates, suggest

SCHEDULER: Path = ("spec", "scheduler")

# slurm.conf(5), MaxTime: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
# "days-hours:minutes" and "days-hours:minutes:seconds", or UNLIMITED / INFINITE.
_TIME = re.compile(r"\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d{1,2}|\d+-\d{1,2}:\d{1,2}|\d+-\d{1,2}:\d{1,2}:\d{1,2}")


def valid_time(text: str) -> bool:
    if text.upper() in ("UNLIMITED", "INFINITE"):
        return True
    if not _TIME.fullmatch(text):
        return False
    # hours < 24 after a day, minutes and seconds < 60: Slurm would read 1-30:00:00 as something else
    days, _, clock = text.rpartition("-") if "-" in text else ("", "", text)
    parts = [int(p) for p in clock.split(":")]
    limits = ([24, 60, 60] if days else [10**9, 60, 60] if len(parts) == 3 else [10**9, 60])[:len(parts)]
    return all(value < limit for value, limit in zip(parts, limits, strict=True))


def _references(cluster: Cluster, scheduler: Scheduler) -> Iterator[tuple[str, Path, str]]:
    """(reference, its path, what names it) for every pool reference of the scheduler."""
    yield scheduler.controller.pool, (*SCHEDULER, "controller", "pool"), "the controller"
    if scheduler.database is not None:
        yield scheduler.database.pool, (*SCHEDULER, "database", "pool"), "the database"
    if scheduler.login is not None:
        for i, ref in enumerate(scheduler.login.pools):
            yield ref, (*SCHEDULER, "login", "pools", i), "login"
    for i, partition in enumerate(scheduler.partitions or []):
        for j, ref in enumerate(partition.pools):
            yield ref, (*SCHEDULER, "partitions", i, "pools", j), f"partition '{partition.name}'"


def pool_references_resolve(cluster: Cluster) -> Iterator[Diagnostic]:
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return
    places = list(pool_places(cluster))
    for ref, path, who in _references(cluster, scheduler):
        found = resolve(cluster, ref)
        if len(found) > 1:
            regions = ", ".join(f"'{p.region}/{p.pool.name}'" for p in found)
            yield error(f"{who} names pool '{ref}', which more than one region has", path,
                        code="scheduler.ambiguous-pool", detail=f"it could be {regions}",
                        hint=f"write the pool as region/pool, e.g. '{found[0].region}/{ref}'")
        elif not found:
            region, _, name = ref.rpartition("/")
            if region and region not in {p.region for p in places}:
                hint = suggest(region, (p.region for p in places), what="regions", where="this spec")
                yield error(f"{who} names region '{region}', which is not defined", path,
                            code="scheduler.unknown-pool", hint=hint)
                continue
            candidates = [p.pool.name for p in places if not region or p.region == region]
            yield error(f"{who} names pool '{ref}', which is not defined", path, code="scheduler.unknown-pool",
                        hint=suggest(name, candidates, what="pools",
                                     where=f"region '{region}'" if region else "this spec"))


def _one(cluster: Cluster, ref: str) -> PoolPlace | None:
    found = resolve(cluster, ref)
    return found[0] if len(found) == 1 else None


def services_fit(cluster: Cluster) -> Iterator[Diagnostic]:
    """The controller pool has 1 node (2 with ha: a backup), the database pool 1; jobs never run on login
    nodes, so a login pool in a partition is a mistake."""
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return
    controller = _one(cluster, scheduler.controller.pool)
    want = 2 if scheduler.controller.ha else 1
    if controller is not None and controller.pool.count != want:
        count_path: Path = ("spec", "regions", controller.region_index, "pools", controller.pool_index, "count")
        if scheduler.controller.ha:
            yield error(f"the controller pool '{controller.pool.name}' has {controller.pool.count} nodes; with "
                        f"ha: true it needs 2 (the primary and the backup slurmctld)", count_path,
                        code="scheduler.controller-count", hint="set the pool's count to 2")
        else:
            yield error(f"the controller pool '{controller.pool.name}' has {controller.pool.count} nodes, but "
                        f"Slurm runs one slurmctld", count_path, code="scheduler.controller-count",
                        detail=f"the controller is named at {path_text((*SCHEDULER, 'controller', 'pool'))}",
                        hint="set the pool's count to 1, or add 'ha: true' to the controller and give it 2 "
                             "nodes (a backup slurmctld)")
    database = _one(cluster, scheduler.database.pool) if scheduler.database else None
    if database is not None and database.pool.count != 1:
        yield error(f"the database pool '{database.pool.name}' has {database.pool.count} nodes; slurmdbd runs "
                    f"on one", ("spec", "regions", database.region_index, "pools", database.pool_index, "count"),
                    code="scheduler.database-count", hint="set the pool's count to 1 (or share the controller's)")
    if scheduler.database is not None:
        yield warning("slurmdbd is named, but grid does not install it or its database yet: slurm.conf will send "
                      "accounting there, and slurmctld logs errors until something answers",
                      (*SCHEDULER, "database"), code="scheduler.database-not-managed",
                      hint="install slurmdbd and MariaDB on that node yourself, or leave `database` out")
    if scheduler.controller.ha:
        yield warning("a backup slurmctld takes over only with the primary's state: grid does not share "
                      "StateSaveLocation between the two controller nodes yet",
                      (*SCHEDULER, "controller", "ha"), code="scheduler.ha-state-not-shared",
                      hint="mount shared storage at /var/lib/slurm/slurmctld on both, or leave `ha` out")
    logins = {p.key for ref in (scheduler.login.pools if scheduler.login else []) for p in resolve(cluster, ref)}
    for i, partition in enumerate(scheduler.partitions or []):
        for j, ref in enumerate(partition.pools):
            if any(p.key in logins for p in resolve(cluster, ref)):
                yield error(f"partition '{partition.name}' has login pool '{ref}'", (
                    *SCHEDULER, "partitions", i, "pools", j), code="scheduler.login-partition",
                    detail="login nodes submit jobs and run no slurmd, so jobs sent there would never start",
                    hint="remove the pool from the partition, or from login.pools")


def partitions_consistent(cluster: Cluster) -> Iterator[Diagnostic]:
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return
    if scheduler.partitions is None:
        services = {p.key for ref in service_pools(scheduler) for p in resolve(cluster, ref)}
        if all(p.key in services for p in pool_places(cluster)):
            yield error("the scheduler has no pool to run jobs on", (*SCHEDULER, "controller"),
                        code="scheduler.no-compute", detail="every pool runs the controller, the database or login",
                        hint="add a pool of compute nodes, or list partitions (a partition may use the "
                             "controller's pool)")
        return
    items = [(p.name, (*SCHEDULER, "partitions", i, "name")) for i, p in enumerate(scheduler.partitions)]
    for name, path, first in first_duplicates(items):
        yield error(f"partition name '{name}' is used twice", path, code="scheduler.duplicate-partition",
                    detail=f"first defined at {path_text(first)}", hint="rename one of them")
    defaults = [i for i, p in enumerate(scheduler.partitions) if p.default]
    for i in defaults[1:]:
        yield error(f"partitions '{scheduler.partitions[defaults[0]].name}' and "
                    f"'{scheduler.partitions[i].name}' are both the default", (*SCHEDULER, "partitions", i, "default"),
                    code="scheduler.two-defaults", detail="Slurm sends a job that names no partition to one",
                    hint="keep 'default: true' on one partition")
    for i, partition in enumerate(scheduler.partitions):
        if not valid_time(partition.max_time):
            yield error(f"partition '{partition.name}': max_time '{partition.max_time}' is not a Slurm time",
                        (*SCHEDULER, "partitions", i, "max_time"), code="scheduler.max-time",
                        hint="write UNLIMITED, minutes (\"90\"), hours:minutes:seconds (\"12:00:00\") or "
                             "days-hours:minutes:seconds (\"1-00:00:00\"), quoted")
        seen: set[str] = set()
        for j, ref in enumerate(partition.pools):
            if ref in seen:
                yield error(f"partition '{partition.name}' lists pool '{ref}' twice",
                            (*SCHEDULER, "partitions", i, "pools", j), code="scheduler.listed-twice",
                            hint="remove the repeated entry")
            seen.add(ref)
    yield from _exclusive_alone(cluster, scheduler)


def _exclusive_alone(cluster: Cluster, scheduler: Scheduler) -> Iterator[Diagnostic]:
    """An exclusive partition promises its jobs whole nodes; nodes shared with another partition would be
    partly held by that partition's jobs, and exclusive jobs would wait behind them."""
    holders: dict[tuple[str, str], list[int]] = {}
    for i, partition in enumerate(scheduler.partitions or []):
        for place in dict.fromkeys(p.key for ref in partition.pools for p in resolve(cluster, ref)):
            holders.setdefault(place, []).append(i)
    parts = scheduler.partitions or []
    for (region, pool), indexes in holders.items():
        exclusive = [i for i in indexes if parts[i].exclusive]
        if len(indexes) < 2 or not exclusive:
            continue
        at = exclusive[0]
        other = next(i for i in indexes if i != at)
        path = next(((*SCHEDULER, "partitions", at, "pools", j) for j, ref in enumerate(parts[at].pools)
                     if (region, pool) in {p.key for p in resolve(cluster, ref)}), (*SCHEDULER, "partitions", at))
        yield error(f"pool '{pool}' is in exclusive partition '{parts[at].name}' and also in partition "
                    f"'{parts[other].name}'", path, code="scheduler.exclusive-shared",
                    detail="an exclusive partition gives each job whole nodes; jobs of the other partition "
                           "would hold parts of the same nodes, and exclusive jobs wait behind them",
                    hint="give the exclusive partition pools of its own, or drop 'exclusive: true'")


def slurm_conf_keys(cluster: Cluster) -> Iterator[Diagnostic]:
    scheduler = cluster.spec.scheduler
    if scheduler is None:
        return
    seen: dict[str, str] = {}
    for key in scheduler.slurm_conf:
        path: Path = (*SCHEDULER, "slurm_conf", key)
        name = slurm_keys.canonical(key)
        if name is None:
            yield error(f"slurm_conf: '{key}' is not a slurm.conf key Slurm 22.05 knows", path,
                        code="scheduler.unknown-slurm-key",
                        hint=suggest(key, slurm_keys.KNOWN, what="keys", where="slurm.conf(5)")
                        if _close(key) else "see slurm.conf(5) for the keys; node and partition lines are grid's")
            continue
        why = slurm_keys.owned(name)
        if why is not None:
            yield error(f"slurm_conf: grid writes '{name}' itself", path, code="scheduler.owned-slurm-key",
                        detail=why, hint=f"remove '{key}' from slurm_conf; change the spec instead")
            continue
        if name in seen:
            yield error(f"slurm_conf: '{key}' and '{seen[name]}' are the same key (Slurm ignores case)", path,
                        code="scheduler.duplicate-slurm-key", hint="keep one of them")
        seen.setdefault(name, key)


def _close(key: str) -> bool:
    return "did you mean" in suggest(key, slurm_keys.KNOWN, what="keys", where="slurm.conf(5)")


VALIDATORS: list[Validator] = [pool_references_resolve, services_fit, partitions_consistent, slurm_conf_keys]
