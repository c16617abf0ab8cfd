"""The spec `grid import` writes: YAML with comments saying what was found on the hosts and what was guessed.

Guesses are marked `GUESSED` so the operator can find them: the site's power, PUE and cooling (grid cannot
see the building), fabric names, kinds and speeds where the NICs do not say, pool names and roles. The
spec has `configuration.manage: false`: see CONFIGURATION_COMMENT for why.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from grid.importing.layout import FabricFound, FoundHost, PoolFound, RegionFound, StorageFound
from grid.physics.capacity import node_power_w
from grid.physics.catalog import Catalog
from grid.targets.existing import fingerprint

NODES_PER_RACK = 4  # grid.spec.model.Pool's default
AIR_RACK_KW = 40.0  # grid.validate.physics.AIR_RACK_KW_MAX
PUE_GUESS = 1.3
POWER_HEADROOM = 2.0  # the guessed site power is twice what the nodes draw at the wall: never a false error
CONFIGURATION_COMMENT = """\
    # manage: false - grid pins the hosts' SSH keys, keeps them in its state, and plans and drifts against
    # them, but runs no playbook on them: nobody told it what to manage yet, and its base role would
    # add an admin account, sudoers files, a block in /etc/hosts, a sysctl file and /etc/grid/node.json to
    # every host. So the next `grid plan` is empty and `grid drift` clean. To let grid configure the hosts,
    # remove this line (and set admin_user, users, roles, sysctl): `grid plan` then lists the full
    # configuration of every host, and `grid up` does it."""
_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})


@dataclass(frozen=True)
class SpecInput:
    cluster: str
    user: str
    regions: tuple[RegionFound, ...]
    source: str  # what the hosts came from, in words
    written_at: str
    problems: tuple[str, ...] = ()


def spec_text(given: SpecInput, catalog: Catalog) -> str:
    lines = [
        f"# Written by `grid import` at {given.written_at} from {given.source}.",
        "# FOUND: read on the hosts over SSH (read-only commands). GUESSED: grid could not see it; check",
        "# and fix every GUESSED value before relying on the figures `grid validate` and `grid plan` give.",
        "apiVersion: grid/v1",
        "kind: Cluster",
        "metadata:",
        f"  name: {_scalar(given.cluster)}",
        "spec:",
        "  target: existing",
        "  defaults:",
        "    ssh:",
        f"      user: {_scalar(given.user)}  # the user grid import logged in as",
        "  configuration:",
        CONFIGURATION_COMMENT,
        "    manage: false",
        "  regions:",
    ]
    for region in given.regions:
        lines += _region(region, catalog)
    lines += ["  targets:", "    existing:", "      hosts:"]
    for region in given.regions:
        for pool in region.pools:
            for host in pool.hosts:
                lines += _host(host, region, pool)
    if given.problems:
        lines += ["", "# NOT IMPORTED (fix the cause, then `grid import --merge` adds them):"]
        lines += [f"#   {_one_line(p)}" for p in given.problems]
    return "\n".join(lines) + "\n"


def _region(region: RegionFound, catalog: Catalog) -> list[str]:
    kw, rack_kw = _load_kw(region.pools, catalog)
    power_mw = max(0.1, math.ceil(kw * PUE_GUESS * POWER_HEADROOM / 100) / 10)
    liquid = rack_kw > AIR_RACK_KW
    lines = [
        f"    - name: {_scalar(region.name)}",
        f"      # GUESSED: grid cannot see the facility. The nodes draw about {kw:.1f} kW at full load (catalog",
        "      # figures); power_mw, pue, cooling and rack_kw_max below are placeholders: set the site's own.",
        "      site:",
        f"        power_mw: {power_mw:g}",
        f"        pue: {PUE_GUESS:g}",
        f"        cooling: {'liquid' if liquid else 'air'}",
        f"        rack_kw_max: {max(AIR_RACK_KW, math.ceil(rack_kw)):g}",
        "      fabrics:" if region.fabrics else "      fabrics: []",
    ]
    for fabric in region.fabrics:
        lines += _fabric(fabric)
    lines.append("      storage:" if region.storage else "      storage: []")
    for storage in region.storage:
        lines += _storage(storage)
    lines.append("      pools:")
    for pool in region.pools:
        lines += _pool(pool)
    return lines


def _fabric(fabric: FabricFound) -> list[str]:
    mtus = f"MTU {fabric.mtu}" if len(fabric.mtus) == 1 else (
        f"MTUs {', '.join(map(str, fabric.mtus))} differ between hosts; the most common, {fabric.mtu}, is used")
    guessed = ["name"] + ([] if fabric.kind == "infiniband" else ["kind (RoCE cannot be told from ethernet)"])
    speed = f"{fabric.speed_gbps:g}" if fabric.speed_gbps else "25"
    if not fabric.speed_gbps:
        guessed.append("speed_gbps (the NICs do not say)")
    return [
        f"        # FOUND: {fabric.cidr} on {', '.join(fabric.interfaces)} of {fabric.hosts} host(s), {mtus}"
        + (f", {speed} Gb/s." if fabric.speed_gbps else "."),
        f"        # GUESSED: {', '.join(guessed)}.",
        f"        - name: {fabric.name}",
        f"          kind: {fabric.kind}",
        f"          cidr: {fabric.cidr}",
        f"          mtu: {fabric.mtu}",
        f"          speed_gbps: {speed}",
    ]


def _storage(storage: StorageFound) -> list[str]:
    tib = storage.size_kb / 1024**3
    size = (f"{math.ceil(tib * 100) / 100:g}", "FOUND by df") if storage.size_kb else ("1", "GUESSED: df did not say")
    return [
        f"        # FOUND: {storage.fstype} {_one_line(storage.source)} mounted at {storage.mount} on "
        f"{storage.hosts} host(s). GUESSED: name. Capacity {size[1]}.",
        f"        - name: {storage.name}",
        f"          kind: {storage.kind}",
        f"          capacity_tib: {size[0]}",
        f"          mount: {_scalar(storage.mount)}",
    ]


def _pool(pool: PoolFound) -> list[str]:
    facts = pool.hosts[0].facts
    accel = facts.accelerators
    devices = (f"{accel.count} x {accel.model} ({accel.tool}: {accel.names[0]}"
               + (", the model GUESSED from that name" if accel.guessed else "") + ")") if accel else "no accelerator"
    why = f"named by --pool {pool.named_by!r}" if pool.named_by else "GUESSED name: hosts grouped by what they have"
    lines = [
        f"        # FOUND: {len(pool.hosts)} host(s) with {devices}, {facts.cpus} CPUs"
        + (f" ({_one_line(facts.cpu_model)})" if facts.cpu_model else "") + f", {facts.memory_gb:g} GB memory.",
        f"        # {why}; roles GUESSED.",
        f"        - name: {pool.name}",
        f"          count: {len(pool.hosts)}",
    ]
    if pool.accelerator is not None:
        lines += ["          accelerator:", f"            model: {pool.accelerator[0]}",
                  f"            per_node: {pool.accelerator[1]}"]
    lines += [f"          fabrics: [{', '.join(pool.fabrics)}]", f"          storage: [{', '.join(pool.storage)}]",
              "          roles: [compute]"]
    return lines


def _host(host: FoundHost, region: RegionFound, pool: PoolFound) -> list[str]:
    c, facts = host.candidate, host.facts
    about = [f"hostname {facts.hostname or '?'}", facts.os or "OS unknown", f"kernel {facts.kernel or '?'}",
             f"host key {fingerprint(host.host_key)}"]
    local = [f"{m.target} ({m.fstype})" for m in facts.mounts if not m.network]
    if local:
        about.append("local file systems " + ", ".join(local))
    lines = [f"        # {c.name}: {_one_line('; '.join(about))}"]
    if facts.notes:
        lines.append(f"        # {c.name}: not read: {_one_line('; '.join(facts.notes))}")
    fields = [f"name: {c.name}", f"address: {c.address}", f"region: {region.name}", f"pool: {pool.name}"]
    if c.port != 22:
        fields.append(f"port: {c.port}")
    ips = region.host_fabrics.get(c.name, {})
    if ips:
        fields.append("fabrics: {" + ", ".join(f"{k}: {v}" for k, v in sorted(ips.items())) + "}")
    lines.append("        - {" + ", ".join(fields) + "}")
    return lines


def _load_kw(pools: Sequence[PoolFound], catalog: Catalog) -> tuple[float, float]:
    """(kW all nodes draw, kW of the densest rack) by the catalog's figures."""
    total = rack = 0.0
    for pool in pools:
        model, count = pool.accelerator if pool.accelerator else ("cpu", 0)
        entry = catalog.get(model) or catalog.get("cpu")
        node_kw = node_power_w(count, entry.tdp_w, entry.host_overhead_w) / 1000 if entry else 1.0
        total += node_kw * len(pool.hosts)
        rack = max(rack, node_kw * min(NODES_PER_RACK, len(pool.hosts)))
    return total, rack


def _scalar(value: str) -> str:
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS and not _numeric(value):
        return value
    return json.dumps(value)


def _numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
