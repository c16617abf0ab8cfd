"""Validators: what the chosen target can and cannot honour.

A field a target ignores is a WARNING (or INFO when it is only used for planning),
never silence; a value grid would have to guess (a cloud machine type) is an ERROR.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, info, warning
from grid.spec.model import Cluster
from grid.validate import Validator
from grid.validate.references import suggest

REGIONS: Path = ("spec", "regions")
CLOUDS = ("aws", "openstack")
AWS_MTUS = (9001, 1500)
EXAMPLE_TYPE = {"aws": "p5.48xlarge", "openstack": "gpu.8xh100"}


def aws_fabrics(cluster: Cluster) -> Iterator[Diagnostic]:
    if cluster.spec.target != "aws":
        return
    for r, region in enumerate(cluster.spec.regions):
        for f, fabric in enumerate(region.fabrics):
            path = (*REGIONS, r, "fabrics", f)
            if fabric.mtu not in AWS_MTUS:
                yield warning(
                    f"fabric '{fabric.name}' asks for MTU {fabric.mtu}, which the aws target ignores",
                    (*path, "mtu"), code="target.aws-mtu",
                    detail="AWS fixes the MTU at 9001 within a VPC (1500 across an internet gateway)",
                    hint="set mtu: 9001, or remove the key")
            if fabric.kind == "infiniband":
                yield warning(
                    f"fabric '{fabric.name}' is infiniband, which AWS does not offer", (*path, "kind"),
                    code="target.aws-infiniband",
                    detail="the aws target builds it as an ordinary VPC subnet (EFA gives RDMA on AWS)",
                    hint="use kind: roce (EFA-capable instance types) or kind: ethernet")


def cloud_instance_types(cluster: Cluster) -> Iterator[Diagnostic]:
    target = cluster.spec.target
    if target not in CLOUDS:
        return
    example = EXAMPLE_TYPE[target]
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if target in pool.instance_types:
                continue
            yield error(f"pool '{pool.name}' has no {target} instance type",
                        (*REGIONS, r, "pools", p, "instance_types"), code="target.instance-type",
                        detail="the machine type decides cost and accelerators, so it is never guessed",
                        hint=f"add `instance_types: {{{target}: {example}}}` to the pool")


def cloud_resources(cluster: Cluster) -> Iterator[Diagnostic]:
    target = cluster.spec.target
    if target not in CLOUDS:
        return
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            given = [k for k in ("cpus", "memory_gb") if getattr(pool.resources, k) is not None]
            if not given:
                continue
            yield warning(f"pool '{pool.name}' sets {' and '.join(given)}, which the {target} target ignores",
                          (*REGIONS, r, "pools", p, "resources", given[0]), code="target.resources-ignored",
                          detail="cloud nodes are sized by their instance type",
                          hint="remove resources from the pool, or choose a different instance type")


def local_support(cluster: Cluster) -> Iterator[Diagnostic]:
    if cluster.spec.target != "local":
        return
    if cluster.spec.links:
        yield info("the local target does not emulate backbone links; they are used for planning only",
                   ("spec", "links"), code="target.local-links")
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            if storage.kind == "object":
                yield warning(
                    f"storage '{storage.name}' is object storage, which the local target only emulates "
                    "as a plain volume",
                    (*REGIONS, r, "storage", s, "kind"), code="target.local-object-storage",
                    detail="podman volumes are file systems; no S3 endpoint is emulated",
                    hint="use kind: nfs or parallel-fs for the lab, or accept a plain directory")


def existing_hosts(cluster: Cluster) -> Iterator[Diagnostic]:
    if cluster.spec.target != "existing":
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


VALIDATORS: list[Validator] = [
    aws_fabrics, cloud_instance_types, cloud_resources, local_support, existing_hosts,
]
