"""The packaged accelerator catalog and user catalog files."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.physics import CatalogError, default_catalog, load_catalog, parse_catalog

EXAMPLE_IDS = ("h100-sxm", "h200", "b200", "mi300x", "ascend-910b", "ascend-910c", "mlu590", "hygon-k100",
               "cpu")


def test_packaged_catalog_has_every_model_the_examples_use() -> None:
    catalog = default_catalog()
    for model in EXAMPLE_IDS:
        entry = catalog.get(model)
        assert entry is not None, model
        assert entry.source.strip()
    assert catalog.get(None) == catalog.get("cpu")


@pytest.mark.parametrize(("model", "tdp", "tflops", "memory"), [
    ("h100-sxm", 700, 989, 80), ("h200", 700, 989, 141), ("b200", 1000, 2250, 192),
    ("mi300x", 750, 1307, 192),
])
def test_published_figures(model: str, tdp: float, tflops: float, memory: float) -> None:
    entry = default_catalog().get(model)
    assert entry is not None
    assert (entry.tdp_w, entry.bf16_tflops, entry.memory_gb) == (tdp, tflops, memory)


def test_unpublished_figures_are_marked_as_estimates() -> None:
    for model in ("ascend-910b", "ascend-910c", "mlu590", "hygon-k100"):
        entry = default_catalog().get(model)
        assert entry is not None and "estimate" in entry.source


def test_default_catalog_is_cached() -> None:
    assert default_catalog() is default_catalog()
    assert load_catalog(None) is default_catalog()


def test_suggestions() -> None:
    catalog = default_catalog()
    assert catalog.suggest("h100") == "h100-sxm"
    assert catalog.suggest("ascend-910") in ("ascend-910b", "ascend-910c")
    assert catalog.suggest("mi300") == "mi300x"
    assert catalog.suggest("zzzz") is None


USER = """apiVersion: grid/v1
kind: AcceleratorCatalog
accelerators:
  h100-sxm: {vendor: NVIDIA, name: measured, tdp_w: 700, memory_gb: 80, bf16_tflops: 989,
             host_overhead_w: 3000, source: our PDU}
  gaudi3: {vendor: Intel, name: Gaudi 3, tdp_w: 900, memory_gb: 128, bf16_tflops: 1835,
           host_overhead_w: 4000, source: Intel Gaudi 3 white paper}
"""


def test_user_file_adds_and_replaces_entries(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(USER)
    catalog = load_catalog(path)
    h100, gaudi = catalog.get("h100-sxm"), catalog.get("gaudi3")
    assert h100 is not None and h100.host_overhead_w == 3000
    assert gaudi is not None and gaudi.tdp_w == 900
    assert catalog.get("b200") == default_catalog().get("b200")
    assert default_catalog().get("gaudi3") is None  # the packaged catalog is untouched


def test_bad_user_file_reports_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(USER.replace("tdp_w: 900", "tdp_w: -5").replace("source: our PDU", "sorce: our PDU"))
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    found = caught.value.diagnostics
    summaries = " | ".join(d.summary for d in found)
    assert "accelerators/gaudi3/tdp_w" in summaries
    assert "sorce" in summaries
    lines = {d.source.line for d in found if d.source}
    assert lines == {4, 5, 6}  # h100-sxm lacks source, has sorce; gaudi3 tdp_w < 0
    assert any("did you mean 'source'" in d.hint for d in found)
    assert str(path) in str(caught.value)


def test_parse_errors_are_findings_not_exceptions() -> None:
    catalog, found = parse_catalog("accelerators: [", "x.yaml")
    assert catalog is None and found.has_errors
    catalog, found = parse_catalog("apiVersion: grid/v1\nkind: Cluster\naccelerators: {}\n", "x.yaml")
    assert catalog is None and found.has_errors
