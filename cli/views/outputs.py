"""What `grid up` prints at the end: the nodes and how to reach them."""

from __future__ import annotations

from collections.abc import Iterator

from grid.check import connect_ip
from grid.state.model import State

LIMIT = 20


def output_lines(state: State, spec_path: str) -> Iterator[str]:
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
    yield (f"Reach a node: grid ssh {spec_path} {first.attrs.get('hostname')}   "
           f"(or ssh root@{connect_ip(dict(first.attrs))} with the cluster key, pinned host keys)")
