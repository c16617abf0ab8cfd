"""Validators: what a pool or storage asks a cloud to sell — capacity, RDMA ports, storage services and sizes.

Target-specific facts come from the target's traits (grid.spec.targets: `rdma`, `storage_backends`,
`reservation_placement_caveat`) and the tables beside them (grid.spec.aws_offer), which the stack programs read too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, info, warning
from grid.spec import aws_offer as aws
from grid.spec.model import Cluster, Storage
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")


def capacity_choices(cluster: Cluster) -> Iterator[Diagnostic]:
    """provisioning and reservation go together; a targeted reservation with its own placement group may not."""
    caveat = traits_of(cluster).reservation_placement_caveat
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            path: Path = (*REGIONS, r, "pools", p)
            if pool.provisioning == "reservation" and pool.reservation is None:
                yield error(f"pool '{pool.name}' has provisioning: reservation but names no reservation",
                            (*path, "provisioning"), code="capacity.reservation-id",
                            detail="grid launches the machines into one capacity reservation and needs its id",
                            hint="add `reservation: <id>` to the pool (on aws a cr-… id), or choose "
                                 "provisioning: on-demand or spot")
            elif pool.reservation is not None and pool.provisioning != "reservation":
                yield error(f"pool '{pool.name}' names reservation '{pool.reservation}' but has provisioning: "
                            f"{pool.provisioning}", (*path, "reservation"), code="capacity.reservation-unused",
                            detail="a reservation id is only used for machines bought through the reservation",
                            hint="set `provisioning: reservation` on the pool, or remove reservation")
            elif (caveat is not None and pool.provisioning == "reservation" and pool.placement == "cluster"
                  and pool.count > 0):
                yield warning(f"pool '{pool.name}' is launched into reservation '{pool.reservation}' and keeps "
                              "placement: cluster", (*path, "placement"), code="capacity.reservation-placement",
                              detail=caveat.detail, hint=caveat.hint)


def rdma_ports(cluster: Cluster) -> Iterator[Diagnostic]:
    """A roce fabric's ports_per_node against the RDMA NICs (network cards) of each instance type on it."""
    traits = traits_of(cluster)
    rdma, key = traits.rdma, traits.instance_type_key
    if rdma is None or key is None:
        return
    code = f"target.{traits.name}-rdma"
    for r, region in enumerate(cluster.spec.regions):
        for f, fabric in enumerate(region.fabrics):
            if fabric.kind != "roce":
                continue
            for p, pool in enumerate(region.pools):
                machine = pool.instance_types.get(key)
                if fabric.name not in pool.fabrics or machine is None or pool.count == 0:
                    continue
                cards = rdma.network_cards(machine)
                ports = fabric.ports_per_node
                if cards == 0:
                    yield warning(
                        f"pool '{pool.name}' runs {machine}, which has no {rdma.name}: fabric '{fabric.name}' "
                        "(roce) becomes plain network interfaces, without RDMA",
                        (*REGIONS, r, "pools", p, "instance_types", key), code=code,
                        hint=f"choose an {rdma.name}-capable instance type (e.g. {traits.example_instance_type}), "
                             "or make the fabric kind: ethernet")
                elif cards is None:
                    yield info(f"grid does not know how many {rdma.name} network cards {machine} has: "
                               f"ports_per_node {ports} of fabric '{fabric.name}' is not checked",
                               (*REGIONS, r, "pools", p, "instance_types", key), code=f"{code}-unknown")
                elif ports > cards:
                    yield error(
                        f"fabric '{fabric.name}' asks for {ports} ports per node, but {machine} (pool "
                        f"'{pool.name}') has {cards} network card(s), one {rdma.name} interface each",
                        (*REGIONS, r, "fabrics", f, "ports_per_node"), code=f"{code}-ports",
                        hint=f"set ports_per_node: {cards} or less, or choose an instance type with more cards")


def storage_backends(cluster: Cluster) -> Iterator[Diagnostic]:
    """The service each storage is built with (its `backend`, else the target's default), its deployment type,
    throughput, and the size the service bills."""
    traits = traits_of(cluster)
    offered = traits.storage_backends
    if not offered:
        return
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            path: Path = (*REGIONS, r, "storage", s)
            choices = offered.get(storage.kind, ())
            if storage.backend is not None and storage.backend not in choices:
                what = (f"use backend: {' or '.join(choices)} (the default: {choices[0]}), or remove the key"
                        if choices else "remove backend: the target has one way to build this kind")
                yield error(f"storage '{storage.name}' asks for backend {storage.backend}, which the "
                            f"{traits.name} target does not build {storage.kind} storage with",
                            (*path, "backend"), code="storage.backend",
                            detail=f"{traits.provider} offers {', '.join(choices) or 'no choice'} for {storage.kind}",
                            hint=what)
                continue
            backend = storage.backend or (choices[0] if choices else None)
            if backend == "fsx-lustre":
                yield from _fsx(storage, path)
            elif backend in ("nas", "cpfs"):
                continue  # their deployment types, throughput and sizes: grid.validate.alicloud
            elif backend == "efs":  # elastic: no type or throughput to choose (other backends check their own)
                yield from _no_settings(storage, backend, path)


def _fsx(storage: Storage, path: Path) -> Iterator[Diagnostic]:
    deployment = storage.deployment_type or aws.FSX_DEFAULT_DEPLOYMENT
    if deployment not in aws.FSX_DEPLOYMENT_TYPES:
        yield error(f"storage '{storage.name}' asks for FSx deployment type {deployment}, which FSx for Lustre "
                    "does not offer", (*path, "deployment_type"), code="storage.deployment-type",
                    hint=f"use one of {', '.join(aws.FSX_DEPLOYMENT_TYPES)} (default {aws.FSX_DEFAULT_DEPLOYMENT})")
        return
    sold = aws.FSX_THROUGHPUT.get(deployment, ())
    given = storage.throughput_mbps_per_tib
    if given is not None and given not in sold:
        yield error(f"storage '{storage.name}' asks for {given} MB/s per TiB, which FSx {deployment} does not sell",
                    (*path, "throughput_mbps_per_tib"), code="storage.throughput",
                    hint=(f"use one of {', '.join(map(str, sold))}" if sold else
                          f"remove throughput_mbps_per_tib: {deployment} has a fixed throughput"))
    if storage.capacity_tib is None:
        return
    billed = aws.fsx_billed_gib(storage.capacity_tib, deployment)
    tib = math.floor(billed / 1024 * 100) / 100  # as shown: asking for that much is billed the same
    if tib > storage.capacity_tib:
        yield warning(f"storage '{storage.name}': capacity_tib {storage.capacity_tib:g} -> FSx bills "
                      f"{tib:g} TiB ({billed} GiB)", (*path, "capacity_tib"), code="storage.billed-size",
                      detail="FSx for Lustre sells 1200 GiB, 2400 GiB, then steps of 2400 GiB (3600 for "
                             "SCRATCH_1); grid creates the smallest size that holds the capacity",
                      hint=f"set capacity_tib: {tib:g} to ask for what is billed")


def _no_settings(storage: Storage, backend: str, path: Path) -> Iterator[Diagnostic]:
    for key in ("deployment_type", "throughput_mbps_per_tib"):
        if getattr(storage, key) is not None:
            yield warning(f"storage '{storage.name}' sets {key}, which backend {backend} ignores", (*path, key),
                          code="storage.backend-setting", hint=f"remove {key}, or use a backend that has it")


VALIDATORS: list[Validator] = [capacity_choices, rdma_ports, storage_backends]
