"""Slurm's configuration from a valid spec and its resources: slurm.conf, gres.conf, topology.conf and, when
a site picks a cgroup plugin, cgroup.conf. Pure and deterministic: the same spec and graph give the same bytes.

Nodes are grid's hostnames with their connect address as NodeAddr. CPUs and RealMemory are written only where
the target honours `pool.resources` (the local target's podman limits); clouds and existing machines size by
what they are, which grid does not know, so Slurm's own defaults stand there until slurmd reports them.
Accelerators become GRES named by vendor (gpu, npu, ...) with the catalog model as type: `npu:ascend-910b:8`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grid.physics.catalog import Catalog, default_catalog
from grid.render import slurm_changes, slurm_devices
from grid.render.hostlist import hostlist
from grid.render.slurm_topology import PoolNodes, topology_conf
from grid.resources import Kind, ResourceGraph, connect_ip, pool_fabrics
from grid.spec import slurm_keys
from grid.spec.model import Cluster
from grid.spec.scheduler import PartitionPlan, Scheduler, partitions, resolve
from grid.spec.targets import traits_of

CONF_DIR = "/etc/slurm"  # where Debian's slurm-wlm reads its configuration

# What grid writes for its own structure (slurm_keys.OWNED; the site cannot change these).
FIXED: tuple[tuple[str, str], ...] = (
    ("AuthType", "auth/munge"),
    ("CredType", "cred/munge"),
    ("SlurmUser", "slurm"),
    ("SlurmctldPort", "6817"),
    ("SlurmdPort", "6818"),
    ("StateSaveLocation", "/var/lib/slurm/slurmctld"),
    ("SlurmdSpoolDir", "/var/lib/slurm/slurmd"),
)
# Defaults that work in the lab's containers (no cgroup delegation there, docs/lab-notes.md); a site's
# scheduler.slurm_conf overrides any of them.
LAB_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("ProctrackType", "proctrack/linuxproc"),
    ("TaskPlugin", "task/none"),
    ("SelectType", "select/cons_tres"),
    ("SelectTypeParameters", "CR_Core"),
    ("ReturnToService", "2"),
    ("MpiDefault", "none"),
    ("SlurmctldPidFile", "/run/slurmctld.pid"),
    ("SlurmdPidFile", "/run/slurmd.pid"),
    ("SlurmctldLogFile", "/var/log/slurm/slurmctld.log"),
    ("SlurmdLogFile", "/var/log/slurm/slurmd.log"),
)

# GRES name per vendor (the catalog's `vendor`, first word, lower case): Slurm's own `gpu` where the device
# is a GPU; the name the vendor's Slurm integration uses elsewhere. Unknown vendors count as `gpu`.
GRES_BY_VENDOR: Mapping[str, str] = {
    "nvidia": "gpu", "amd": "gpu", "metax": "gpu",
    "huawei": "npu",  # Ascend
    "intel": "hpu",  # Gaudi
    "cambricon": "mlu",
    "kunlunxin": "xpu",
    "hygon": "dcu",
}
DEFAULT_GRES = "gpu"
_CGROUP_KEYS = ("ProctrackType", "TaskPlugin", "JobAcctGatherType")


@dataclass(frozen=True)
class SlurmNode:
    hostname: str
    address: str
    pool: tuple[str, str]
    cpus: int | None
    memory_mb: int | None
    gres: tuple[str, str, int] | None  # (name, type, count)

    def line(self) -> str:
        parts = [f"NodeName={self.hostname}"]
        if self.address:
            parts.append(f"NodeAddr={self.address}")
        if self.cpus is not None:
            parts.append(f"CPUs={self.cpus}")
        if self.memory_mb is not None:
            parts.append(f"RealMemory={self.memory_mb}")
        if self.gres is not None:
            parts.append("Gres={}:{}:{}".format(*self.gres))
        return " ".join([*parts, "State=UNKNOWN"])


def gres_name(model: str, catalog: Catalog | None = None) -> str:
    entry = (catalog or default_catalog()).get(model)
    vendor = entry.vendor.split()[0].lower() if entry is not None and entry.vendor else ""
    return GRES_BY_VENDOR.get(vendor, DEFAULT_GRES)


def slurm_nodes(cluster: Cluster, graph: ResourceGraph, catalog: Catalog | None = None) -> list[SlurmNode]:
    """The nodes that run slurmd (those of the pools in partitions), in the graph's order."""
    scheduler = _scheduler(cluster)
    members = {key for plan in partitions(cluster, scheduler) for key in plan.pools}
    sized = _lab(cluster)  # podman honours pool.resources
    fabrics = pool_fabrics(cluster)
    out: list[SlurmNode] = []
    for node in graph.of_kind(Kind.NODE):
        key = (node.region, str(node.attrs.get("pool")))
        if key not in members:
            continue
        cpus, memory_gb = node.attrs.get("cpus"), node.attrs.get("memory_gb")
        count = int(node.attrs.get("accelerators") or 0)
        model = str(node.attrs.get("accelerator") or "cpu")
        out.append(SlurmNode(
            str(node.attrs["hostname"]), connect_ip(node, fabrics.get(key)), key,
            max(1, math.floor(cpus)) if sized and cpus is not None else None,  # a podman share of a core is 1
            max(1, math.floor(memory_gb * 1024)) if sized and memory_gb is not None else None,
            (gres_name(model, catalog), model, count) if count > 0 else None))
    return out


def render_slurm(cluster: Cluster, graph: ResourceGraph, catalog: Catalog | None = None) -> dict[str, str]:
    """{file name under CONF_DIR: text} for a valid spec with a scheduler."""
    scheduler = _scheduler(cluster)
    nodes = slurm_nodes(cluster, graph, catalog)
    plans = partitions(cluster, scheduler)
    by_pool: dict[tuple[str, str], list[str]] = {}
    for node in nodes:
        by_pool.setdefault(node.pool, []).append(node.hostname)
    members = [PoolNodes(region.name, pool, tuple(by_pool.get((region.name, pool.name), ())))
               for region in cluster.spec.regions for pool in region.pools if (region.name, pool.name) in by_pool]
    settings = _settings(cluster, scheduler, graph, nodes)
    files = {"slurm.conf": _slurm_conf(cluster, settings, nodes, plans, by_pool),
             "gres.conf": _gres_conf(cluster, nodes),
             "topology.conf": topology_conf(cluster, members)}
    if any("cgroup" in value for key, value in settings if key in _CGROUP_KEYS):
        files["cgroup.conf"] = _CGROUP_CONF
    return dict(sorted(files.items()))


def _scheduler(cluster: Cluster) -> Scheduler:
    if cluster.spec.scheduler is None:
        raise ValueError("the spec has no scheduler")  # a caller's bug: render only specs with one
    return cluster.spec.scheduler


SLURMD_GROUP = "grid_slurmd"
"""The inventory group of the hosts that run slurmd: the pool groups of the partitions' pools."""
CONF_VARS = {"slurm.conf": "grid_slurm_conf", "gres.conf": "grid_slurm_gres_conf",
             "topology.conf": "grid_slurm_topology_conf", "cgroup.conf": "grid_slurm_cgroup_conf"}
"""The inventory var (group_vars/all.yml) holding each file's text; '' where grid writes no such file."""


def inventory_vars(cluster: Cluster, graph: ResourceGraph) -> dict[str, Any]:
    """The slurm role's vars in group_vars/all.yml: each file's text and the controllers' hostnames. They change
    whenever a node comes or goes (the node list is in slurm.conf), so digests count them with the hosts table."""
    files = render_slurm(cluster, graph)
    out: dict[str, Any] = {var: files.get(name, "") for name, var in CONF_VARS.items()}
    controllers = [host for host, _ in controller_hosts(cluster, graph)]
    out["grid_slurm_controller"] = controllers[0] if controllers else ""
    out["grid_slurm_controllers"] = controllers
    out["grid_slurm_restart_keys"] = slurm_changes.restart_keys()
    if _lab(cluster):
        out["grid_slurm_standins"] = _standins(cluster)
    return out


def _lab(cluster: Cluster) -> bool:
    """The target makes its nodes here (podman): no accelerators, and pool.resources honoured."""
    traits = traits_of(cluster)
    return traits.creates_infrastructure and not traits.cloud


def _standins(cluster: Cluster) -> dict[str, list[str]]:
    """{pool group: the character devices its lab nodes get for gres.conf's File=} (pools with accelerators)."""
    out: dict[str, list[str]] = {}
    for region in cluster.spec.regions:
        for pool in region.pools:
            if pool.accelerator is not None and (made := slurm_devices.standins(pool.accelerator.model,
                                                                                 pool.accelerator.per_node)):
                out["_".join(("pool", region.name, pool.name)).replace("-", "_")] = made
    return out


def slurmd_pools(cluster: Cluster) -> list[tuple[str, str]]:
    """(region, pool) of the pools whose nodes run slurmd, in spec order."""
    members = {key for plan in partitions(cluster, _scheduler(cluster)) for key in plan.pools}
    return [(region.name, pool.name) for region in cluster.spec.regions for pool in region.pools
            if (region.name, pool.name) in members]


def controller_hosts(cluster: Cluster, graph: ResourceGraph) -> list[tuple[str, str]]:
    """(hostname, connect address) of the nodes that run slurmctld, the primary first."""
    scheduler = _scheduler(cluster)
    return _service_hosts(cluster, graph, scheduler.controller.pool)[:2 if scheduler.controller.ha else 1]


def _service_hosts(cluster: Cluster, graph: ResourceGraph, ref: str) -> list[tuple[str, str]]:
    """(hostname, connect address) of the nodes of the pool `ref` names, by index."""
    fabrics = pool_fabrics(cluster)
    keys = {place.key for place in resolve(cluster, ref)}
    return [(str(n.attrs["hostname"]), connect_ip(n, fabrics.get((n.region, str(n.attrs.get("pool"))))))
            for n in graph.of_kind(Kind.NODE) if (n.region, n.attrs.get("pool")) in keys]


def _settings(cluster: Cluster, scheduler: Scheduler, graph: ResourceGraph,
              nodes: Sequence[SlurmNode]) -> list[tuple[str, str]]:
    """slurm.conf's key=value lines, in the order written: grid's structure, lab defaults, the site's."""
    out: list[tuple[str, str]] = [("ClusterName", cluster.name)]
    controllers = controller_hosts(cluster, graph)
    out.extend(("SlurmctldHost", f"{host}({address})" if address else host) for host, address in controllers)
    out.extend(FIXED)
    gres = sorted({node.gres[0] for node in nodes if node.gres is not None})
    if gres:
        out.append(("GresTypes", ",".join(gres)))
    out.append(("TopologyPlugin", "topology/tree"))
    if scheduler.database is not None:
        database = _service_hosts(cluster, graph, scheduler.database.pool)[:1]
        out.append(("AccountingStorageType", "accounting_storage/slurmdbd"))
        out.extend(("AccountingStorageHost", address or host) for host, address in database)
    site = {slurm_keys.canonical(key) or key: _conf_value(value) for key, value in scheduler.slurm_conf.items()}
    out.extend((key, value) for key, value in LAB_DEFAULTS if key not in site)
    out.extend(sorted(site.items()))
    return out


def _conf_value(value: bool | int | str) -> str:
    if isinstance(value, bool):
        return "YES" if value else "NO"  # what slurm.conf(5) writes for its yes/no keys
    return str(value)


def _slurm_conf(cluster: Cluster, settings: Sequence[tuple[str, str]], nodes: Sequence[SlurmNode],
                plans: Sequence[PartitionPlan], by_pool: Mapping[tuple[str, str], list[str]]) -> str:
    lines = [f"# slurm.conf of cluster {cluster.name}, rendered by grid from the spec (scheduler, pools, fabrics).",
             "# Edits here are drift: grid up writes the spec's configuration back; site lines belong in",
             "# spec.scheduler.slurm_conf."]
    lines.extend(f"{key}={value}" for key, value in settings)
    lines.append("# nodes")
    lines.extend(node.line() for node in nodes)
    lines.append("# partitions")
    for plan in plans:
        names = [host for key in plan.pools for host in by_pool.get(key, ())]
        parts = [f"PartitionName={plan.name}"]
        if names:
            parts.append(f"Nodes={hostlist(names)}")
        parts.append(f"Default={'YES' if plan.default else 'NO'}")
        parts.append(f"MaxTime={plan.max_time.upper() if plan.max_time.isalpha() else plan.max_time}")
        if plan.exclusive:
            parts.append("OverSubscribe=EXCLUSIVE")
        lines.append(" ".join([*parts, "State=UP"]))
    return "\n".join(lines) + "\n"


def _gres_conf(cluster: Cluster, nodes: Sequence[SlurmNode]) -> str:
    """One line per pool: the devices' files where grid knows the vendor's names (Slurm binds jobs to them, and
    gres/gpu counts a node's GPUs by them), else a Count alone (grid.render.slurm_devices)."""
    lines = [f"# gres.conf of cluster {cluster.name}, rendered by grid from the pools' accelerators."]
    groups: dict[tuple[tuple[str, str], tuple[str, str, int]], list[str]] = {}
    for node in nodes:
        if node.gres is not None:
            groups.setdefault((node.pool, node.gres), []).append(node.hostname)
    for (_, (name, kind, count)), hosts in groups.items():
        files = slurm_devices.file_range(kind, count)
        amount = f"File={files}" if files else f"Count={count}"
        lines.append(f"NodeName={hostlist(hosts)} Name={name} Type={kind} {amount}")
    return "\n".join(lines) + "\n"


_CGROUP_CONF = """\
# cgroup.conf, rendered by grid because scheduler.slurm_conf picks a cgroup plugin.
CgroupPlugin=autodetect
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainDevices=yes
"""
