"""Target `openstack`: Pulumi's OpenStack provider makes networks, servers and volumes (grid.stacks.openstack)."""

from __future__ import annotations

from grid.spec.targets import TARGET_TRAITS
from grid.targets.cloud import CloudTarget

TARGET = CloudTarget(TARGET_TRAITS["openstack"])
