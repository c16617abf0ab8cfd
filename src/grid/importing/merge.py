"""`grid import --merge`: the hosts found added to a spec that exists, nothing of it changed.

The hosts the spec lists already are left out of the import (their records stay as they are). The new hosts
get pools of their own (names the spec does not use yet); their subnets and mounts join the spec's fabric or
storage with the same CIDR or mount point, else are added. The spec is written anew from its data (YAML
comments of the old file do not survive a load; the new hosts' FOUND/GUESSED notes follow as comments).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from grid.importing.layout import unique_name
from grid.importing.sources import Candidate


def listed_endpoints(text: str) -> set[tuple[str, int]]:
    """(address, port) of every host the spec's targets.existing.hosts lists."""
    hosts = _hosts(_load(text))
    return {(str(h.get("address")), int(h.get("port", 22))) for h in hosts if isinstance(h, dict)}


def cluster_name(text: str) -> str:
    name = (_load(text).get("metadata") or {}).get("name")
    return name if isinstance(name, str) else ""


def taken_names(text: str) -> set[str]:
    """Host names the spec uses: a new host must not take one."""
    return {str(h.get("name")) for h in _hosts(_load(text)) if isinstance(h, dict)}


def merged_text(old: str, new: str, notes: Sequence[str], written_at: str) -> str:
    """The old spec with the new spec's hosts, pools, fabrics, storage and regions added (both texts from
    grid.importing.writer or the operator; `new` a spec of the new hosts only)."""
    data, added = _load(old), _load(new)
    regions = data["spec"].setdefault("regions", [])
    for region in added["spec"]["regions"]:
        have = next((r for r in regions if r.get("name") == region["name"]), None)
        if have is None:
            regions.append(region)
            continue
        renames = _join(have, region, "fabrics", "cidr") | _join(have, region, "storage", "mount")
        pools = have.setdefault("pools", [])
        taken = {p.get("name") for p in pools}
        for pool in region.get("pools", []):
            name = _free(pool["name"], taken)
            renames[("pool", pool["name"])] = name
            pool["name"] = name
            pool["fabrics"] = [renames.get(("fabrics", f), f) for f in pool.get("fabrics", [])]
            pool["storage"] = [renames.get(("storage", s), s) for s in pool.get("storage", [])]
            pools.append(pool)
        for host in _hosts(added):
            if host.get("region") == region["name"]:
                host["pool"] = renames.get(("pool", host["pool"]), host["pool"])
                if "fabrics" in host:
                    host["fabrics"] = {renames.get(("fabrics", k), k): v for k, v in host["fabrics"].items()}
    targets = data["spec"].setdefault("targets", {}).setdefault("existing", {})
    targets.setdefault("hosts", []).extend(_hosts(added))
    header = [f"# Hosts added by `grid import --merge` at {written_at}; this file was written anew from its data,",
              "# so comments it had are gone (the new hosts' notes are at the end)."]
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)
    return "\n".join(header) + "\n" + body + "\n".join(f"# {line}" for line in notes) + "\n"


def renamed(candidates: Sequence[Candidate], taken: set[str]) -> list[Candidate]:
    """The candidates with names the spec does not use yet."""
    out = []
    used = set(taken)
    for c in candidates:
        name = _free(c.name, used)
        out.append(Candidate(name, c.address, c.port, c.region, c.pool, c.user))
    return out


def _join(have: dict[str, Any], region: dict[str, Any], key: str, same: str) -> dict[tuple[str, str], str]:
    """Add `region`'s `key` entries to `have`'s: one with the same `same` value is `have`'s (renamed to it)."""
    renames: dict[tuple[str, str], str] = {}
    mine = have.setdefault(key, [])
    taken = {e.get("name") for e in mine}
    for entry in region.get(key, []):
        match = next((e for e in mine if e.get(same) == entry.get(same)), None)
        if match is not None:
            renames[(key, entry["name"])] = match["name"]
            continue
        name = _free(entry["name"], taken)
        renames[(key, entry["name"])] = name
        entry["name"] = name
        mine.append(entry)
    return renames


def _free(name: str, taken: set[str]) -> str:
    """`name`, or its base (a `-N` suffix dropped) with the next number free: `train-2` → `train-3`."""
    return unique_name(name, taken, base=re.sub(r"-\d+$", "", name) if name in taken else name)


def _load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise ValueError("not a grid spec")
    return data


def _hosts(data: dict[str, Any]) -> list[dict[str, Any]]:
    hosts = ((data["spec"].get("targets") or {}).get("existing") or {}).get("hosts") or []
    return [h for h in hosts if isinstance(h, dict)]
