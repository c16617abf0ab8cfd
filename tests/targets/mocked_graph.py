"""What rendered stack programs register under Pulumi's mocks, for the cloud stack tests.

`render_specs` writes each spec (an example, retargeted by `retarget` edits) and `grid render`s it;
`MockedGraph` is one rendered tree run under the mocks (tests/targets/stack_mocks.run_isolated): the
program data of every region beside the resources and outputs it registered.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from retarget import write_spec

from support.cli import grid

Edits = tuple[Callable[[dict[str, Any]], None], ...]
G = TypeVar("G", bound="MockedGraph")


class MockedGraph:
    """One spec's region programs as registered (all regions in one mocked run)."""

    def __init__(self, rendered: Path, result: dict[str, Any]) -> None:
        self.rendered = rendered
        regions = sorted(p.name for p in (rendered / "pulumi").iterdir())
        self.data = {r: json.loads((rendered / "pulumi" / r / "resources.json").read_text()) for r in regions}
        self.resources: list[dict[str, Any]] = result["resources"]
        self.outputs: dict[str, Any] = result["outputs"]
        self.warnings: list[str] = result.get("warnings", [])

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Resources of a type by its last part (`Instance`) or whole (`aws:ec2/instance:Instance`)."""
        return [r for r in self.resources if r["type"].endswith(":" + kind) or r["type"] == kind]

    def counts(self) -> Counter[str]:
        return Counter(r["type"] for r in self.resources)

    def named(self, name: str) -> dict[str, Any]:
        return next(r for r in self.resources if r["name"] == name)

    def inputs(self, name: str) -> dict[str, Any]:
        inputs: dict[str, Any] = self.named(name)["inputs"]
        return inputs

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return [n for data in self.data.values() for n in data["nodes"]]

    @property
    def fabrics(self) -> list[dict[str, Any]]:
        return [f for data in self.data.values() for f in data["fabrics"]]

    def projects(self) -> list[str]:
        return sorted(str(p) for p in (self.rendered / "pulumi").iterdir())


def render_specs(factory: pytest.TempPathFactory, specs: Mapping[str, tuple[Path, Edits]]) -> dict[str, Path]:
    """{key: the rendered tree} of each spec, `grid render` run concurrently."""
    def render(key: str) -> Path:
        source, edits = specs[key]
        spec, _ = write_spec(factory.mktemp(key), source, *edits)
        run = grid("render", str(spec), "-o", str(spec.parent / "rendered"))
        assert run.code == 0, run.output
        return spec.parent / "rendered"

    factory.getbasetemp()  # made once here: threads making it at once race on it (with --basetemp)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(specs, pool.map(render, specs), strict=True))


def run_rendered(rendered: Path, graph: type[G] = MockedGraph, **request: Any) -> G:
    """A rendered tree's region programs under the mocks (`request`: run_isolated's config, catalog ...)."""
    from stack_mocks import run_isolated

    projects = sorted(str(p) for p in (rendered / "pulumi").iterdir())
    return graph(rendered, run_isolated(projects=projects, **request))


def mocked_graphs(factory: pytest.TempPathFactory, specs: Mapping[str, tuple[Path, Edits]],
                  graph: type[G] = MockedGraph, **request: Any) -> dict[str, G]:
    """Each spec rendered and run under the mocks with the same `request`."""
    rendered = render_specs(factory, specs)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(rendered, pool.map(lambda key: run_rendered(rendered[key], graph, **request), rendered),
                        strict=True))
