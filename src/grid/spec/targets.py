"""What each target the spec language knows can and cannot do: one row per target, read by the low layers.

Validation, expansion and rendering ask a target's traits, never its name, so a new target is one row
here, one module in grid.targets and its stack program in grid.stacks. The names themselves are the
spec's `Target` literal (grid.spec.model); a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from grid.spec.model import CloudTarget, Cluster


@dataclass(frozen=True)
class Caveat:
    """Something a spec asks for that a target builds otherwise: why, and what the user can do."""

    detail: str
    hint: str


@dataclass(frozen=True)
class TargetTraits:
    name: str
    creates_infrastructure: bool
    """Its regions are Pulumi stacks that make what the spec declares (not so for machines that already exist)."""
    cloud: bool = False
    """The cloud makes the machines: sized by each pool's instance type, host keys pinned once they boot."""
    first_host: int = 2
    """Offset in a fabric's subnet of the first address a node gets (.1 is the gateway)."""
    lab_subnets_only: bool = False
    """Fabrics must lie in the lab's benchmarking range (they share the machine grid runs on)."""
    nodes_need_fabric: bool = True
    """A node is reachable only over a fabric grid makes (machines that exist already are reachable)."""
    fixed_hosts: bool = False
    """The spec (or an inventory it names) lists the machines that stand for its nodes."""
    provider: str = ""
    """Who builds what the target makes, by their own name ("AWS"), for messages."""
    instance_type_key: CloudTarget | None = None
    """The key of a pool's `instance_types` this target reads (None: it has no machine types)."""
    example_instance_type: str = ""
    honoured_mtus: tuple[int, ...] = ()
    """The only MTUs the target honours; () when it honours any."""
    mtu_caveat: Caveat | None = None
    infiniband_caveat: Caveat | None = None
    """How the target builds an infiniband fabric when it has none (None: it has)."""
    emulates_links: bool = True
    object_storage_caveat: Caveat | None = None
    """How the target stands in for object storage (None: it offers the real thing)."""
    known_images: str = ""
    """A regex of the `defaults.image` names the target finds a machine image for by itself ("": any name)."""
    image_setting: str = ""
    """The key of spec.targets.<target> that names a machine image explicitly (what other images need)."""
    subnet_prefixes: tuple[int, int] | None = None
    """The shortest and longest prefix a fabric's subnet may have (None: any)."""
    region_needs_fabric: bool = False
    """A region's network is built from its fabrics: a region with storage or nodes needs one."""
    block_volume_max_gib: int | None = None
    """The largest volume a node of block storage may get (its capacity shared out over the nodes)."""


TARGET_TRAITS: Mapping[str, TargetTraits] = MappingProxyType({
    "local": TargetTraits(
        "local", creates_infrastructure=True, lab_subnets_only=True, emulates_links=False,
        object_storage_caveat=Caveat(
            detail="podman volumes are file systems; no S3 endpoint is emulated",
            hint="use kind: nfs or parallel-fs for the lab, or accept a plain directory")),
    "existing": TargetTraits("existing", creates_infrastructure=False, nodes_need_fabric=False, fixed_hosts=True),
    "aws": TargetTraits(
        "aws", creates_infrastructure=True, cloud=True, provider="AWS", instance_type_key="aws",
        example_instance_type="p5.48xlarge", known_images=r"debian-\d+", image_setting="ami",
        subnet_prefixes=(16, 28), region_needs_fabric=True, block_volume_max_gib=16_384,  # VPC and EBS limits
        # AWS keeps the first four addresses and the last one of every subnet for itself.
        first_host=4, honoured_mtus=(9001, 1500),
        mtu_caveat=Caveat(detail="AWS fixes the MTU at 9001 within a VPC (1500 across an internet gateway)",
                          hint="set mtu: 9001, or remove the key"),
        infiniband_caveat=Caveat(
            detail="the aws target builds it as an ordinary VPC subnet (EFA gives RDMA on AWS)",
            hint="use kind: roce (EFA-capable instance types) or kind: ethernet")),
    "openstack": TargetTraits("openstack", creates_infrastructure=True, cloud=True, provider="OpenStack",
                              instance_type_key="openstack", example_instance_type="gpu.8xh100"),
})

CLOUD_TARGETS: tuple[str, ...] = tuple(name for name, traits in TARGET_TRAITS.items() if traits.cloud)


def traits_of(cluster: Cluster) -> TargetTraits:
    return TARGET_TRAITS[cluster.spec.target]
