"""What AWS sells that the spec is checked against and the aws stack builds: EFA network cards, FSx sizes.

One table and one rounding rule, read both by validation (grid.validate.cloud_offer) and by the stack program
(grid.stacks.aws), so what `grid validate` says is what the stack creates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

# Maximum network cards of EFA-capable instance types: an instance has one EFA (with an IP) and one
# EFA-only interface per further card. Source: AWS, "Amazon EC2 instance type specifications —
# accelerated computing, network specifications" (docs.aws.amazon.com/ec2/latest/instancetypes/ac.html,
# "Network cards" column) and DescribeInstanceTypes NetworkInfo.MaximumNetworkCards / EfaInfo
# (docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkInfo.html); the P5 layout from
# docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html.
EFA_NETWORK_CARDS: Mapping[str, int] = MappingProxyType({
    "p5.48xlarge": 32, "p5e.48xlarge": 32, "p5en.48xlarge": 16,
    "p4d.24xlarge": 4, "p4de.24xlarge": 4,
    "p6-b200.48xlarge": 8,
    "trn1.32xlarge": 8, "trn1n.32xlarge": 16, "trn2.48xlarge": 16,
    "g6e.48xlarge": 4, "g6.48xlarge": 1, "g5.48xlarge": 1, "g4dn.metal": 1,
    "c5n.18xlarge": 1, "c6in.32xlarge": 2, "c7i.48xlarge": 1, "c7g.16xlarge": 1,
    "hpc6a.48xlarge": 1, "hpc7a.96xlarge": 2, "hpc7g.16xlarge": 1,
})

# Families with no EFA at any size (burstable and previous generations): roce there is plain ENIs.
NO_EFA_FAMILIES = frozenset({"t2", "t3", "t3a", "t4g", "a1", "m4", "c4", "r4", "mac1", "mac2"})


def efa_network_cards(instance_type: str) -> int | None:
    """Network cards an EFA fabric may use on `instance_type`: > 0 known EFA-capable, 0 known without EFA,
    None when grid's table does not know the type (ports are then not checked)."""
    if instance_type in EFA_NETWORK_CARDS:
        return EFA_NETWORK_CARDS[instance_type]
    if instance_type.split(".", 1)[0] in NO_EFA_FAMILIES:
        return 0
    return None


# FSx for Lustre (docs.aws.amazon.com/fsx/latest/LustreGuide/managing-storage-capacity.html): SSD file
# systems come in 1200 GiB, 2400 GiB, then steps of 2400 GiB (SCRATCH_1: steps of 3600 GiB).
FSX_DEPLOYMENT_TYPES = ("PERSISTENT_1", "PERSISTENT_2", "SCRATCH_1", "SCRATCH_2")
FSX_DEFAULT_DEPLOYMENT = "PERSISTENT_2"
# Throughput per TiB each persistent type sells (MB/s/TiB, SSD); scratch types have none to choose.
FSX_THROUGHPUT: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "PERSISTENT_1": (50, 100, 200), "PERSISTENT_2": (125, 250, 500, 1000)})
FSX_DEFAULT_THROUGHPUT: Mapping[str, int] = MappingProxyType({"PERSISTENT_1": 200, "PERSISTENT_2": 250})


def wanted_gib(capacity_tib: float) -> int:
    return max(1, math.ceil(float(capacity_tib) * 1024))


def fsx_billed_gib(capacity_tib: float, deployment_type: str | None = None) -> int:
    """The FSx for Lustre size grid creates (and AWS bills) for `capacity_tib`: the smallest size sold that
    holds it."""
    wanted = wanted_gib(capacity_tib)
    if wanted <= 1200:
        return 1200
    if wanted <= 2400:
        return 2400
    step = 3600 if (deployment_type or FSX_DEFAULT_DEPLOYMENT) == "SCRATCH_1" else 2400
    return math.ceil(wanted / step) * step


def fsx_throughput(deployment_type: str | None, given: int | None) -> int | None:
    """The per-TiB throughput an FSx file system is created with (None: the type has none to set)."""
    kind = deployment_type or FSX_DEFAULT_DEPLOYMENT
    if kind not in FSX_THROUGHPUT:
        return None
    return given if given is not None else FSX_DEFAULT_THROUGHPUT[kind]
