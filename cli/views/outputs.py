"""What `grid up` prints at the end: the nodes and how to reach them."""

from __future__ import annotations

from collections.abc import Iterator

from grid.resources import PoolFabrics, recorded_connect_ip
from grid.state.model import State

LIMIT = 20


def output_lines(state: State, spec_path: str, pools: PoolFabrics | None = None) -> Iterator[str]:
    """`pools` (grid.resources.pool_fabrics of the spec) makes the address shown the one `grid ssh` uses."""
    nodes = sorted((r for r in state.resources.values() if r.kind == "node"), key=lambda r: r.address)
    if not nodes:
        return
    yield f"Nodes ({len(nodes)}):"
    for record in nodes[:LIMIT]:
        ips = ", ".join(f"{fabric} {ip}" for fabric, ip in sorted(record.attrs.get("fabrics", {}).items()))
        yield f"  {record.attrs.get('hostname')}  {record.address}  {ips}"
    if len(nodes) > LIMIT:
        yield f"  … and {len(nodes) - LIMIT} more (`grid state list {spec_path}`)"
    first = nodes[0]
    ip = recorded_connect_ip(first.address, first.region, first.attrs, pools or {})
    yield (f"Reach a node: grid ssh {spec_path} {first.attrs.get('hostname')}   "
           f"(or ssh root@{ip} with the cluster key, pinned host keys)")
