"""The stack engine: what makes (or finds) a region's infrastructure, whichever target it is.

Pulumi implements it (grid.drivers.pulumi); so do the existing-hosts and cloud host-key engines of
grid.targets. Callers know only this module: the protocol, its results, and one failure type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from grid.plan.contract import Allowance
    from grid.render.pulumi import RegionInput

__all__ = ["EngineFailed", "MadeFn", "PreviewResult", "ProgressFn", "RegionInput", "StackEngine", "StackResult"]

ProgressFn = Callable[[str, str, str], None]
"""(address, operation, status) — e.g. ("east/train/node-0001", "create", "done")."""



def __getattr__(name: str) -> Any:
    """RegionInput on first use: Pulumi's worker process runs stacks and must not load the renderers (~0.15 s)."""
    if name == "RegionInput":
        from grid.render.pulumi import RegionInput

        return RegionInput
    raise AttributeError(f"module 'grid.engines' has no attribute {name!r}")


MadeFn = Callable[[str, dict[str, Any]], None]
"""(address, outputs) of a resource just created, replaced or updated, while the rest of its stack goes on."""


class EngineFailed(Exception):
    """A region's stack could not be brought where it should be (the engine says why, for the user)."""

    def __init__(self, region: str, message: str) -> None:
        super().__init__(f"region {region}: {message}")
        self.region = region
        self.message = message


@dataclass(frozen=True)
class StackResult:
    region: str
    outputs: dict[str, Any]
    changes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PreviewResult:
    region: str
    changes: dict[str, int]
    # address -> operation for every step the engine would take (after refresh when asked)
    steps: dict[str, str]


class StackEngine(Protocol):
    def up(self, region: str, data: RegionInput, progress: ProgressFn | None = None, *,
           refresh: bool = True, made: MadeFn | None = None, allowed: Allowance | None = None) -> StackResult:
        """Apply the region's stack; refresh: first read what really exists (Pulumi refresh);
        made: told of each resource as soon as it is made (engines that cannot tell never call it);
        allowed: what the plan keeps (grid.plan.contract) — the engine stops before replacing or deleting it.
        Raises EngineFailed."""
        ...
    def preview(self, region: str, data: RegionInput, *, refresh: bool) -> PreviewResult: ...
    def destroy(self, region: str, data: RegionInput, progress: ProgressFn | None = None) -> None: ...
    def regions(self) -> list[str]: ...
