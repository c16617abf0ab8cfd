"""A spec's own catalog file (`spec.catalog`) extends the built-in one for validate and plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support.cli import grid
from support.paths import EXAMPLES

CATALOG = """\
apiVersion: grid/v1
kind: AcceleratorCatalog
accelerators:
  gaudi3:
    vendor: Intel
    name: Gaudi 3 OAM
    tdp_w: 900
    memory_gb: 128
    bf16_tflops: 1835
    host_overhead_w: 4000
    source: "Intel Gaudi 3 AI accelerator white paper"
"""


def spec_with_catalog(tmp_path: Path, catalog_text: str) -> Path:
    data = yaml.safe_load((EXAMPLES / "local-lab" / "cluster.yaml").read_text())
    data["spec"]["catalog"] = "accelerators.yaml"
    data["spec"]["regions"][1]["pools"][0]["accelerator"] = {"model": "gaudi3", "per_node": 8}
    (tmp_path / "accelerators.yaml").write_text(catalog_text)
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_model_from_the_spec_catalog_validates_and_is_planned(tmp_path: Path) -> None:
    spec = spec_with_catalog(tmp_path, CATALOG)
    assert grid("validate", str(spec)).code == 0
    plan = json.loads(grid("plan", str(spec), "--json", "--workdir", str(tmp_path / "w")).stdout)
    west = next(r for r in plan["capacity"]["summary"]["regions"] if r["name"] == "west")
    assert west["accelerators_by_model"] == {"gaudi3": 16}
    # 2 nodes x (8 x 900 W + 4000 W) = 22.4 kW of IT power
    assert west["it_mw"] == pytest.approx(0.0224, rel=1e-12)  # as computed: JSON is never rounded


def test_a_broken_catalog_is_reported_with_its_position(tmp_path: Path) -> None:
    spec = spec_with_catalog(tmp_path, CATALOG.replace("tdp_w: 900", "tdp_w: lots"))
    run = grid("validate", str(spec))
    assert run.code == 1
    assert "accelerators.yaml:" in run.stderr
    assert "Traceback" not in run.output
