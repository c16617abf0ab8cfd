"""Validators: what the chosen target can and cannot honour.

A field a target ignores is a WARNING (or INFO when it is only used for planning),
never silence; a value grid would have to guess (a cloud machine type) is an ERROR.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, info, warning
from grid.spec.model import Cluster
from grid.spec.targets import TARGET_TRAITS, traits_of
from grid.validate import fit
from grid.validate.base import Validator
from grid.validate.references import suggest

REGIONS: Path = ("spec", "regions")


def fabric_support(cluster: Cluster) -> Iterator[Diagnostic]:
    """Fabric MTUs and kinds the target builds otherwise than asked (e.g. AWS fixes the MTU, has no infiniband)."""
    traits = traits_of(cluster)
    name = traits.name
    mtu, infiniband = traits.mtu_caveat, traits.infiniband_caveat
    if mtu is None and infiniband is None:
        return
    for r, region in enumerate(cluster.spec.regions):
        for f, fabric in enumerate(region.fabrics):
            path = (*REGIONS, r, "fabrics", f)
            if mtu is not None and not traits.honours_mtu(fabric.mtu):
                yield warning(
                    f"fabric '{fabric.name}' asks for MTU {fabric.mtu}, which the {name} target ignores",
                    (*path, "mtu"), code=f"target.{name}-mtu", detail=mtu.detail, hint=mtu.hint)
            if infiniband is not None and fabric.kind == "infiniband":
                yield warning(
                    f"fabric '{fabric.name}' is infiniband, which {traits.provider} does not offer", (*path, "kind"),
                    code=f"target.{name}-infiniband", detail=infiniband.detail, hint=infiniband.hint)


def cloud_instance_types(cluster: Cluster) -> Iterator[Diagnostic]:
    traits = traits_of(cluster)
    key = traits.instance_type_key
    if key is None:
        return
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if key in pool.instance_types:
                continue
            yield error(f"pool '{pool.name}' has no {key} instance type",
                        (*REGIONS, r, "pools", p, "instance_types"), code="target.instance-type",
                        detail="the machine type decides cost and accelerators, so it is never guessed",
                        hint=f"add `instance_types: {{{key}: {traits.example_instance_type}}}` to the pool")


def cloud_resources(cluster: Cluster) -> Iterator[Diagnostic]:
    """A pool's cpus and memory_gb where the target does not size nodes (grid.validate.fit's rows), in one
    warning for both."""
    traits = traits_of(cluster)
    if fit.honours(traits, "spec.regions[].pools[].resources.cpus", None):
        return
    detail, hint = (("cloud nodes are sized by their instance type",
                     "remove resources from the pool, or choose a different instance type") if traits.cloud else
                    ("the machines exist already: grid sizes none of them", "remove resources from the pool"))
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            given = [k for k in ("cpus", "memory_gb") if getattr(pool.resources, k) is not None]
            if not given:
                continue
            yield warning(f"pool '{pool.name}' sets {' and '.join(given)}, which the {traits.name} target ignores",
                          (*REGIONS, r, "pools", p, "resources", given[0]), code="target.resources-ignored",
                          detail=detail, hint=hint)


def emulation_limits(cluster: Cluster) -> Iterator[Diagnostic]:
    """What the target only stands in for (the lab: backbone links, object storage)."""
    traits = traits_of(cluster)
    name, caveat = traits.name, traits.object_storage_caveat
    if cluster.spec.links and not traits.emulates_links:
        yield info(f"the {name} target does not emulate backbone links; they are used for planning only",
                   ("spec", "links"), code=f"target.{name}-links")
    if caveat is None:
        return
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            if storage.kind == "object":
                yield warning(
                    f"storage '{storage.name}' is object storage, which the {name} target only emulates "
                    "as a plain volume",
                    (*REGIONS, r, "storage", s, "kind"), code=f"target.{name}-object-storage",
                    detail=caveat.detail, hint=caveat.hint)


def existing_hosts(cluster: Cluster) -> Iterator[Diagnostic]:
    """The machines a target that does not make them is told to use (spec.targets.existing)."""
    if not traits_of(cluster).fixed_hosts:
        return
    settings = cluster.spec.targets.existing
    base: Path = ("spec", "targets", "existing")
    if not settings.hosts and settings.inventory is None:
        yield error("the existing target needs hosts or an inventory", base, code="target.existing-hosts",
                    detail="grid does not create machines for this target; it must be told which ones to use",
                    hint="list them under targets.existing.hosts (name, address, region, pool) "
                         "or point targets.existing.inventory at an Ansible inventory")
        return
    pools = {r.name: {p.name: p.count for p in r.pools} for r in cluster.spec.regions}
    names: dict[str, int] = {}
    endpoints: dict[tuple[str, int], int] = {}
    per_pool: Counter[tuple[str, str]] = Counter()
    code = "target.existing-hosts"
    for h, host in enumerate(settings.hosts):
        path: Path = (*base, "hosts", h)
        if host.name in names:
            yield error(f"host name '{host.name}' is used twice", (*path, "name"), code=code,
                        detail=f"first used by host {names[host.name] + 1}", hint="rename one of them")
        names.setdefault(host.name, h)
        if (host.address, host.port) in endpoints:
            yield error(f"host '{host.name}' has the same address {host.address}:{host.port} as host "
                        f"{endpoints[(host.address, host.port)] + 1}", (*path, "address"), code=code,
                        hint="each host is one machine; list it once")
        endpoints.setdefault((host.address, host.port), h)
        if host.region not in pools:
            yield error(f"host '{host.name}' names region '{host.region}', which is not defined",
                        (*path, "region"), code=code,
                        hint=suggest(host.region, pools, what="regions", where="this spec"))
            continue
        if host.pool not in pools[host.region]:
            where = f"region '{host.region}'"
            yield error(f"host '{host.name}' names pool '{host.pool}', which {where} does not define",
                        (*path, "pool"), code=code,
                        hint=suggest(host.pool, pools[host.region], what="pools", where=where))
            continue
        per_pool[(host.region, host.pool)] += 1
    if settings.inventory is not None:
        return
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            listed = per_pool[(region.name, pool.name)]
            if listed != pool.count:
                yield warning(f"pool '{pool.name}' in region '{region.name}' has count {pool.count} but "
                              f"{listed} host(s) are listed for it", (*REGIONS, r, "pools", p, "count"),
                              code="target.existing-count",
                              hint="make count match the hosts listed under targets.existing")


def existing_host_fabrics(cluster: Cluster) -> Iterator[Diagnostic]:
    """A host's `fabrics` IPs: on a fabric of its pool, inside that fabric's CIDR."""
    if not traits_of(cluster).fixed_hosts:
        return
    regions = {r.name: r for r in cluster.spec.regions}
    for h, host in enumerate(cluster.spec.targets.existing.hosts):
        region = regions.get(host.region)
        pool = next((p for p in region.pools if p.name == host.pool), None) if region is not None else None
        if region is None or pool is None:
            continue  # existing_hosts says so
        cidrs = {f.name: ipaddress.IPv4Network(f.cidr) for f in region.fabrics}
        for name, ip in host.fabrics.items():
            path: Path = ("spec", "targets", "existing", "hosts", h, "fabrics", name)
            if name not in pool.fabrics or name not in cidrs:
                yield error(f"host '{host.name}' gives an IP on fabric '{name}', which its pool '{pool.name}' is "
                            "not on", path, code="target.existing-hosts",
                            hint=f"the pool's fabrics: {', '.join(pool.fabrics) or 'none'}")
            elif ipaddress.IPv4Address(ip) not in cidrs[name]:
                yield error(f"host '{host.name}': {ip} is not in fabric '{name}' ({cidrs[name]})", path,
                            code="target.existing-hosts", hint="give the host's IP on that fabric")


def unmanaged_configuration(cluster: Cluster) -> Iterator[Diagnostic]:
    """`configuration.manage: false` is for hosts grid did not make (target existing): machines grid makes
    are reachable and correct only once its playbook ran on them. What it turns off is said, not ignored."""
    config = cluster.spec.configuration
    if config.manage:
        return
    if traits_of(cluster).fixed_hosts:
        unused = [name for name, value in (("users", config.users), ("sysctl", config.sysctl),
                                           ("limits", config.limits), ("scripts", config.scripts),
                                           ("roles", [r for r in config.roles if r != "base"])) if value]
        unused += [f"pool '{p.name}' configuration" for r in cluster.spec.regions for p in r.pools if p.configuration]
        if unused or cluster.spec.scheduler is not None:
            yield warning(f"configuration.manage is false: {', '.join(unused or ['the scheduler'])} "
                          "will not be applied", ("spec", "configuration", "manage"), code="target.unmanaged",
                          hint="remove `manage: false` to let grid configure the hosts")
        return
    yield error(f"configuration.manage: false needs target existing, not '{cluster.spec.target}'",
                ("spec", "configuration", "manage"), code="target.unmanaged",
                detail="grid configures the machines it makes (accounts, keys, hosts table)",
                hint="remove `manage: false`")


def name_service(cluster: Cluster) -> Iterator[Diagnostic]:
    """`configuration.names: dns` runs dnsmasq on a node of each region on the lab and on existing hosts (there
    only when asked, forwarding other names to the resolvers the server had; grid.render.names) and is the
    cloud's private DNS on aws and alicloud (grid.stacks). Elsewhere it is said, not ignored: the other clouds'
    zones are not built. A name service is configuration: hosts grid runs no playbook on cannot get one."""
    config = cluster.spec.configuration
    traits = traits_of(cluster)
    if config.names != "dns":
        return
    if traits.name_service and traits.fixed_hosts and not config.manage:  # elsewhere manage: false is refused
        yield error("configuration.names: dns needs grid to configure the hosts (configuration.manage: false)",
                    ("spec", "configuration", "names"), code="target.names",
                    detail="the name server and each host's resolv.conf are configuration, and grid runs no "
                           "playbook on hosts it does not manage",
                    hint="use `names: hosts_file` (or leave it out), or remove `manage: false`")
    if traits.name_service or traits.private_zone:
        return
    builds = sorted(name for name, t in TARGET_TRAITS.items() if t.name_service or t.private_zone)
    yield error(f"configuration.names: dns needs target {', '.join(builds)}, not '{cluster.spec.target}'",
                ("spec", "configuration", "names"), code="target.names",
                detail="the name service is a node of each region (lab, existing hosts), or the cloud's private "
                       f"DNS zone; on {cluster.spec.target} it is not built yet",
                hint="use `names: hosts_file` (or leave it out: hosts_file is the default there)")


VALIDATORS: list[Validator] = [
    fabric_support, cloud_instance_types, cloud_resources, emulation_limits, existing_hosts,
    existing_host_fabrics, unmanaged_configuration, name_service,
]
