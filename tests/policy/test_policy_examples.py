"""The shipped policy packs (examples/policies) against plan documents, the national example's among them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from grid import operations
from grid.plan.document import to_document
from grid.policy import PolicyReport
from grid.policy.packs import Pack, load_pack
from grid.policy.runner import evaluate
from grid.workspace import Workspace, open_workspace
from support.paths import EXAMPLES

PACKS = EXAMPLES / "policies"


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The plan document of examples/national on an empty state (158,400 accelerators in 8 hubs)."""
    ws = open_workspace(EXAMPLES / "national" / "cluster.yaml", workdir=tmp_path_factory.mktemp("national"))
    assert isinstance(ws, Workspace)
    return to_document(operations.plan(ws).plan)


def shipped(name: str, **config: Any) -> Pack:
    pack = load_pack(PACKS / name)
    return replace(pack, config={**pack.config, **config}) if config else pack


def messages(report: PolicyReport) -> list[tuple[str, str, str, bool]]:
    return [(f.policy, f.address, f.message, f.blocking) for f in report.findings]


def node_change(address: str, action: str, accelerator: str = "h100-sxm") -> dict[str, Any]:
    region, pool, _ = address.split("/")
    return {"address": address, "kind": "node", "region": region, "action": action, "cause": "spec", "reason": "",
            "attributes": [], "after": None if action == "delete" else {"pool": pool, "accelerator": accelerator}}


def small_plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format": "grid-plan/v1", "cluster": "c", "changes": list(changes), "capacity": {}}


def test_the_carbon_budget_blocks_the_national_plan_at_zhongwei(national: dict[str, Any]) -> None:
    report = evaluate([shipped("carbon-budget")], national)
    assert messages(report) == [
        ("tco2-budget", "zhongwei", "122,777 tCO2/yr is over the budget of 100,000 tCO2/yr", True),
        ("tco2-near-budget", "helinger", "78,517 tCO2/yr is 98% of its budget of 80,000", False)]
    assert not report.passed


def test_the_national_plan_keeps_its_hubs_within_the_shipped_facility_caps(national: dict[str, Any]) -> None:
    assert evaluate([shipped("facility-power")], national).findings == ()
    tighter = evaluate([shipped("facility-power", default_cap_mw=20)], national)
    assert [(f.address, f.blocking) for f in tighter.findings] == [
        ("zhongwei", True), ("tianfu", True)]  # 57.5 and 21.9 MW; helinger and wuhu have caps of their own
    assert tighter.findings[0].message == "facility power 57.50 MW is over the cap of 20 MW (by 37.50 MW)"


def test_the_national_accelerators_are_all_allowed_and_a_missing_one_is_named(national: dict[str, Any]) -> None:
    assert evaluate([shipped("accelerator-allowlist")], national).findings == ()
    without = [m for m in shipped("accelerator-allowlist").config["allowed"] if m != "mi300x"]
    report = evaluate([shipped("accelerator-allowlist", allowed=without)], national)
    assert messages(report) == [("allowed-accelerators", "wuhu/infer",
                                 "pool infer uses mi300x, which is not on the allowed list", True)]


def test_an_accelerator_already_running_off_the_list_is_named_by_region() -> None:
    document = small_plan()
    document["capacity"] = {"summary": {"regions": [{"name": "east", "accelerators_by_model": {"gaudi3": 64}}]}}
    report = evaluate([shipped("accelerator-allowlist")], document)
    assert messages(report) == [("allowed-accelerators", "east",
                                 "64 gaudi3 accelerator(s), which is not on the allowed list", True)]


@pytest.mark.parametrize(("now", "blocked"), [
    (datetime(2026, 12, 24, 9, 0), ["zhongwei/train/node-0001", "helinger/train/node-0002"]),
    (datetime(2027, 1, 5, 23, 0), ["zhongwei/train/node-0001", "helinger/train/node-0002"]),  # inclusive
    (datetime(2027, 1, 6, 0, 1), []),
    (datetime(2027, 6, 2, 12, 0), ["zhongwei/train/node-0001", "helinger/train/node-0002",
                                   "wuhu/train/node-0003"]),  # the maintenance freezes every region
])
def test_no_node_is_replaced_or_deleted_in_a_frozen_region(now: datetime, blocked: list[str]) -> None:
    document = small_plan(node_change("zhongwei/train/node-0001", "replace"),
                          node_change("helinger/train/node-0002", "delete"),
                          node_change("wuhu/train/node-0003", "replace"),
                          node_change("zhongwei/train/node-0009", "create"),
                          node_change("zhongwei/train/node-0004", "update"))
    report = evaluate([shipped("change-freeze")], document, now=now)
    assert [f.address for f in report.findings] == blocked
    assert all(f.blocking for f in report.findings)
    if blocked and now.month == 12:
        assert report.findings[0].message == "would be replaced during the year-end freeze (2026-12-20 to 2027-01-05)"


def test_all_four_shipped_packs_hold_documented_mandatory_policies() -> None:
    for directory in sorted(p for p in PACKS.iterdir() if p.is_dir()):
        pack = load_pack(directory)
        assert pack.description and pack.config, directory
        assert (Path(directory) / "pack.yaml").is_file()
