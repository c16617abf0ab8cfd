"""Validators: what Google Cloud accepts (grid.spec.gcp_offer), said before `grid up` instead of in the middle.

RDMA rails (a roce fabric split into ports_per_node subnets, TargetTraits.roce_rails) and the RDMA NICs on them,
label syntax (TargetTraits.lowercase_labels) and what Filestore sells (storage whose backend is filestore).
Each check asks the target's traits, never its name.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, warning
from grid.spec import gcp_offer
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")


def rail_subnet_sizes(cluster: Cluster) -> Iterator[Diagnostic]:
    """A railed fabric's subnets (its cidr split into ports_per_node) must each be a subnet the cloud takes,
    and rail 0, which holds the spec's addresses, must hold every node on the fabric."""
    traits = traits_of(cluster)
    if not traits.roce_rails:
        return
    from grid.resources import rail_subnets  # the address allocator: only specs with railed fabrics need it

    longest = traits.subnet_prefixes[1] if traits.subnet_prefixes else 30
    for r, region in enumerate(cluster.spec.regions):
        for f, fabric in enumerate(region.fabrics):
            if fabric.kind != "roce" or fabric.ports_per_node < 2:
                continue
            rails = fabric.ports_per_node
            net = ipaddress.IPv4Network(fabric.cidr)
            prefix = net.prefixlen + (rails - 1).bit_length()
            nodes = sum(p.count * p.fabrics.count(fabric.name) for p in region.pools)
            usable = 2 ** (32 - prefix) - traits.first_host - 1 if prefix <= 32 else 0
            if prefix <= longest and nodes <= usable:
                continue
            # The longest fabric prefix whose rails each take the nodes and are subnets the cloud takes.
            rail_prefix = min(longest, 32 - math.ceil(math.log2(nodes + traits.first_host + 1)))
            wanted = rail_prefix - (rails - 1).bit_length()
            why = (f"holds only {max(usable, 0)} node address(es) for its {nodes} node(s)" if prefix <= longest
                   else f"is longer than the /{longest} {traits.provider} allows")
            yield error(
                f"fabric '{fabric.name}' is {rails} RDMA rails of {fabric.cidr}: each rail gets a /{prefix}, "
                f"which {why}", (*REGIONS, r, "fabrics", f, "cidr"), code="target.rail-subnet",
                detail=f"the {traits.name} target splits a roce fabric's cidr into ports_per_node equal subnets "
                       f"(rails, in address order: {', '.join(rail_subnets(fabric.cidr, rails)[:2])}, ...); "
                       "the spec's addresses are drawn from rail 0",
                hint=f"give the fabric a /{max(wanted, 1)} or larger cidr")


def rdma_nics(cluster: Cluster) -> Iterator[Diagnostic]:
    """On gcp, machine families with RDMA NICs (gcp_offer.rdma_nic_type) attach to a roce fabric through an
    RDMA-profile VPC network, which takes those NICs only: one fabric cannot serve them and other machine
    types, and a node's first NIC (its connect fabric, which Filestore also uses) must be an ordinary one."""
    traits = traits_of(cluster)
    key = traits.instance_type_key
    if not traits.roce_rails or key is None:
        return
    from grid.resources import connect_fabric  # as in rail_subnet_sizes

    for r, region in enumerate(cluster.spec.regions):
        kinds = {f.name: f.kind for f in region.fabrics}
        for f, fabric in enumerate(region.fabrics):
            if fabric.kind != "roce":
                continue
            users = {p.name: gcp_offer.rdma_nic_type(p.instance_types.get(key, "")) for p in region.pools
                     if fabric.name in p.fabrics and p.count > 0}
            if len(set(users.values())) > 1:
                yield error(f"fabric '{fabric.name}' serves machine types with different NICs: " + ", ".join(
                    f"{pool} ({nic or 'gVNIC'})" for pool, nic in sorted(users.items())),
                    (*REGIONS, r, "fabrics", f, "kind"), code="target.gcp-rdma-nics",
                    detail="an RDMA-profile VPC network takes only MRDMA/IRDMA NICs; other machines need a "
                           "network of their own",
                    hint="give the pools with RDMA NICs (a3-ultragpu, a4) their own roce fabric")
        for p, pool in enumerate(region.pools):
            nic = gcp_offer.rdma_nic_type(pool.instance_types.get(key, ""))
            first = connect_fabric(list(pool.fabrics))
            if nic is None or first is None or kinds.get(first) != "roce":
                continue
            yield error(f"pool '{pool.name}' would reach its nodes over RDMA fabric '{first}'",
                        (*REGIONS, r, "pools", p, "fabrics"), code="target.gcp-rdma-nics",
                        detail=f"a node's first NIC is its connect fabric's; {nic} NICs carry RDMA only (no SSH, "
                               "no Filestore)",
                        hint="attach the pool to an ethernet fabric too, named mgmt or listed first")


def label_syntax(cluster: Cluster) -> Iterator[Diagnostic]:
    """Labels the cloud takes only converted (GCP: lowercase [a-z0-9_-], keys starting with a letter)."""
    traits = traits_of(cluster)
    if not traits.lowercase_labels:
        return
    given: list[tuple[Path, dict[str, str]]] = [(("metadata", "labels"), dict(cluster.metadata.labels))]
    given += [((*REGIONS, r, "pools", p, "labels"), dict(pool.labels))
              for r, region in enumerate(cluster.spec.regions) for p, pool in enumerate(region.pools)]
    for path, labels in given:
        for key, value in labels.items():
            new_key, new_value = gcp_offer.label_key(key), gcp_offer.label_value(value)
            if (new_key, new_value) == (key, value):
                continue
            yield warning(f"label '{key}: {value}' becomes '{new_key}: {new_value}' on {traits.provider}",
                          (*path, key), code=f"target.{traits.name}-label",
                          detail="GCP label keys and values are lowercase letters, digits, _ and -, keys start "
                                 "with a letter, both at most 63 characters",
                          hint=f"write it as `{new_key}: {new_value}` to see the same label everywhere")


def filestore_sizes(cluster: Cluster) -> Iterator[Diagnostic]:
    """Storage built as Filestore (its backend, else the target's default for its kind): a tier Filestore has,
    a capacity it sells (rounded up), no throughput to choose."""
    offered = traits_of(cluster).storage_backends
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            choices: tuple[str, ...] = offered.get(storage.kind, ())
            backend = storage.backend or (choices[0] if choices else None)
            if backend != "filestore" or storage.capacity_tib is None:
                continue
            path = (*REGIONS, r, "storage", s)
            if storage.throughput_mbps_per_tib is not None:
                yield warning(f"storage '{storage.name}' sets throughput_mbps_per_tib, which Filestore ignores",
                              (*path, "throughput_mbps_per_tib"), code="storage.throughput",
                              detail="a Filestore instance's throughput follows its tier and capacity",
                              hint="remove throughput_mbps_per_tib, or choose a faster deployment_type (tier)")
            tier = gcp_offer.filestore_tier(storage.kind, storage.deployment_type)
            if tier not in gcp_offer.FILESTORE_TIERS:
                yield error(f"storage '{storage.name}' asks for Filestore tier '{tier}', which Filestore has not",
                            (*path, "deployment_type"), code="target.gcp-filestore-tier",
                            hint="use one of " + ", ".join(gcp_offer.FILESTORE_TIERS))
                continue
            wanted = max(1, math.ceil(storage.capacity_tib * 1024))
            billed = gcp_offer.filestore_billed_gib(tier, wanted)
            if billed is None:
                largest = gcp_offer.FILESTORE_TIERS[tier][-1].max_gib
                yield error(f"storage '{storage.name}' needs {wanted} GiB; Filestore {tier} sells at most "
                            f"{largest} GiB", (*path, "capacity_tib"), code="target.gcp-filestore-size",
                            hint="lower capacity_tib, or split the storage into several entries")
            elif billed != wanted:
                yield warning(f"storage '{storage.name}' asks for {wanted} GiB; Filestore {tier} sells "
                              f"{billed} GiB for it (billed)", (*path, "capacity_tib"),
                              code="target.gcp-filestore-size",
                              detail="Filestore capacities start at the tier's minimum and grow in its steps",
                              hint=f"set capacity_tib: {billed / 1024:g} to say what is billed")


VALIDATORS: list[Validator] = [rail_subnet_sizes, rdma_nics, label_syntax, filestore_sizes]
