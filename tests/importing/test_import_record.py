"""Writing an import: both or neither (a Ctrl-C before the state write leaves nothing), and --merge adding to a
spec and state without changing what they hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from import_facts import found

from grid.importing import merge
from grid.importing.layout import layout
from grid.importing.model import Imported
from grid.importing.state import imported_state
from grid.importing.writer import SpecInput, spec_text
from grid.operations.importing import record_import
from grid.physics.catalog import default_catalog
from grid.spec import load_spec_text
from grid.state.store import FileStateStore
from grid.validate import validate


def _imported(*hosts: tuple[str, str]) -> Imported:
    made = [found(name, address) for name, address in hosts]
    text = spec_text(SpecInput("ix-unit", "root", layout(made), "a test", "now"), default_catalog())
    loaded = load_spec_text(text)
    assert loaded.cluster is not None
    return Imported(text, imported_state(loaded.cluster, {h.candidate.name: h for h in made}, ""))


def test_an_interrupt_before_the_state_is_written_leaves_nothing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(FileStateStore, "write", interrupted)
    spec = tmp_path / "imported.yaml"
    with pytest.raises(KeyboardInterrupt):
        record_import(spec, _imported(("gpu-a", "10.0.0.10")), workdir=tmp_path / "wd", store_location=None,
                      merge=False)
    assert not spec.exists() and not (tmp_path / "wd" / "state.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "wd"] == []


def test_merge_adds_hosts_and_keeps_every_record(tmp_path: Path) -> None:
    spec, workdir = tmp_path / "imported.yaml", tmp_path / "wd"
    first = _imported(("gpu-a", "10.0.0.10"))
    record_import(spec, first, workdir=workdir, store_location=None, merge=False)
    old = FileStateStore(workdir).read()
    assert old is not None

    assert merge.listed_endpoints(spec.read_text()) == {("10.0.0.10", 22)}
    new = _imported(("gpu-b", "10.0.0.11"), ("npu-a", "10.0.1.12"))
    text = merge.merged_text(spec.read_text(), new.spec_text, ["gpu-b: found"], "now")
    loaded = load_spec_text(text)
    assert loaded.cluster is not None and not validate(loaded).has_errors
    data = yaml.safe_load(text)["spec"]
    assert [p["name"] for p in data["regions"][0]["pools"]] == ["h100-sxm-x8", "h100-sxm-x8-2", "h100-sxm-x8-3"]
    assert [(f["name"], f["cidr"]) for f in data["regions"][0]["fabrics"]] == [
        ("mgmt", "10.0.0.0/24"), ("mgmt-2", "10.0.1.0/24")]  # the subnet the spec has is joined, not repeated
    assert {h["name"]: h["pool"] for h in data["targets"]["existing"]["hosts"]} == {
        "gpu-a": "h100-sxm-x8", "gpu-b": "h100-sxm-x8-2", "npu-a": "h100-sxm-x8-3"}
    hosts = {n: found(n, a) for n, a in (("gpu-b", "10.0.0.11"), ("npu-a", "10.0.1.12"))}
    recorded = record_import(spec, Imported(text, imported_state(loaded.cluster, hosts, "")), workdir=workdir,
                             store_location=None, merge=True)
    assert recorded.serial == 2 and "site/h100-sxm-x8-3/node-0000" in recorded.added
    now = FileStateStore(workdir).read()
    assert now is not None
    assert {a: r for a, r in now.state.resources.items() if a in old.state.resources} == old.state.resources
    assert "gpu-a" in spec.read_text() and "# gpu-b: found" in spec.read_text()
