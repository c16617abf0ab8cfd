"""Drift by digest on a running local cluster: every tampering of test_drift.py is found with the same report as
the playbook's check mode on every host (`grid drift --full-check`, the oracle); a change outside grid's files is
not reported; a clean cluster is reported clean without check mode on any host (the work directory's
drift-probe.json says which hosts went to check mode).

A second lab has every role that has digests beyond those: Slurm (a controller, two train nodes), a network policy,
the spec's own limits and a script run once, node-local scratch with its mode. What test_slurm_drift_e2e.py and a
hand-edited policy, limits file, script marker or scratch mode do there is found as check mode finds it; a
converged cluster of this kind too runs check mode on no host.

GRID_DRIFT_DIGEST_E2E_PREFIX and GRID_DRIFT_DIGEST_E2E_SUBNETS give the clusters' name prefix and the /20 their
fabrics take /24s from (a session sharing the machine keeps to its own)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_drift import CASES, container, podman

from support.cli import brought_up, grid
from support.paths import EXAMPLES
from support.specs import lab_spec, used_subnets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# This file's own range: no other test's labs are there.
SUBNETS = ipaddress.IPv4Network(os.environ.get("GRID_DRIFT_DIGEST_E2E_SUBNETS", "198.19.96.0/20"))
PREFIX = os.environ.get("GRID_DRIFT_DIGEST_E2E_PREFIX", "dd")
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
    name = PREFIX + uuid.uuid4().hex[:6]
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


# -- every role with digests: Slurm, a network policy, own limits and scripts, scratch with a mode --------------

CTL, TRAIN = "lab-ctl-0000", ["lab-train-0000", "lab-train-0001"]
SCRIPT = "scripts/ready.sh"
SCRATCH = "/mnt/scratch"


def _everything(name: str) -> Any:
    own = _own_name_and_subnets(name)

    def edit(data: dict[str, Any]) -> None:
        region = data["spec"]["regions"][0]
        region["pools"] = [p for p in region["pools"] if p["name"] != "infer"]
        region["pools"][1]["count"] = 2
        for pool in region["pools"]:
            pool["storage"] = ["scratch"] if pool["name"] == "train" else []
        region["storage"] = [{"name": "scratch", "kind": "local-scratch", "mounts": [{"path": SCRATCH,
                                                                                     "mode": "1777"}]}]
        scheduler = data["spec"]["scheduler"]
        scheduler["partitions"] = [p for p in scheduler["partitions"] if p["name"] == "train"]
        data["spec"]["access"] = {"admin_cidrs": ["198.18.0.0/15"]}
        compute = next(f for f in region["fabrics"] if f["name"] == "compute")
        compute["ingress"] = [{"ports": [29500], "protocol": "tcp", "from": ["pool:train"]}]
        data["spec"]["configuration"] = {"limits": {"nofile": 65536},
                                         "scripts": [{"run": SCRIPT, "when": "once"}]}
        own(data)
    return edit


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    name = PREFIX + uuid.uuid4().hex[:6]
    directory = tmp_path_factory.mktemp("drift-digest-roles")
    (directory / "scripts").mkdir()
    (directory / SCRIPT).write_text("#!/bin/sh\necho ready > /var/tmp/grid-ready\n")
    spec, _ = lab_spec(directory, source=EXAMPLES / "slurm" / "cluster.yaml", edit=_everything(name))
    with brought_up(spec, "--skip-check"):
        yield spec, name


def on(name: str, host: str, command: str) -> str:
    done = subprocess.run(["podman", "exec", f"grid-{name}-{host}", "sh", "-c", command], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, f"{host}: {command}\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def test_a_converged_cluster_of_every_role_runs_no_check_mode(configured: tuple[Path, str]) -> None:
    spec, name = configured
    code, report = drift(spec)
    assert code == 0, report
    log = probe_log(spec, name)
    assert log["checked"] == [] and log["not_covered"] == [] and len(log["clean"]) == 3, log
    assert drift(spec, "--full-check") == (code, report)
    # Outside grid's files: another table, another limits file, another Slurm file, another marker.
    for host in (CTL, *TRAIN):
        on(name, host, "nft add table inet mine && echo '* soft core 0' > /etc/security/limits.d/50-mine.conf "
           "&& echo '# mine' > /etc/slurm/plugstack.conf && : > /var/lib/grid/scripts/mine")
    code, report = drift(spec)
    assert code == 0, report
    assert probe_log(spec, name)["checked"] == []


def test_every_roles_tampering_is_found_as_check_mode_finds_it(configured: tuple[Path, str]) -> None:
    spec, name = configured
    marker = f"/var/lib/grid/scripts/{SCRIPT.replace('/', '_')}.*"
    on(name, TRAIN[0], "echo '# by hand' >> /etc/nftables.conf && chmod 0755 " + SCRATCH
       + " && head -c 1024 /dev/urandom > /etc/munge/munge.key")
    on(name, TRAIN[1], "echo '* hard nofile 1' >> /etc/security/limits.d/90-grid.conf "
       "&& kill -9 $(cat /run/slurmd.pid)")
    on(name, CTL, f"rm -f {marker} && echo 'MaxJobCount=7' >> /etc/slurm/slurm.conf "
       "&& scontrol update NodeName=lab-train-0000 State=DRAIN Reason=hand")
    report = _same_reports(spec, {})
    assert {i["address"] for i in report["items"]} == {"lab/ctl/node-0000", "lab/train/node-0000",
                                                       "lab/train/node-0001"}, report
    assert sorted(probe_log(spec, name)["differ"]) == sorted([CTL, *TRAIN])
    # The munge key was compared, by a digest keyed for that run only: neither it nor its plain digest is logged.
    key = (spec.parent / ".grid" / name / "secrets" / "munge.key").read_bytes()
    logged = (spec.parent / ".grid" / name / "drift-probe.json").read_text()
    assert "munge:/etc/munge/munge.key" in logged and hashlib.sha256(key).hexdigest() not in logged
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    code, report = drift(spec)
    assert code == 0, f"still drifted after grid up: {report}"
    assert probe_log(spec, name)["checked"] == []


def test_a_stopped_slurmctld_and_no_nftables_are_found_as_check_mode_finds_them(
        configured: tuple[Path, str]) -> None:
    spec, name = configured
    on(name, CTL, "kill $(cat /run/slurmctld.pid); for i in $(seq 60); do "
       "[ \"$(/usr/local/sbin/grid-daemon status slurmctld)\" = down ] && break; sleep 0.5; done")
    on(name, TRAIN[1], "mv /usr/sbin/nft /usr/sbin/nft.away")
    try:
        code, oracle = drift(spec, "--full-check")
        assert code == 2, oracle
        assert drift(spec) == (code, oracle)
        assert probe_log(spec, name)["checked"] == [CTL, TRAIN[1]], probe_log(spec, name)
    finally:
        on(name, TRAIN[1], "mv /usr/sbin/nft.away /usr/sbin/nft")
    assert grid("up", str(spec), "--yes", "--skip-check").code == 0
    assert drift(spec)[0] == 0
