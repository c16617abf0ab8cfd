"""Validators: names are unique and every reference points at something that exists.

Each validator walks regions, fabrics, storage, pools, links and users — never nodes —
so it stays fast for specs that describe 100,000 nodes in a few dozen pools.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

from grid.diagnostics import Diagnostic, Path, error, path_text
from grid.spec.model import Cluster, Region
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")


def suggest(name: str, candidates: Iterable[str], *, what: str, where: str) -> str:
    """A did-you-mean hint, or the list of names that would be valid here."""
    names = sorted(set(candidates))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if names:
        return f"{what} defined in {where}: {', '.join(names)}"
    return f"{where} defines no {what}"


def first_duplicates(items: Sequence[tuple[str, Path]]) -> Iterator[tuple[str, Path, Path]]:
    """(name, path of the repeat, path of the first use) for every repeated name."""
    seen: dict[str, Path] = {}
    for name, path in items:
        if name in seen:
            yield name, path, seen[name]
        else:
            seen[name] = path


def _duplicate(kind: str, name: str, path: Path, first: Path, scope: str) -> Diagnostic:
    return error(f"{kind} name '{name}' is used twice{scope}", path, code="references.duplicate-name",
                 detail=f"first defined at {path_text(first)}", hint="rename one of them")


def region_names_unique(cluster: Cluster) -> Iterator[Diagnostic]:
    items = [(r.name, (*REGIONS, i, "name")) for i, r in enumerate(cluster.spec.regions)]
    for name, path, first in first_duplicates(items):
        yield _duplicate("region", name, path, first, "")


def region_member_names_unique(cluster: Cluster) -> Iterator[Diagnostic]:
    for r, region in enumerate(cluster.spec.regions):
        scope = f" in region '{region.name}'"
        groups: tuple[tuple[str, str, Sequence[str]], ...] = (
            ("fabric", "fabrics", [f.name for f in region.fabrics]),
            ("storage", "storage", [s.name for s in region.storage]),
            ("pool", "pools", [p.name for p in region.pools]),
        )
        for kind, key, names in groups:
            items = [(name, (*REGIONS, r, key, i, "name")) for i, name in enumerate(names)]
            for name, path, first in first_duplicates(items):
                yield _duplicate(kind, name, path, first, scope)


def hostnames_unique(cluster: Cluster) -> Iterator[Diagnostic]:
    """Hostnames are `region-pool-0007`: region 'a-b' pool 'c' and region 'a' pool 'b-c' collide."""
    seen: dict[str, tuple[str, str]] = {}
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            prefix = f"{region.name}-{pool.name}"
            other = seen.setdefault(prefix, (region.name, pool.name))
            if other != (region.name, pool.name):
                yield error(
                    f"pool '{pool.name}' in region '{region.name}' gives the same hostnames as pool "
                    f"'{other[1]}' in region '{other[0]}' ({prefix}-0000, ...)",
                    (*REGIONS, r, "pools", p, "name"), code="references.hostname-collision",
                    hint="node hostnames are region-pool-NNNN; rename the pool or the region")


RESERVED_POOL_NAMES = ("fabric", "storage")
"""Addresses are region/pool/node-NNNN, region/fabric/NAME and region/storage/NAME: a pool with one of
these names could give a node the address of a fabric or a storage."""


def pool_names_not_reserved(cluster: Cluster) -> Iterator[Diagnostic]:
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if pool.name in RESERVED_POOL_NAMES:
                yield error(f"pool name '{pool.name}' is reserved", (*REGIONS, r, "pools", p, "name"),
                            code="references.reserved-name",
                            detail=f"addresses of fabrics and storage are {region.name}/fabric/NAME and "
                                   f"{region.name}/storage/NAME; a pool of that name could collide with them",
                            hint=f"rename the pool (e.g. '{pool.name}-nodes')")


def _pool_refs(region: Region, r: int, others: dict[str, dict[str, list[str]]]) -> Iterator[Diagnostic]:
    defined = {"fabrics": {f.name for f in region.fabrics}, "storage": {s.name for s in region.storage}}
    for p, pool in enumerate(region.pools):
        for key, kind in (("fabrics", "fabric"), ("storage", "storage")):
            names: list[str] = pool.fabrics if key == "fabrics" else pool.storage
            seen: set[str] = set()
            for i, name in enumerate(names):
                path = (*REGIONS, r, "pools", p, key, i)
                if name in seen:
                    yield error(f"pool '{pool.name}' lists {kind} '{name}' twice", path,
                                code="references.listed-twice", hint="remove the repeated entry")
                    continue
                seen.add(name)
                if name in defined[key]:
                    continue
                elsewhere = [g for g in others[key].get(name, []) if g != region.name]
                hint = suggest(name, defined[key], what=key, where=f"region '{region.name}'")
                if elsewhere and not hint.startswith("did you mean"):
                    hint = (f"'{name}' is defined in region '{elsewhere[0]}', but a pool can only use the "
                            f"{key} of its own region; {hint}")
                yield error(f"pool '{pool.name}' uses {kind} '{name}', which region '{region.name}' "
                            f"does not define", path, code="references.undefined", hint=hint)


def pool_references_exist(cluster: Cluster) -> Iterator[Diagnostic]:
    others: dict[str, dict[str, list[str]]] = {"fabrics": {}, "storage": {}}
    for region in cluster.spec.regions:
        for f in region.fabrics:
            others["fabrics"].setdefault(f.name, []).append(region.name)
        for s in region.storage:
            others["storage"].setdefault(s.name, []).append(region.name)
    for r, region in enumerate(cluster.spec.regions):
        yield from _pool_refs(region, r, others)


def pool_mounts_distinct(cluster: Cluster) -> Iterator[Diagnostic]:
    for r, region in enumerate(cluster.spec.regions):
        mounts = {s.name: [m.path for m in s.all_mounts] for s in region.storage}
        for p, pool in enumerate(region.pools):
            used: dict[str, str] = {}
            for i, name in enumerate(pool.storage):
                if name not in mounts or name in used.values():
                    continue
                for mount in mounts[name]:
                    if mount in used and used[mount] != name:
                        yield error(f"pool '{pool.name}' mounts storage '{name}' and '{used[mount]}' at the same "
                                    f"path {mount}", (*REGIONS, r, "pools", p, "storage", i),
                                    code="references.mount-collision",
                                    hint="give each storage a different mount path")
                    else:
                        used[mount] = name


def pools_have_fabric(cluster: Cluster) -> Iterator[Diagnostic]:
    if not traits_of(cluster).nodes_need_fabric:
        return
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if not pool.fabrics:
                fabrics = ", ".join(f.name for f in region.fabrics) or "a fabric defined in the region"
                yield error(f"pool '{pool.name}' attaches to no fabric", (*REGIONS, r, "pools", p, "fabrics"),
                            code="references.no-fabric",
                            detail="a node needs at least one fabric to be reachable",
                            hint=f"add 'fabrics: [...]' to the pool, naming {fabrics}")


def links_valid(cluster: Cluster) -> Iterator[Diagnostic]:
    regions = [r.name for r in cluster.spec.regions]
    known = set(regions)
    pairs: dict[tuple[str, str], int] = {}
    for i, link in enumerate(cluster.spec.links):
        base: Path = ("spec", "links", i, "between")
        a, b = link.between
        unknown = False
        for j, name in enumerate((a, b)):
            if name not in known:
                unknown = True
                yield error(f"link {i + 1} names region '{name}', which is not defined", (*base, j),
                            code="references.unknown-region",
                            hint=suggest(name, regions, what="regions", where="this spec"))
        if a == b:
            yield error(f"link {i + 1} joins region '{a}' to itself", base, code="references.self-link",
                        hint="a link joins two different regions")
            continue
        if unknown:
            continue
        pair = (min(a, b), max(a, b))
        if pair in pairs:
            yield error(f"regions '{a}' and '{b}' are linked twice", base, code="references.duplicate-link",
                        detail=f"first linked at {path_text(('spec', 'links', pairs[pair]))}",
                        hint="describe each backbone link once; add up the bandwidth in one entry")
        else:
            pairs[pair] = i


def users_valid(cluster: Cluster) -> Iterator[Diagnostic]:
    config = cluster.spec.configuration
    base: Path = ("spec", "configuration")
    if config.admin_user == "root":
        yield error("admin_user must not be 'root'", (*base, "admin_user"), code="references.admin-root",
                    detail="grid creates the admin user with sudo rights; root already exists on every node",
                    hint="use a dedicated name such as 'gridadmin'")
    items = [(u.name, (*base, "users", i, "name")) for i, u in enumerate(config.users)]
    for name, path, first in first_duplicates(items):
        yield _duplicate("user", name, path, first, " in configuration.users")
    for name, path in items:
        if name == config.admin_user:
            yield error(f"user '{name}' is the admin_user", path, code="references.admin-user",
                        detail="grid creates the admin user itself", hint="remove it from users or rename it")


VALIDATORS: list[Validator] = [
    region_names_unique, region_member_names_unique, hostnames_unique, pool_names_not_reserved,
    pool_references_exist, pool_mounts_distinct, pools_have_fabric, links_valid, users_valid,
]
