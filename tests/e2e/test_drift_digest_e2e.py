"""Drift by digest on a running local cluster: every tampering of test_drift.py is found with the same report as
the playbook's check mode on every host (`grid drift --full-check`, the oracle); a change outside grid's files is
not reported; a clean cluster is reported clean without check mode on any host (the work directory's
drift-probe.json says which hosts went to check mode)."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_drift import CASES, container, podman

from support.cli import brought_up, grid
from support.specs import lab_spec, used_subnets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ipaddress.IPv4Network("198.19.96.0/20")  # this file's own range: no other test's labs are there
CONFIGURATION = [case for case, (_, _, kind) in CASES.items() if kind == "configuration"]
EXTRA_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ax by-hand"
RESOURCES = [case for case, (_, _, kind) in CASES.items() if kind == "resource"]


def _own_name_and_subnets(name: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["metadata"]["name"] = name
        used = used_subnets()
        free = (net for net in SUBNETS.subnets(new_prefix=24) if not any(net.overlaps(u) for u in used))
        for region in data["spec"]["regions"]:
            for fabric in region["fabrics"]:
                fabric["cidr"] = str(next(free))
    return edit


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    name = "dd" + uuid.uuid4().hex[:6]
    spec, _ = lab_spec(tmp_path_factory.mktemp("drift-digest"), edit=_own_name_and_subnets(name))
    with brought_up(spec, "--skip-check"):
        yield spec, name


def drift(spec: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    run = grid("drift", str(spec), "--json", "--detailed-exitcode", *extra)
    assert run.code in (0, 2), run.output
    return run.code, json.loads(run.stdout)


def probe_log(spec: Path, name: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads((spec.parent / ".grid" / name / "drift-probe.json").read_text())
    return log


def node_sh(name: str, address: str, script: str) -> None:
    podman("exec", container(name, address), "sh", "-c", script)


def test_clean_cluster_is_clean_without_check_mode(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    code, report = drift(spec)
    assert code == 0, report
    log = probe_log(spec, name)
    assert log["checked"] == [] and log["not_covered"] == [] and log["differ"] == {}, log
    assert len(log["clean"]) == 4, log
    assert drift(spec, "--full-check") == (code, report)  # the unverifiable write probes included


def test_changes_outside_grids_files_are_not_reported(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    for address in ("east/train/node-0000", "west/infer/node-0001"):
        node_sh(name, address, "echo hello > /tmp/not-grids && echo '# local' >> /etc/motd "
                "&& echo '10.9.9.9 elsewhere' >> /etc/hosts && mkdir -p /usr/share/doc/x && : > /usr/share/doc/x/y")
    code, report = drift(spec)
    assert code == 0, report
    assert probe_log(spec, name)["checked"] == []


def _same_reports(spec: Path, expected: dict[str, str]) -> dict[str, Any]:
    code, report = drift(spec, "--full-check")
    assert code == 2, report
    oracle = report
    code, report = drift(spec)
    assert code == 2, report
    assert report == oracle
    found = {(item["address"], item["kind"]) for item in report["items"]}
    for case, address in expected.items():
        assert (address, CASES[case][2]) in found, f"{case}: {address} not in {found}"
    return report


@pytest.mark.parametrize("cases", [CONFIGURATION, RESOURCES], ids=["configuration", "resources"])
def test_every_tampering_is_found_as_check_mode_finds_it(cluster: tuple[Path, str], cases: list[str]) -> None:
    spec, name = cluster
    for case in cases:
        CASES[case][0](name)
    _same_reports(spec, {case: CASES[case][1] for case in cases})
    if cases == CONFIGURATION:
        # Only the tampered hosts went to check mode.
        assert sorted(probe_log(spec, name)["checked"]) == sorted(
            address.replace("/node-", "-").replace("/", "-") for address in
            (CASES[case][1] for case in cases)), probe_log(spec, name)
    run = grid("up", str(spec), "--yes")
    assert run.code == 0, run.output
    code, report = drift(spec)
    assert code == 0, f"still drifted after grid up: {report}"


def test_kinds_beyond_test_drift_are_found_too(cluster: tuple[Path, str]) -> None:
    """A key added by hand and a sudoers file's mode: kinds test_drift.py does not tamper with."""
    spec, name = cluster
    node_sh(name, "east/train/node-0000", f"echo '{EXTRA_KEY}' >> /home/gridadmin/.ssh/authorized_keys")
    node_sh(name, "west/infer/node-0000", "chmod 0444 /etc/sudoers.d/grid-admin")
    code, oracle = drift(spec, "--full-check")
    assert code == 2, oracle
    assert drift(spec) == (code, oracle)
    assert {i["address"] for i in oracle["items"]} == {"east/train/node-0000", "west/infer/node-0000"}, oracle
    assert grid("up", str(spec), "--yes").code == 0
    assert drift(spec)[0] == 0
