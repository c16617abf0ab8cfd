"""Accelerators out of service: those of the nodes grid quarantined (grid up --heal), per region and model, for
the plan's capacity (`capacity.out_of_service`, only when there are any: plans of healthy clusters are as
before)."""

from __future__ import annotations

from typing import Any

from grid.state.model import State


def out_of_service(state: State) -> list[dict[str, Any]]:
    """[{region, accelerator, accelerators, nodes}] of the quarantined nodes state records, by region and model."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for address in sorted(state.quarantined):
        record = state.resources.get(address)
        if record is None:
            continue
        model = str(record.attrs.get("accelerator") or "cpu")
        row = rows.setdefault((record.region, model), {"region": record.region, "accelerator": model,
                                                       "accelerators": 0, "nodes": 0})
        row["accelerators"] += int(record.attrs.get("accelerators") or 0)
        row["nodes"] += 1
    return list(rows.values())


def with_out_of_service(capacity: dict[str, Any], state: State) -> dict[str, Any]:
    rows = out_of_service(state)
    return {**capacity, "out_of_service": rows} if rows else capacity


def out_of_service_lines(capacity: dict[str, Any]) -> list[str]:
    """"out of service: 8 ascend-910b on 1 quarantined node (lab)" per region and model."""
    return [f"out of service: {row['accelerators']:,} {row['accelerator']} on {row['nodes']} quarantined "
            f"node{'s' if row['nodes'] != 1 else ''} ({row['region']})" for row in capacity.get("out_of_service", [])]
