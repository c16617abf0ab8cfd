"""The capacity and energy table of a plan: per region and in total, with the change the plan makes.

rich's Table sizes every column to its widest cell, so national figures (`1,214,821 (+1,214,821)`) never run
into the next column. A table wider than the room it has is cut into column groups printed one below the
other, as a spreadsheet is printed on paper: every row stays on one line and no figure is ever truncated.

Figures arrive as computed (the plan's JSON document); each is rounded here, once. An unknown figure
(`null`: a site without a carbon intensity, a model not in the catalog) prints as a dash (`UNKNOWN`), never as 0.
"""

from __future__ import annotations

import io
import math
from typing import Any

from rich.box import Box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from grid.physics.units import UNKNOWN
from grid.plan.out_of_service import out_of_service_lines

# (key in the capacity summary, column heading, decimals)
COLUMNS = (("nodes", "nodes", 0), ("accelerators", "accel", 0), ("peak_pflops", "PFLOPS", 0),
           ("it_mw", "IT MW", 2), ("facility_mw", "fac. MW", 2), ("headroom_mw", "headroom", 2),
           ("annual_mwh", "MWh/yr", 0), ("tco2_per_year", "tCO2/yr", 0))

# No vertical lines (columns are set apart by spaces); a rule under the headings and above the total.
_RULES = Box("    \n    \n ── \n    \n ── \n    \n    \n    \n")


def _fmt(value: float | None, digits: int) -> str:
    return UNKNOWN if value is None else f"{value:,.{digits}f}"


def _cell(row: dict[str, Any], figures: dict[str, Any], key: str, digits: int) -> Text:
    """The figure, then the plan's change to it in brackets (none when it does not change or is unknown;
    none either when it rounds to nothing at this many digits)."""
    cell = Text(_fmt(row.get(key), digits))
    change = figures.get(key, {}).get("delta")
    if change is not None and round(change, digits) != 0:
        cell.append(f" ({'+' if change > 0 else ''}{_fmt(change, digits)})", style="dim")
    return cell


def _table(capacity: dict[str, Any], columns: tuple[tuple[str, str, int], ...]) -> Table:
    summary = capacity["summary"]
    changes = {row["name"]: row["figures"] for row in capacity.get("change", {}).get("regions", [])}
    total_change = capacity.get("change", {}).get("total", {}).get("figures", {})
    table = Table(box=_RULES, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("region", no_wrap=True)
    for _, heading, _ in columns:
        table.add_column(heading, justify="right", no_wrap=True)
    for row in summary["regions"]:
        figures = changes.get(row["name"], {})
        table.add_row(Text(row["name"]), *(_cell(row, figures, key, d) for key, _, d in columns),
                      style="red" if (row.get("headroom_mw") or 0) < 0 else None)
    table.add_section()
    total = summary["total"]
    table.add_row(Text("total"), *(_cell(total, total_change, key, d) for key, _, d in columns),
                  style="red" if (total.get("headroom_mw") or 0) < 0 else "bold")
    return table


def _natural_width(table: Table) -> int:
    """The columns the table takes with every row on one line."""
    measuring = Console(width=100_000, file=io.StringIO())
    return measuring.measure(table).maximum


def capacity_tables(capacity: dict[str, Any], width: int | None = None) -> list[Table]:
    """The table, or the fewest column groups (each a table led by the region column) that fit in `width`;
    None: no limit (a pipe, a file, a CI log), one table with every row on one line. Empty without a summary."""
    if not capacity.get("summary"):
        return []
    for groups in range(1, len(COLUMNS) + 1):
        size = math.ceil(len(COLUMNS) / groups)
        tables = [_table(capacity, COLUMNS[start:start + size]) for start in range(0, len(COLUMNS), size)]
        widths = [_natural_width(table) for table in tables]
        if width is None or max(widths) <= width or size == 1:  # one figure a table: as narrow as it gets
            break
    for table, natural in zip(tables, widths, strict=True):
        table.width = natural  # printed whole even where the console assumes fewer columns
    return tables


def capacity_view(capacity: dict[str, Any], width: int | None = None) -> list[RenderableType]:
    """The heading, the table(s) and the accelerators by model: what `grid plan` prints after the changes."""
    tables = capacity_tables(capacity, width)
    if not tables:
        return []
    summary = capacity["summary"]
    view: list[RenderableType] = [Text(f"Capacity and energy (utilisation {summary['utilization']:.0%}):",
                                       style="bold")]
    for number, table in enumerate(tables):
        view += [Text("")] * (number > 0) + [table]
    models = summary["total"].get("accelerators_by_model", {})
    if models:
        view.append(Text("accelerators: " + ", ".join(f"{m} {n:,}" for m, n in sorted(models.items()))))
    view += [Text(line, style="yellow") for line in out_of_service_lines(capacity)]
    return view
