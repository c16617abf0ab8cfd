"""The accounts action (action_plugins/grid_accounts.py): which accounts it removes, from what a node says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

PLUGINS = Path(__file__).resolve().parents[2] / "templates" / "ansible" / "action_plugins"


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grid_accounts", PLUGINS / "grid_accounts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_listed_existing_unwanted_accounts_are_removed() -> None:
    plugin = _plugin()
    listed, existing = plugin.parse_listing("gridadmin present\r\nalice present\nbob absent\nops present\n\n")
    assert listed == ["alice", "bob", "gridadmin", "ops"] and existing == {"gridadmin", "alice", "ops"}
    # bob is gone already; ops is the account grid connects as: kept; carol was never grid's.
    assert plugin.stale_accounts(listed, existing, ["carol", "gridadmin"], {"root", "ops"}) == ["alice"]


def test_a_node_without_the_list_has_nothing_to_remove() -> None:
    plugin = _plugin()
    listed, existing = plugin.parse_listing(plugin.MISSING + "\n")
    assert listed is None and existing == set()
    assert plugin.stale_accounts(listed, existing, ["gridadmin"], {"root"}) == []
