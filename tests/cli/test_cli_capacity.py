"""The capacity table of `grid plan` at national scale: every figure in its own column, the same figures as the
plan document (`--json`), whatever the width it is printed in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from grid.cli.views.capacity import COLUMNS
from support.cli import grid
from support.paths import EXAMPLES

NATIONAL = EXAMPLES / "national" / "cluster.yaml"
CELL_GAP = re.compile(r" {2,}")  # columns are set apart by two spaces or more; a cell holds single spaces only


def _expected_rows(document: dict[str, Any]) -> dict[str, list[str]]:
    """Each region's (and the total's) cells as the plan document gives them: `figure (+change)`."""
    capacity = document["capacity"]
    changes = {r["name"]: r["figures"] for r in capacity["change"]["regions"]}
    changes["total"] = capacity["change"]["total"]["figures"]
    summary = capacity["summary"]
    rows = {r["name"]: r for r in summary["regions"]} | {"total": summary["total"]}
    expected: dict[str, list[str]] = {}
    for name, row in rows.items():
        cells = []
        for key, _, digits in COLUMNS:
            cell = f"{row[key]:,.{digits}f}"
            delta = changes[name].get(key, {}).get("delta", 0)
            if delta:
                cell += f" ({'+' if delta > 0 else ''}{delta:,.{digits}f})"
            cells.append(cell)
        expected[name] = cells
    return expected


def _table_rows(stdout: str, names: set[str]) -> dict[str, list[str]]:
    """The cells of each row of the capacity section, split where columns are set apart; rows of a table cut
    into column groups are joined."""
    section = stdout[stdout.index("Capacity and energy"):].splitlines()
    rows: dict[str, list[str]] = {}
    for line in section:
        cells = CELL_GAP.split(line.strip())
        if cells[0] in names:
            rows.setdefault(cells[0], []).extend(cells[1:])
    return rows


def _plan(tmp_path: Path, **env: str) -> tuple[str, dict[str, Any]]:
    saved = tmp_path / "plan.json"
    run = grid("plan", str(NATIONAL), "--workdir", str(tmp_path / "work"), "--out", str(saved), env=env)
    assert run.code == 0, run.output
    return run.stdout, json.loads(saved.read_text())


def test_a_log_gets_one_line_per_region_with_every_figure_in_its_own_column(tmp_path: Path) -> None:
    # CI=true and no terminal (as in a CI log or a pipe): no width to fit, one table, one line per row.
    stdout, document = _plan(tmp_path)
    expected = _expected_rows(document)
    assert len(expected) == 9  # eight regions and the total
    section = stdout[stdout.index("Capacity and energy"):].splitlines()
    for name, cells in expected.items():
        lines = [line for line in section if line.split()[:1] == [name]]
        assert len(lines) == 1, f"{name}: {lines}"
        assert CELL_GAP.split(lines[0].strip()) == [name, *cells], lines[0]
    headings = next(line for line in section if line.startswith("region"))
    assert CELL_GAP.split(headings.strip()) == ["region", *(heading for _, heading, _ in COLUMNS)]


@pytest.mark.parametrize("columns", [100, 200])
def test_a_terminal_width_is_kept_and_no_figure_is_cut(tmp_path: Path, columns: int) -> None:
    stdout, document = _plan(tmp_path, COLUMNS=str(columns))
    expected = _expected_rows(document)
    table = stdout[stdout.index("Capacity and energy"):stdout.index("accelerators:")]  # a long list may wrap
    section = table.splitlines()
    assert max(len(line) for line in section) <= columns, "\n".join(section)
    assert _table_rows(stdout, set(expected)) == expected
