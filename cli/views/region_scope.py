"""What a `--region` run leaves to other regions: their pending work, and changes left to their own runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grid.operations.planning import Planned

    from ..console import Output


def elsewhere_lines(planned: Planned) -> list[str]:
    planned_regions = {h.address.split("/", 1)[0] for h in planned.plan.config}
    lines = [f"recorded for {region} by another region's run: {line} (done by this plan)"
             for region, found in sorted(planned.state.pending.items()) if region in planned_regions
             for line in found]
    lines += [f"pending for {region}: {line}" for region, found in planned.pending_elsewhere.items()
              for line in found]
    lines += [f"left to `grid up --region {region}`: {count} change(s) of {region}"
              for region, count in sorted(planned.skipped_elsewhere.items())]
    return lines


def show_elsewhere(planned: Planned, output: Output) -> None:
    for line in elsewhere_lines(planned):
        output.print(line, markup=False)
