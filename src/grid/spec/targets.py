"""What each target the spec language knows can and cannot do: one row per target, read by the low layers.

Validation, expansion and rendering ask a target's traits, never its name, so a new target is one row
here, one module in grid.targets and its stack program in grid.stacks. The names themselves are the
spec's `Target` literal (grid.spec.model); a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from grid.spec.alicloud_offer import eri_interfaces
from grid.spec.aws_offer import efa_network_cards
from grid.spec.gcp_offer import gpudirect_nics
from grid.spec.model import CloudTarget, Cluster


@dataclass(frozen=True)
class Caveat:
    """Something a spec asks for that a target builds otherwise: why, and what the user can do."""

    detail: str
    hint: str


@dataclass(frozen=True)
class RdmaOffer:
    """How a cloud gives a `roce` fabric RDMA: what it calls it and how many ports an instance type can have."""

    name: str
    network_cards: Callable[[str], int | None]
    """Ports an instance type may have on the fabric (0: the type has no RDMA; None: unknown to grid)."""


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
    imports_from: str = ""
    """What `grid import` adopts for the target: "hosts" (over SSH), "podman" (grid's own containers), "": none."""
    rdma: RdmaOffer | None = None
    """How a roce fabric gets RDMA NICs, one per port (None: the target has no per-instance-type check)."""
    name_service: bool = False
    """`configuration.names: dns` is built for it: dnsmasq on a node of each region (grid.render.names)."""
    name_service_by_default: bool = True
    """With `name_service`: dns is the default (False: only when the spec asks, where the hosts' resolvers are
    their owner's: grid takes a resolv.conf over only when told to)."""
    forwards_names: bool = False
    """With `name_service`: the name server forwards names outside the cluster to the resolvers its host had
    before grid (hosts that reach beyond the cluster); False: it answers the cluster's names only (the lab)."""
    private_zone: str = ""
    """What `configuration.names: dns` is built with on a cloud: its private DNS, one zone per region that the
    region's network resolves through and searches, a record per node ("": not built for the target)."""
    storage_backends: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Storage kind -> the `backend`s the target builds it with, its default first ({}: no choice offered)."""
    reservation_placement_caveat: Caveat | None = None
    """Why a pool launched into a targeted reservation should not ask for a placement group of its own."""
    placement_detail: str = ""
    """How the target places a pool's machines when it has no placement choice ("": it makes no placement group)."""
    storage_detail: str = ""
    """How the target builds shared storage when the spec cannot choose a service ("": it makes none)."""
    zone_setting: str = "zone"
    """The key of spec.targets.<target> a region's `targets.<target>.zone` overrides."""
    has_facility: bool = False
    """The user owns the building (power, cooling, racks): a region needs a `site`, and facility checks apply.
    On a public cloud a site is optional, a power budget if given; racks and cooling are the cloud's."""
    mtu_range: tuple[int, int] | None = None
    """The MTUs the target honours, inclusive, besides `honoured_mtus` (None: only those)."""
    roce_rails: bool = False
    """A roce fabric with ports_per_node N is built as N rails, one subnet each: the fabric's cidr split into N
    equal subnets (grid.resources.rail_subnets); the spec's addresses are rail 0's, the others the cloud's."""
    lowercase_labels: bool = False
    """Label keys and values are lowercase [a-z0-9_-] (grid.spec.gcp_offer.labels converts them)."""

    def honours_mtu(self, mtu: int) -> bool:
        if not self.honoured_mtus and self.mtu_range is None:
            return True
        low, high = self.mtu_range or (0, -1)
        return mtu in self.honoured_mtus or low <= mtu <= high


TARGET_TRAITS: Mapping[str, TargetTraits] = MappingProxyType({
    "local": TargetTraits(
        "local", creates_infrastructure=True, lab_subnets_only=True, emulates_links=False, has_facility=True,
        imports_from="podman", name_service=True,
        object_storage_caveat=Caveat(
            detail="podman volumes are file systems; no S3 endpoint is emulated",
            hint="use kind: nfs or parallel-fs for the lab, or accept a plain directory")),
    "existing": TargetTraits("existing", creates_infrastructure=False, nodes_need_fabric=False, fixed_hosts=True,
                             has_facility=True, imports_from="hosts", name_service=True,
                             name_service_by_default=False, forwards_names=True),
    "aws": TargetTraits(
        "aws", creates_infrastructure=True, cloud=True, provider="AWS", instance_type_key="aws",
        example_instance_type="p5.48xlarge", known_images=r"debian-\d+", image_setting="ami",
        subnet_prefixes=(16, 28), region_needs_fabric=True, block_volume_max_gib=16_384,  # VPC and EBS limits
        # AWS keeps the first four addresses and the last one of every subnet for itself.
        first_host=4, honoured_mtus=(9001, 1500), zone_setting="availability_zone",
        rdma=RdmaOffer("EFA", efa_network_cards), private_zone="a Route 53 private hosted zone",
        storage_backends=MappingProxyType({"parallel-fs": ("fsx-lustre", "efs"), "nfs": ("efs",)}),
        reservation_placement_caveat=Caveat(
            detail="a targeted capacity reservation already fixes where the instances run; a cluster placement "
                   "group on top can make launches fail (AWS ParallelCluster turns placement off for them)",
            hint="set placement: none on the pool"),
        mtu_caveat=Caveat(detail="AWS fixes the MTU at 9001 within a VPC (1500 across an internet gateway)",
                          hint="set mtu: 9001, or remove the key"),
        infiniband_caveat=Caveat(
            detail="the aws target builds it as an ordinary VPC subnet (EFA gives RDMA on AWS)",
            hint="use kind: roce (built as EFA on EFA-capable instance types, one interface per network card) "
                 "or kind: ethernet")),
    "openstack": TargetTraits("openstack", creates_infrastructure=True, cloud=True, provider="OpenStack",
                              instance_type_key="openstack", example_instance_type="gpu.8xh100", has_facility=True,
                              zone_setting="availability_zone",
                              placement_detail="the openstack target puts every pool in a soft-affinity server "
                                               "group (as placement: cluster)",
                              storage_detail="the openstack target uses Manila where the cloud has it (pulumi "
                                             "config grid:shares), else a volume per node"),
    "gcp": TargetTraits(
        "gcp", creates_infrastructure=True, cloud=True, provider="Google Cloud", instance_type_key="gcp",
        example_instance_type="a3-ultragpu-8g", known_images=r"debian-\d+", image_setting="image",
        # Subnets are /8 to /29 (GCP keeps the first two and last two addresses); a persistent disk is <= 64 TiB.
        subnet_prefixes=(8, 29), region_needs_fabric=True, block_volume_max_gib=65_536,
        mtu_range=(1300, 8896), roce_rails=True, lowercase_labels=True, rdma=RdmaOffer("GPUDirect", gpudirect_nics),
        storage_backends=MappingProxyType({"parallel-fs": ("filestore",), "nfs": ("filestore",)}),
        mtu_caveat=Caveat(detail="a GCP VPC network's MTU is 1300 to 8896 bytes",
                          hint="set an mtu from 1300 to 8896 (8896 for RDMA and GPUDirect)"),
        infiniband_caveat=Caveat(
            detail="the gcp target builds it as an ordinary VPC network (GCP's RDMA is RoCE: A3 Ultra, A4)",
            hint="use kind: roce with ports_per_node set to the machine's RDMA NICs (8 on a3-ultragpu-8g), "
                 "or kind: ethernet")),
    "alicloud": TargetTraits(
        "alicloud", creates_infrastructure=True, cloud=True, provider="Alibaba Cloud", instance_type_key="alicloud",
        example_instance_type="ecs.ebmgn8v.48xlarge", known_images=r"debian-\d+", image_setting="image_id",
        # vSwitches are /16 to /29 (each keeps its first and last three addresses); ESSDs go up to 64 TiB.
        subnet_prefixes=(16, 29), region_needs_fabric=True, block_volume_max_gib=65_536,
        honoured_mtus=(1500, 8500), rdma=RdmaOffer("eRDMA", eri_interfaces), private_zone="a PrivateZone zone",
        storage_backends=MappingProxyType({"parallel-fs": ("cpfs", "nas"), "nfs": ("nas",)}),
        mtu_caveat=Caveat(detail="Alibaba Cloud VPCs carry MTU 1500, or 8500 with jumbo frames (which the stack "
                                 "turns on for instances on an 8500 fabric)",
                          hint="set mtu: 8500 (jumbo frames) or 1500, or remove the key"),
        infiniband_caveat=Caveat(
            detail="the alicloud target builds it as an ordinary vSwitch (eRDMA gives RDMA on Alibaba Cloud)",
            hint="use kind: roce (elastic RDMA interfaces on eRDMA-capable instance types) or kind: ethernet")),
})

CLOUD_TARGETS: tuple[str, ...] = tuple(name for name, traits in TARGET_TRAITS.items() if traits.cloud)


def traits_of(cluster: Cluster) -> TargetTraits:
    return TARGET_TRAITS[cluster.spec.target]


def default_names(target: str, *, scheduler: bool = False) -> str:
    """What `configuration.names` is on `target` when the spec does not say: dns where the target builds a name
    service by default (the lab's dnsmasq, a cloud's private zone; not existing hosts, whose resolvers are their
    owner's), else hosts_file. A cluster with Slurm keeps hosts_file
    for now: under dns a pool that grows or shrinks while jobs run left slurmd unable to stop within 30 s on its
    restart (tests/e2e/test_slurm_e2e.py), not understood yet; `names: dns` there is the operator's choice."""
    traits = TARGET_TRAITS.get(target)
    builds = traits is not None and ((traits.name_service and traits.name_service_by_default)
                                     or bool(traits.private_zone))
    return "dns" if builds and not scheduler else "hosts_file"


def names_of(cluster: Cluster) -> str:
    """`dns` or `hosts_file`: the spec's, else the target's default. Resolved here, not in the spec model: the
    spec as written keeps `names` unset, so a saved or applied spec says "the default" and the plan shows what
    the default does to the nodes."""
    return cluster.spec.configuration.names or default_names(cluster.spec.target,
                                                             scheduler=cluster.spec.scheduler is not None)


def private_zone_name(cluster: Cluster, region: str) -> str:
    """The private DNS zone a cloud region's nodes resolve each other in (`<region>.<cluster>.grid.internal`:
    `.internal` is reserved for private use), "" when the cluster does not use one (another target, or
    `names: hosts_file`). One zone per region: a cloud region is a network of its own (no route between two)."""
    if names_of(cluster) != "dns" or not traits_of(cluster).private_zone:
        return ""
    return f"{region}.{cluster.name}.grid.internal"
