"""How a plan changes the capacity figures: `compare(before, after)` → per-region and total deltas.

An unknown figure (None, see grid.physics.capacity) on either side makes the delta unknown too; figures
are kept as computed (the views round once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from grid.physics.capacity import CapacitySummary, RegionCapacity, empty_summary

RowStatus = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True, slots=True)
class FigureDelta:
    figure: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return self.before is not self.after  # known ↔ unknown is a change; unknown → unknown is not
        delta = self.after - self.before
        return abs(delta) > 1e-9 * max(1.0, abs(self.before), abs(self.after))

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "delta": self.delta}


@dataclass(frozen=True, slots=True)
class RowDelta:
    """One region (or `total`): every figure before and after, and accelerators by model."""

    name: str
    status: RowStatus
    figures: tuple[FigureDelta, ...]
    accelerators: tuple[FigureDelta, ...]

    def figure(self, name: str) -> FigureDelta:
        return next(f for f in self.figures if f.figure == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status,
            "figures": {f.figure: f.to_dict() for f in self.figures},
            "accelerators_by_model": {f.figure: f.to_dict() for f in self.accelerators},
        }


@dataclass(frozen=True, slots=True)
class CapacityDelta:
    regions: tuple[RowDelta, ...]
    total: RowDelta

    @property
    def changed(self) -> bool:
        return self.total.status != "unchanged" or any(r.status != "unchanged" for r in self.regions)

    def to_dict(self) -> dict[str, Any]:
        return {"regions": [r.to_dict() for r in self.regions], "total": self.total.to_dict()}


def compare(before: CapacitySummary | None, after: CapacitySummary | None) -> CapacityDelta:
    """Deltas per figure; `None` on either side means nothing (nothing built yet / everything destroyed).

    Regions are listed in `after` order, then regions only `before` had (removed).
    """
    old = before or empty_summary()
    new = after or empty_summary()
    names = [r.name for r in new.regions] + [r.name for r in old.regions if new.region(r.name) is None]
    rows = tuple(_row(name, old.region(name), new.region(name)) for name in names)
    return CapacityDelta(rows, _row("total", old.total, new.total))


def _row(name: str, before: RegionCapacity | None, after: RegionCapacity | None) -> RowDelta:
    zero: dict[str, float | None] = {}
    old = before.figures() if before else zero
    new = after.figures() if after else zero
    keys = list(new or old)
    figures = tuple(FigureDelta(k, old.get(k, 0), new.get(k, 0)) for k in keys)
    old_acc = dict(before.accelerators) if before else {}
    new_acc = dict(after.accelerators) if after else {}
    accelerators = tuple(FigureDelta(m, old_acc.get(m, 0), new_acc.get(m, 0))
                         for m in sorted(set(old_acc) | set(new_acc)))
    status: RowStatus
    if before is None and after is not None:
        status = "added"
    elif after is None and before is not None:
        status = "removed"
    elif any(f.changed for f in figures + accelerators):
        status = "changed"
    else:
        status = "unchanged"
    return RowDelta(name, status, figures, accelerators)
