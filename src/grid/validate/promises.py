"""Validators: what plan and render would otherwise refuse, found first at the spec's own line.

Whatever `grid validate` accepts, `grid plan` and `grid render` must take (tests/validate/
test_validate_promises.py draws specs over the schema to hold this). Each check here mirrors one
refusal of a later stage, named in its docstring, and reuses that stage's own rule where it has one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, path_text
from grid.render.ansible_roles import group_name
from grid.spec.inventory import inventory_hosts, resolve_inventory
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")


def role_groups_distinct(cluster: Cluster) -> Iterator[Diagnostic]:
    """Pool roles become inventory groups `role_<name>` with `-` as `_` (grid.render.ansible.collect_inputs):
    `kube-node` and `kube_node` would be one group, so render refuses them."""
    first: dict[str, tuple[str, Path]] = {}
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            for i, role in enumerate(pool.roles):
                path: Path = (*REGIONS, r, "pools", p, "roles", i)
                group = group_name("role", role)
                seen, at = first.setdefault(group, (role, path))
                if seen == role:
                    continue
                yield error(f"pool role '{role}' and role '{seen}' map to one inventory group '{group}'",
                            path, code="references.role-group",
                            detail=f"'{seen}' is at {path_text(at)}; Ansible group names write '-' as '_'",
                            hint=f"spell the role as '{seen}' everywhere, or give it a name of its own")


def fixed_host_pools_have_fabric(cluster: Cluster) -> Iterator[Diagnostic]:
    """On a target whose machines exist (targets.existing), a host's address is its IP on the pool's connect
    fabric (grid.resources.connect_fabric): a pool of nodes on no fabric has nothing to connect to."""
    traits = traits_of(cluster)
    if traits.nodes_need_fabric:
        return  # grid.validate.references.pools_have_fabric reports these
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if pool.count == 0 or pool.fabrics:
                continue
            fabrics = ", ".join(f.name for f in region.fabrics) or "a fabric defined in the region"
            yield error(f"pool '{pool.name}' attaches to no fabric", (*REGIONS, r, "pools", p, "fabrics"),
                        code="target.existing-no-fabric",
                        detail=f"on the {traits.name} target a host's address is its IP on the pool's first "
                               "fabric (mgmt when listed); grid and Ansible connect to the nodes there",
                        hint=f"add 'fabrics: [...]' to the pool, naming {fabrics}")


def existing_inventory_usable(cluster: Cluster) -> Iterator[Diagnostic]:
    """The inventory `targets.existing.inventory` names is read when the existing target expands the spec
    (grid.targets.existing): one it cannot read, or whose hosts lack grid_region/grid_pool or have a name
    that is no hostname, is found here first."""
    settings = cluster.spec.targets.existing
    if not traits_of(cluster).fixed_hosts or settings.hosts or settings.inventory is None:
        return
    try:
        inventory_hosts(resolve_inventory(settings.inventory))
    except ValueError as exc:
        yield error(f"cannot use the existing-hosts inventory {settings.inventory}",
                    ("spec", "targets", "existing", "inventory"), code="target.existing-inventory",
                    detail=str(exc),
                    hint="name a YAML inventory in grid's shape (inventories/README.md), absolute or relative to "
                         "the directory grid runs in; every host needs grid_region and grid_pool")


def image_known_to_target(cluster: Cluster) -> Iterator[Diagnostic]:
    """A cloud finds a machine image by name only for the images it knows (the aws stack: the official
    `debian-N` AMIs); any other `defaults.image` needs the image named in the target's settings, or the
    stack program fails in the middle of `grid up`."""
    traits = traits_of(cluster)
    if not traits.known_images or re.fullmatch(traits.known_images, cluster.spec.defaults.image):
        return
    settings = cluster.spec.targets.model_dump()[traits.name]
    if settings.get(traits.image_setting):
        return
    yield error(f"the {traits.name} target finds no machine image named '{cluster.spec.defaults.image}' by itself",
                ("spec", "defaults", "image"), code="target.image",
                detail=f"it looks up images whose names match {traits.known_images} (the official ones)",
                hint=f"set spec.targets.{traits.name}.{traits.image_setting} to the image to boot, or use an "
                     "image name it knows, such as debian-12")


def cloud_network_limits(cluster: Cluster) -> Iterator[Diagnostic]:
    """What the target's stack program refuses in the middle of `grid up` (stacks/aws.py: subnets of /16 to /28,
    a VPC made from the region's fabrics)."""
    traits = traits_of(cluster)
    for r, region in enumerate(cluster.spec.regions):
        if traits.region_needs_fabric and not region.fabrics and (region.storage or region.pools):
            yield error(f"region '{region.name}' has no fabric", (*REGIONS, r, "name"),
                        code="target.region-fabric",
                        detail=f"the {traits.name} target builds a region's network from its fabrics",
                        hint="add a fabric (name, cidr) to the region")
        if traits.subnet_prefixes is None:
            continue
        shortest, longest = traits.subnet_prefixes
        for f, fabric in enumerate(region.fabrics):
            prefix = int(fabric.cidr.rsplit("/", 1)[1])
            if shortest <= prefix <= longest:
                continue
            yield error(f"fabric '{fabric.name}' has a /{prefix} subnet; {traits.provider} subnets are "
                        f"/{shortest} to /{longest}", (*REGIONS, r, "fabrics", f, "cidr"), code="target.subnet-size",
                        hint=f"give the fabric a subnet of /{shortest} to /{longest}")


def block_volume_sizes(cluster: Cluster) -> Iterator[Diagnostic]:
    """Block storage is one volume per node that mounts it, the capacity shared out (stacks/cloud_common.py
    block_shares): a share over the target's largest volume is refused by the stack program."""
    largest = traits_of(cluster).block_volume_max_gib
    if largest is None:
        return
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            if storage.kind != "block" or storage.capacity_tib is None:
                continue
            nodes = sum(p.count for p in region.pools if storage.name in p.storage)
            share = math.ceil(max(1, math.ceil(storage.capacity_tib * 1024)) / max(1, nodes))
            if share <= largest:
                continue
            yield error(f"block storage '{storage.name}' gives each of its {nodes} node(s) {share:,} GiB, over "
                        f"the {largest:,} GiB of one {traits_of(cluster).provider} volume",
                        (*REGIONS, r, "storage", s, "capacity_tib"), code="target.block-size",
                        detail="block storage is one volume per node that mounts it, the capacity shared out",
                        hint=f"lower capacity_tib to at most {largest * max(1, nodes) / 1024:g}, or use "
                             "kind: parallel-fs or nfs for storage shared by the nodes")


VALIDATORS: list[Validator] = [role_groups_distinct, fixed_host_pools_have_fabric, existing_inventory_usable,
                               image_known_to_target, cloud_network_limits, block_volume_sizes]
