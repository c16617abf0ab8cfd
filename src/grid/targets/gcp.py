"""Target `gcp`: Pulumi's Google Cloud provider makes VPC networks, instances and Filestore (grid.stacks.gcp)."""

from __future__ import annotations

from grid.spec.targets import TARGET_TRAITS
from grid.targets.cloud import CloudTarget

TARGET = CloudTarget(TARGET_TRAITS["gcp"])
