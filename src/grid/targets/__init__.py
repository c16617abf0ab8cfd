"""Everything grid knows about one target, behind one protocol (grid.targets.base.Target).

One module per target (`local`, `existing`, `aws`, `openstack`; `cloud` holds what the clouds share),
each exporting `TARGET`. A new target is a new module here, a row in grid.spec.targets.TARGET_TRAITS
and its stack program in grid.stacks.
"""

from __future__ import annotations

import functools
import importlib

from grid.engines import EngineFailed, PreviewResult, ProgressFn, RegionInput, StackEngine, StackResult
from grid.spec.model import Cluster
from grid.spec.targets import TARGET_TRAITS
from grid.targets.base import EngineSetup, Target

__all__ = ["EngineFailed", "EngineSetup", "PreviewResult", "ProgressFn", "RegionInput", "StackEngine",
           "StackResult", "Target", "target_for"]


def target_for(cluster_or_name: Cluster | str) -> Target:
    """The target a spec names (its module is imported on first use). Raises ValueError for a name the spec
    language does not know (the spec's schema refuses those before)."""
    name = cluster_or_name if isinstance(cluster_or_name, str) else cluster_or_name.spec.target
    return _target(name)


@functools.cache
def _target(name: str) -> Target:
    if name not in TARGET_TRAITS:
        raise ValueError(f"unknown target {name!r}: grid knows {', '.join(TARGET_TRAITS)}")
    target: Target = importlib.import_module(f"grid.targets.{name}").TARGET
    return target
