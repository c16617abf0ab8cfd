"""The accelerator catalog: per model id, the figures power, cooling and compute are computed from.

The catalog ships inside the package (`grid/physics/data/accelerators.yaml`); a user file in the same
format (docs/catalog.md) adds models or replaces whole entries by id. Reading the packaged file is the
only I/O of `grid.physics`, and it is cached.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from grid.diagnostics import Diagnostic, Diagnostics, error
from grid.spec.loader import SourceMap, load_file, load_text

CPU_MODEL = "cpu"
"""The catalog entry used for pools without an accelerator (CPU-only nodes)."""

ModelId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00-\x1f]*$")]


class AcceleratorSpec(BaseModel):
    """One catalog entry. `host_overhead_w` is per node (CPUs, NICs, fans…), not per accelerator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vendor: Text
    name: Text
    tdp_w: float = Field(ge=0, le=5_000, description="Power of one accelerator at its rated limit, W")
    memory_gb: float = Field(ge=0, le=10_000, description="Device memory of one accelerator, GB")
    bf16_tflops: float = Field(ge=0, le=100_000, description="Peak dense BF16 TFLOPS of one accelerator")
    interconnect: Text = ""
    host_overhead_w: float = Field(ge=0, le=20_000, description="Rest of one node of this class, W per node")
    source: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="Public source of the figures; 'estimate' marks unpublished ones")


class CatalogFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    apiVersion: Literal["grid/v1"]  # the YAML key users write
    kind: Literal["AcceleratorCatalog"]
    accelerators: dict[ModelId, AcceleratorSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Catalog:
    """Read-only mapping model id → `AcceleratorSpec`, plus lookup helpers."""

    entries: Mapping[str, AcceleratorSpec]

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    def get(self, model: str | None) -> AcceleratorSpec | None:
        """Entry for `model`; `None` (a CPU-only pool) looks up the `cpu` entry."""
        return self.entries.get(CPU_MODEL if model is None else model)

    def __contains__(self, model: object) -> bool:
        return model in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.entries))

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.entries))

    def suggest(self, model: str) -> str | None:
        """The known id `model` most likely means, among the ids of its model family only (a100-sxm4-40gb →
        a100-sxm4-80gb, never h100-sxm: a near name of another accelerator would plan the wrong hardware):
        a variant of it (h100 → h100-sxm), else the closest of the family; None when the family is unknown."""
        family = [i for i in self.ids() if same_family(i, model)]
        variants = [i for i in family if i.startswith(model + "-") or model.startswith(i + "-")]
        if variants:
            return variants[0]
        close = difflib.get_close_matches(model, family, n=1, cutoff=0.0)
        return close[0] if close else None

    def merged(self, other: Catalog) -> Catalog:
        """This catalog with `other`'s entries added, replacing entries of the same id."""
        return Catalog({**self.entries, **other.entries})


def model_family(model: str) -> tuple[str, ...]:
    """The words of an id up to its first number, that number without variant letters: `a100-sxm4-40gb`
    → (a100,), `ascend-910b` → (ascend, 910), `mi300x` → (mi300,), `kunlunxin-p800` → (kunlunxin, p800)."""
    words: list[str] = []
    for word in re.split(r"[-_.]", model.lower()):
        if not word:
            continue
        if re.search(r"\d", word):
            words.append(re.sub(r"(?<=\d)[a-z]+$", "", word))
            return tuple(words)
        words.append(word)
    return tuple(words)


def same_family(known: str, model: str) -> bool:
    """Two ids name one model family: the same family words (`gaudi-3` and `gaudi3-oam`), or one ends with
    the other's (`p800` and `kunlunxin-p800`)."""
    a, b = model_family(known), model_family(model)
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return "".join(a) == "".join(b) or long[len(long) - len(short):] == short


class CatalogError(ValueError):
    """A user catalog file cannot be used; `diagnostics` say where and why."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        first = diagnostics.errors[0] if diagnostics.errors else None
        at = first.source if first else None
        where = f"{at.file}:{at.line}:{at.col}: " if at else ""
        super().__init__(f"{where}{first.summary}" if first else "invalid accelerator catalog")
        self.diagnostics = diagnostics


PACKAGED = "data/accelerators.yaml"
FORMAT_HINT = "see docs/catalog.md for the format"


@functools.cache
def default_catalog() -> Catalog:
    """The catalog shipped with grid (read once per process)."""
    text = resources.files("grid.physics").joinpath(PACKAGED).read_bytes()
    catalog, found = parse_catalog(text, f"grid/physics/{PACKAGED}")
    if catalog is None:  # a broken packaged file is a bug in grid, not a user mistake
        raise RuntimeError(f"the packaged accelerator catalog is invalid: {CatalogError(found)}")
    return catalog


def parse_catalog(text: str | bytes, file: str = "<catalog>") -> tuple[Catalog | None, Diagnostics]:
    """Catalog from YAML text, or `None` and the findings (with file:line:col) that prevent it."""
    loaded = load_text(text, file)
    return _from_data(loaded.data, loaded.source, loaded.diagnostics)


def read_catalog(path: Path) -> tuple[Catalog | None, Diagnostics]:
    loaded = load_file(str(path))
    return _from_data(loaded.data, loaded.source, loaded.diagnostics)


def load_catalog(extra: Path | None = None) -> Catalog:
    """The packaged catalog, extended/overridden by the user file `extra` (raises `CatalogError`)."""
    base = default_catalog()
    if extra is None:
        return base
    user, found = read_catalog(extra)
    if user is None:
        raise CatalogError(found)
    return base.merged(user)


def _from_data(data: object, source: SourceMap,
               found: tuple[Diagnostic, ...]) -> tuple[Catalog | None, Diagnostics]:
    if data is None or found:
        return None, Diagnostics.of(found)
    try:
        parsed = CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = [_finding(item, source) for item in exc.errors(include_url=False)]
        return None, Diagnostics.of(problems)
    return Catalog(parsed.accelerators), Diagnostics()


def _finding(item: Any, source: SourceMap) -> Diagnostic:
    path = tuple(p for p in item["loc"] if isinstance(p, str | int))
    where = "/".join(str(p) for p in path) or "the document"
    key = str(path[-1]) if path else ""
    if item["type"] == "extra_forbidden":
        allowed = list(AcceleratorSpec.model_fields) if len(path) == 3 else list(CatalogFile.model_fields)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return error(f"unknown key '{key}' at {where}", path, hint=hint, code="catalog").at(
            source.locate(path, key=True))
    if item["type"] == "missing":
        return error(f"missing required key '{key}' at {where}", path, hint=FORMAT_HINT,
                     code="catalog").at(source.locate(path[:-1], key=True))
    return error(f"{where}: {item['msg']}", path, hint=FORMAT_HINT, code="catalog").at(source.locate(path))
