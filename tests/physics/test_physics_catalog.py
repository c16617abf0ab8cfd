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


# -- issue 14: sourced entries for common models; suggestions only within a model family --------------------

@pytest.mark.parametrize(("model", "tdp", "tflops", "memory"), [
    ("a100-sxm4-40gb", 400, 312, 40), ("a100-sxm4-80gb", 400, 312, 80), ("a100-pcie-40gb", 250, 312, 40),
    ("a100-pcie-80gb", 300, 312, 80), ("l40s", 350, 362, 48), ("mi250x", 560, 383, 128),
    ("gaudi3-oam", 900, 1835, 128),
])
def test_datasheet_figures_of_added_models(model: str, tdp: float, tflops: float, memory: float) -> None:
    entry = default_catalog().get(model)
    assert entry is not None
    assert (entry.tdp_w, entry.bf16_tflops, entry.memory_gb) == (tdp, tflops, memory)


def test_every_entry_names_its_source_and_unsure_figures_say_so() -> None:
    catalog = default_catalog()
    for model in catalog:
        entry = catalog.get(model)
        assert entry is not None and len(entry.source.strip()) >= 20, model  # a citation, not a placeholder
    for model in ("h20", "kunlunxin-p800", "metax-c500"):  # no open datasheet: figures from reports
        entry = catalog.get(model)
        assert entry is not None and "estimate" in entry.source, model
    for model in ("kunlunxin-p800", "metax-c500"):
        entry = catalog.get(model)
        assert entry is not None and "uncertain" in entry.source, model


def test_suggestions_stay_within_the_model_family() -> None:
    from grid.physics.catalog import Catalog, model_family, same_family

    catalog = default_catalog()
    without_40gb = Catalog({k: v for k, v in catalog.entries.items() if k != "a100-sxm4-40gb"})
    assert without_40gb.suggest("a100-sxm4-40gb") == "a100-sxm4-80gb"  # never h100-sxm
    only_hopper = Catalog({k: v for k, v in catalog.entries.items() if not k.startswith("a100")})
    assert only_hopper.suggest("a100-sxm4-40gb") is None
    assert catalog.suggest("h20-sxm") == "h20" and catalog.suggest("h2000") is None
    assert catalog.suggest("b100") is None and catalog.suggest("mi250") == "mi250x"
    assert catalog.suggest("p800") == "kunlunxin-p800" and catalog.suggest("gaudi-3") == "gaudi3-oam"
    assert model_family("a100-sxm4-40gb") == ("a100",) and model_family("ascend-910b") == ("ascend", "910")
    assert not same_family("h200", "h20") and not same_family("b200", "gb200")
