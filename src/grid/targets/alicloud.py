"""Target `alicloud`: Pulumi's Alibaba Cloud provider makes a VPC, vSwitches, ECS instances (eRDMA on roce
fabrics), NAS/CPFS file systems, OSS buckets and ESSDs (grid.stacks.alicloud)."""

from __future__ import annotations

from grid.spec.targets import TARGET_TRAITS
from grid.targets.cloud import CloudTarget

TARGET = CloudTarget(TARGET_TRAITS["alicloud"])
