"""Host digests computed when first read, not when planned.

A plan needs a host's digests only to compare them with the ones its state record holds: a host without a
record (a new node, every node of a first plan) needs its full configuration whatever they are. So a plan of
10^5 new nodes asks only for the addresses, and `grid plan` of a new cluster never pays the ~0.5 s of
formatting and hashing 10^5 documents; an apply, which records the digests, computes them once, on first use.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

from grid.resources import Kind, ResourceGraph

Digests = Mapping[str, tuple[str, str, str]]


class DeferredDigests(Mapping[str, tuple[str, str, str]]):
    """{node address: digests} whose keys are known now and whose values `compute` makes on first read."""

    def __init__(self, keys: Sequence[str], compute: Callable[[], Digests]) -> None:
        self._keys = keys
        self._compute: Callable[[], Digests] | None = compute
        self._values: Digests | None = None
        self._lock = threading.Lock()  # regions apply in threads: one computation, whoever reads first

    def _computed(self) -> Digests:
        values = self._values
        if values is None:
            with self._lock:
                if self._values is None:
                    assert self._compute is not None
                    self._values, self._compute = self._compute(), None
                values = self._values
        return values

    @property
    def computed(self) -> bool:
        """Whether the values were asked for already (tests, and what a plan made cost)."""
        return self._values is not None

    def __getitem__(self, address: str) -> tuple[str, str, str]:
        return self._computed()[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, address: object) -> bool:
        return address in self._key_set

    @functools.cached_property
    def _key_set(self) -> frozenset[str]:
        return frozenset(self._keys)

    def __repr__(self) -> str:
        return f"DeferredDigests({len(self._keys)} hosts, computed={self.computed})"


def deferred(graph: ResourceGraph, admin_public_key: str, compute: Callable[[], Digests]) -> Digests:
    """`compute`'s digests, deferred when their keys are certain without computing them: one per node of the
    graph, in address order. Where that is not certain — two nodes with one hostname (the inventory keeps one),
    a hostname that is not a string, a key the inventory refuses (the error belongs to the plan) — `compute`
    runs now, as before."""
    key = admin_public_key.strip()
    if "\n" in key or admin_public_key.lstrip().startswith("-----BEGIN"):
        return compute()
    node = Kind.NODE
    nodes = [r for r in graph.resources if r.kind is node]
    hostnames = {r.attrs.get("hostname") for r in nodes}
    addresses = sorted([r.address for r in nodes])  # in the graph's order, nearly sorted already: fast
    if not (len(hostnames) == len(set(addresses)) == len(nodes)
            and set(map(type, hostnames)) <= {str} and set(map(type, addresses)) <= {str}):
        return compute()
    return DeferredDigests(addresses, compute)
