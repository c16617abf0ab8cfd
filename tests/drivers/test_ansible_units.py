"""The Ansible driver's pure parts: extra vars per scope, the gate, forks for hosts-table runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.drivers.ansible import Gate, hosts_table_forks, scope_vars


def test_each_scope_names_its_hosts_and_empty_scopes_match_none() -> None:
    assert scope_vars({"b": "full", "a": "full", "c": "hosts"}) == {
        "grid_full": "a,b", "grid_cluster_wide": "!all", "grid_hosts_table": "c"}
    with pytest.raises(ValueError, match="unknown configuration scope"):
        scope_vars({"a": "everything"})


def test_a_gate_says_ready_or_why_not_and_names_its_hosts(tmp_path: Path) -> None:
    gate = Gate(tmp_path, owner=4242)
    gate.open("east-train-0000")
    gate.close("east-train-0001", "region east failed\nsecond line")
    assert gate.path("east-train-0000").read_text() == "ready\n"
    assert gate.path("east-train-0001").read_text() == "region east failed\n"
    assert not list(tmp_path.glob(".*"))  # written whole, then renamed
    assert gate.extravars(["east-train-0000", "east-train-0001"]) == {
        "grid_gated": "east-train-0000,east-train-0001", "grid_gate": str(tmp_path), "grid_gate_owner": "4242"}


@pytest.mark.parametrize(("hosts", "cpus", "forks"), [(16, 2, 4), (16, 8, 16), (200, 64, 64), (2, 8, 2), (3, 1, 3)])
def test_hosts_table_runs_fork_by_the_controllers_cores(hosts: int, cpus: int, forks: int) -> None:
    assert hosts_table_forks(hosts, cpus) == forks
