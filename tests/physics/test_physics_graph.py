"""The DOT diagram and `grid graph`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grid.physics import cluster_dot, summarize
from grid.physics.graph import OVER, quote
from grid.physics.units import LINK
from grid.spec import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[2]
NATIONAL = ROOT / "examples" / "national" / "cluster.yaml"
GRID = Path(sys.executable).parent / "grid"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def national_dot() -> str:
    cluster = load_spec(str(NATIONAL)).cluster
    assert cluster is not None
    return cluster_dot(cluster, summarize(cluster))


def test_dot_is_deterministic_and_names_everything() -> None:
    text = national_dot()
    assert text == national_dot()
    cluster = load_spec(str(NATIONAL)).cluster
    assert cluster is not None
    for region in cluster.spec.regions:
        assert f'subgraph "cluster_{region.name}"' in text
        assert region.site.province in text
        for pool in region.pools:
            assert f'"{region.name}/{pool.name}"' in text
    assert text.count("ltail=") == len(cluster.spec.links)
    assert f"zhongwei{LINK}qingyang\\n204.8 Tbps · 4 ms" in text


def test_over_budget_region_is_red_and_quotes_are_escaped() -> None:
    text = (ROOT / "examples" / "bad-physics" / "power-over-budget.yaml").read_text()
    loaded = load_spec_text(text.replace("province: Gansu", 'province: "Gan\\"su"'))
    assert loaded.cluster is not None
    dot = cluster_dot(loaded.cluster, summarize(loaded.cluster))
    assert f'color="{OVER}"' in dot and "OVER BUDGET" in dot
    assert 'qingyang — Gan\\"su' in dot
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def test_dot_without_summary() -> None:
    cluster = load_spec(str(NATIONAL)).cluster
    assert cluster is not None
    assert "budget 80 MW" in cluster_dot(cluster)


def run_grid(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GRID), *args], capture_output=True, text=True, timeout=300, env=env,
                          check=False)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_grid_graph_renders_png(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    done = run_grid("graph", str(NATIONAL), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    dot_out = tmp_path / "out.dot"
    assert run_grid("graph", str(NATIONAL), "-o", str(dot_out)).returncode == 0
    dot_text = dot_out.read_text()
    cluster = load_spec(str(NATIONAL)).cluster
    assert cluster is not None
    assert all(region.name in dot_text for region in cluster.spec.regions)


def test_grid_graph_refuses_an_invalid_spec(tmp_path: Path) -> None:
    done = run_grid("graph", str(ROOT / "examples" / "bad-physics" / "rack-density.yaml"), "-o",
                    str(tmp_path / "x.svg"))
    assert done.returncode == 1
    assert "over the 40 kW rack limit" in done.stderr
    assert not (tmp_path / "x.svg").exists()


def test_grid_graph_without_graphviz(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(GRID.parent)}
    done = run_grid("graph", str(NATIONAL), "-o", str(tmp_path / "x.svg"), env=env)
    assert done.returncode == 1
    assert "install graphviz (make setup does)" in done.stderr


def test_grid_graph_unknown_format(tmp_path: Path) -> None:
    done = run_grid("graph", str(NATIONAL), "-o", str(tmp_path / "x.jpeg2000"))
    assert done.returncode == 1 and ".svg" in done.stderr
