"""`PlanView`: the plan document (grid-plan/v1, docs/plan-format.md) as typed, read-only values for policies.

Everything is read from the document, so a policy sees exactly what `grid plan --json` shows; `document` is
there for anything the view does not name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class RegionFigures:
    """A region's capacity and energy as the plan leaves it (`capacity.summary.regions[]`); None: unknown."""

    name: str
    nodes: int
    accelerators: int
    accelerators_by_model: Mapping[str, int]
    facility_mw: float | None
    it_mw: float | None
    power_budget_mw: float | None
    headroom_mw: float | None
    annual_mwh: float | None
    tco2_per_year: float | None
    peak_pflops: float | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> RegionFigures:
        return cls(str(row.get("name", "")), int(row.get("nodes") or 0), int(row.get("accelerators") or 0),
                   {str(k): int(v) for k, v in (row.get("accelerators_by_model") or {}).items()},
                   _number(row.get("facility_mw")), _number(row.get("it_mw")),
                   _number(row.get("power_budget_mw")), _number(row.get("headroom_mw")),
                   _number(row.get("annual_mwh")), _number(row.get("tco2_per_year")),
                   _number(row.get("peak_pflops")))


@dataclass(frozen=True, slots=True)
class ChangeView:
    """One address of the plan (`changes[]`): what happens to it and its desired attributes."""

    address: str
    kind: str  # node, fabric, volume, link
    region: str
    action: str  # create, adopt, update, replace, delete, no-op
    cause: str  # spec or drift
    reason: str
    after: Mapping[str, Any]  # desired attributes (empty when deleting)
    attributes: tuple[Mapping[str, Any], ...] = ()  # {name, before, after, policy} of what changes

    @property
    def pool(self) -> str:
        return str(self.after.get("pool", "")) if self.kind == "node" else ""

    @property
    def accelerator(self) -> str:
        return str(self.after.get("accelerator") or "") if self.kind == "node" else ""

    @property
    def removes(self) -> bool:
        """The resource as it runs now ends: it is replaced or deleted."""
        return self.action in ("replace", "delete")


@dataclass(frozen=True)
class PlanView:
    document: Mapping[str, Any]
    now: datetime = field(default_factory=datetime.now)  # when the policies run (the freeze example uses it)

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def cluster(self) -> str:
        return str(self.document.get("cluster", ""))

    @property
    def target(self) -> str:
        return str(self.document.get("target", ""))

    @property
    def has_changes(self) -> bool:
        return bool(self.document.get("has_changes"))

    @property
    def summary(self) -> Mapping[str, int]:
        return dict(self.document.get("summary") or {})

    @property
    def changes(self) -> Iterator[ChangeView]:
        for raw in self.document.get("changes") or ():
            yield ChangeView(str(raw.get("address", "")), str(raw.get("kind", "")), str(raw.get("region", "")),
                             str(raw.get("action", "")), str(raw.get("cause", "")), str(raw.get("reason", "")),
                             raw.get("after") or {}, tuple(raw.get("attributes") or ()))

    def pending(self) -> Iterator[ChangeView]:
        """The changes that do something (no `no-op`)."""
        return (c for c in self.changes if c.action != "no-op")

    @property
    def regions(self) -> tuple[RegionFigures, ...]:
        summary = (self.document.get("capacity") or {}).get("summary") or {}
        return tuple(RegionFigures.of(row) for row in summary.get("regions") or ())

    @property
    def total(self) -> RegionFigures | None:
        summary = (self.document.get("capacity") or {}).get("summary") or {}
        return RegionFigures.of(summary["total"]) if summary.get("total") else None

    def region(self, name: str) -> RegionFigures | None:
        return next((r for r in self.regions if r.name == name), None)
