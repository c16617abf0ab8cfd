"""The capacity and energy table of a plan: per region and in total, with the change the plan makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

COLUMNS = (("nodes", "nodes", 0), ("accelerators", "accel", 0), ("peak_pflops", "PFLOPS", 0),
           ("it_mw", "IT MW", 2), ("facility_mw", "fac. MW", 2), ("headroom_mw", "headroom", 2),
           ("annual_mwh", "MWh/yr", 0), ("tco2_per_year", "tCO2/yr", 0))


def _fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _delta(figures: dict[str, Any], key: str, digits: int) -> str:
    change = figures.get(key, {}).get("delta", 0)
    if not change:
        return ""
    return f" ({'+' if change > 0 else ''}{_fmt(change, digits)})"


def capacity_lines(capacity: dict[str, Any]) -> Iterator[tuple[str, str]]:
    summary = capacity.get("summary")
    if not summary:
        return
    changes = {row["name"]: row["figures"] for row in capacity.get("change", {}).get("regions", [])}
    total_change = capacity.get("change", {}).get("total", {}).get("figures", {})
    yield f"Capacity and energy (utilisation {summary['utilization']:.0%}):", "bold"
    header = f"  {'region':<14}" + "".join(f"{label:>16}" for _, label, _ in COLUMNS)
    yield header, "bold"
    rows = [(r, changes.get(r["name"], {})) for r in summary["regions"]] + [(summary["total"], total_change)]
    for row, figures in rows:
        name = "total" if row is summary["total"] else row["name"]
        cells = "".join(f"{_fmt(row[key], d) + _delta(figures, key, d):>16}" for key, _, d in COLUMNS)
        style = "red" if row.get("headroom_mw", 0) < 0 else ("bold" if name == "total" else "")
        yield f"  {name:<14}{cells}", style
    models = summary["total"].get("accelerators_by_model", {})
    if models:
        yield "  accelerators: " + ", ".join(f"{m} {n:,}" for m, n in sorted(models.items())), ""
