"""The spec's `moved:` list: renames that keep what exists (Terraform's `moved` blocks, said in grid).

An entry `{from: east/train-old, to: east/train}` says the pool grid made as `east/train-old` is now called
`east/train`: its nodes are the same machines under new addresses. What an entry may name, by its shape:
a pool `region/pool`, a region `region`, a storage `region/storage/name`, a fabric `region/fabric/name`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MovedKind = Literal["region", "pool", "storage", "fabric"]

_NAME = r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?"
MovedAddress = Annotated[str, StringConstraints(
    pattern=rf"^{_NAME}(/({_NAME}|storage/{_NAME}|fabric/{_NAME}))?$", max_length=80)]


class Moved(BaseModel):
    """One rename: what grid made as `from` is `to` now."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: MovedAddress = Field(alias="from", description="The address as grid made it (region/pool, region, "
                                                          "region/storage/name or region/fabric/name)")
    to: MovedAddress = Field(description="The address the spec calls it now (the same kind of thing)")


def moved_kind(address: str) -> MovedKind:
    """What a `moved:` address names, by its shape."""
    parts = address.split("/")
    if len(parts) == 1:
        return "region"
    if len(parts) == 3:
        return "storage" if parts[1] == "storage" else "fabric"
    return "pool"


def renamed(address: str, renames: Mapping[str, str]) -> str | None:
    """The address a resource has after `renames` ({from: to} prefixes), or None when none applies: a node
    `east/train-old/node-0003` under `east/train-old` → `east/train/node-0003`."""
    for old, new in renames.items():
        if address == old:
            return new
        if address.startswith(old + "/") and moved_kind(old) == "pool":
            return new + address[len(old):]
    return None


def previous_addresses(addresses: Iterable[str], moved: Iterable[Moved]) -> dict[str, str]:
    """{address: the address it had before} for every address under a `moved:` entry's `to`: the names a
    stack program gives Pulumi as aliases, so a renamed resource keeps its object."""
    back = {m.to: m.from_ for m in moved if moved_kind(m.to) != "region"}
    out: dict[str, str] = {}
    for address in addresses:
        before = renamed(address, back)
        if before is not None:
            out[address] = before
    return out
