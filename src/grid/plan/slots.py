"""Which node indices a pool has once grid has replaced failed nodes (`grid up --heal`).

A pool of `count` nodes normally has indices 0..count-1. A replacement takes the next free index of its pool
(never the failed node's own: the old node stays, quarantined, until the new one has passed its checks), so
state records per pool the indices being replaced (kept while their replacement comes up) and the retired
ones (never used again). The rule is here alone; grid.resources.expand gets its result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol


class Slots(Protocol):
    """What grid.state.model.PoolSlots records (only these two fields are read)."""

    @property
    def retired(self) -> Sequence[int]: ...
    @property
    def replacing(self) -> Sequence[int]: ...


def slots_key(region: str, pool: str) -> str:
    """The key of a pool in State.slots."""
    return f"{region}/{pool}"


def pool_indices(count: int, slots: Slots | None) -> list[int]:
    """The pool's node indices, ascending: the first `count` indices that are neither retired nor being replaced,
    plus the ones being replaced (kept, quarantined, while their replacement comes up)."""
    if slots is None or not (slots.retired or slots.replacing):
        return list(range(count))
    taken = set(slots.retired) | set(slots.replacing)
    serving: list[int] = []
    index = 0
    while len(serving) < count:
        if index not in taken:
            serving.append(index)
        index += 1
    kept = [i for i in slots.replacing if i not in set(slots.retired)]
    return sorted({*serving, *kept})


def replacement_slots(count: int, slots: Slots | None, failing: Iterable[int]) -> dict[int, int]:
    """{failing index: the index its replacement takes}: the pool's next free indices, in order, once the
    failing ones are set aside as being replaced."""
    failing = sorted(set(failing))
    retired = list(slots.retired) if slots is not None else []
    replacing = list(slots.replacing) if slots is not None else []
    before = set(pool_indices(count, slots))
    after = pool_indices(count, _Plain(retired, sorted({*replacing, *failing})))
    return dict(zip(failing, [i for i in after if i not in before], strict=False))


class _Plain:
    def __init__(self, retired: Sequence[int], replacing: Sequence[int]) -> None:
        self.retired, self.replacing = retired, replacing


def indices_by_pool(pools: Iterable[tuple[str, str, int]], slots: Mapping[str, Slots]
                    ) -> dict[str, list[int]]:
    """{"region/pool": its indices} for the pools (region, pool, count) that have slots (others: 0..count-1)."""
    return {key: pool_indices(count, slots[key]) for region, pool, count in pools
            if (key := slots_key(region, pool)) in slots}
