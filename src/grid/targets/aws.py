"""Target `aws`: Pulumi's AWS provider makes VPC subnets, instances and volumes (grid.stacks.aws)."""

from __future__ import annotations

from grid.spec.targets import TARGET_TRAITS
from grid.targets.cloud import CloudTarget

TARGET = CloudTarget(TARGET_TRAITS["aws"])
