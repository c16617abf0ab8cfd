"""One connect address per node (grid.resources.connect_ip), whoever connects.

On pools without a `mgmt` fabric whose first fabric is not the first by name, Ansible's ansible_host,
the address `grid ssh` opens, the one `grid check` probes, the hint `grid up` prints and the IP the
existing target pins a host key at are one IP: the pool's first fabric. A node read back from state
(canonical JSON: its fabrics sorted by name) keeps that address.
"""

from __future__ import annotations

import copy
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import yaml

from grid.check import run_checks
from grid.cli.views.outputs import output_lines
from grid.render.ansible import render_ansible
from grid.render.pulumi import region_program_input
from grid.resources import Kind, ResourceGraph, expand, pool_fabrics
from grid.spec.model import Cluster
from grid.state.model import State
from grid.targets.existing import ExistingHostsEngine, existing_nodes, pins_from_state
from grid.workspace import Workspace, open_workspace
from support.cli import grid
from support.fakes import UnreachableRemote
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6SayqSdvsExHGhfB919/SQiDV9V7ZIvSW/GibMHahs"


def without_mgmt(data: dict[str, Any], region: int) -> dict[str, Any]:
    """`data` with region `region`'s `mgmt` fabric renamed `admin` (first by name, listed last by its pools)."""
    data = copy.deepcopy(data)
    spec_region = data["spec"]["regions"][region]
    for fabric in spec_region["fabrics"]:
        if fabric["name"] == "mgmt":
            fabric["name"] = "admin"
    for pool in spec_region["pools"]:
        pool["fabrics"] = [name for name in pool["fabrics"] if name != "mgmt"] + ["admin"]
    return data


def lab_data() -> dict[str, Any]:
    data = without_mgmt(yaml.safe_load((EXAMPLES / "local-lab" / "cluster.yaml").read_text()), 0)
    east = data["spec"]["regions"][0]
    assert east["pools"][0]["fabrics"] == ["compute", "admin"]
    # and a pool listing them the other way round: its first fabric is `admin`
    east["pools"].append({**copy.deepcopy(east["pools"][0]), "name": "cpu", "count": 2, "accelerator": None,
                          "fabrics": ["admin", "compute"]})
    return data


def recorded(graph: ResourceGraph) -> State:
    """The state after an apply of `graph`, as read back from its file (fabrics sorted by name)."""
    return applied_state(graph, host_key=HOST_KEY)


def ansible_hosts(cluster: Cluster, graph: ResourceGraph) -> dict[str, str]:
    """{hostname: ansible_host} of the rendered inventory."""
    inventory = yaml.safe_load(render_ansible(cluster, graph, admin_public_key=KEY)["inventory/hosts.yml"])
    return {hostname: host["ansible_host"] for region in inventory["all"]["children"].values()
            for pool in region.get("children", {}).values() for hostname, host in pool["hosts"].items()}


def test_ansible_check_ssh_and_the_up_hint_use_one_address(tmp_path: Path) -> None:
    cluster = cluster_from(lab_data())
    graph = expand(cluster)
    first_fabric = {"train": "compute", "cpu": "admin", "infer": "mgmt"}  # west's pool is on mgmt
    expected = {n.attrs["hostname"]: n.attrs["fabrics"][first_fabric[n.attrs["pool"]]]
                for n in graph.of_kind(Kind.NODE)}
    assert expected["east-train-0000"] == "198.18.0.2" and expected["east-cpu-0000"] == "198.18.1.4"
    assert ansible_hosts(cluster, graph) == expected

    state = recorded(graph)
    assert list(state.resources["east/train/node-0000"].attrs["fabrics"]) == ["admin", "compute"]
    remote = UnreachableRemote()
    run_checks(graph, state, remote)
    assert remote.addresses == {hostname: {ip} for hostname, ip in expected.items()}

    hint = list(output_lines(state, "cluster.yaml", pool_fabrics(cluster)))[-1]
    assert "grid ssh cluster.yaml east-cpu-0000" in hint and f"root@{expected['east-cpu-0000']} " in hint

    spec = tmp_path / "cluster.yaml"
    spec.write_text(yaml.safe_dump(lab_data()))
    workdir = tmp_path / "work"
    ws = open_workspace(spec, workdir=workdir)
    assert isinstance(ws, Workspace)
    ws.store.write(state, 0)
    (workdir / "secrets").mkdir(mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "secrets" / "id_ed25519")],
                   check=True)
    fake_ssh = tmp_path / "bin" / "ssh"
    fake_ssh.parent.mkdir()
    fake_ssh.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IXUSR)
    for hostname in ("east-train-0001", "east-cpu-0000", "west-infer-0000"):
        run = grid("ssh", str(spec), hostname, "--workdir", str(workdir),
                   env={"PATH": f"{fake_ssh.parent}{os.pathsep}{os.environ['PATH']}"})
        assert run.code == 0, run.output
        assert f"root@{expected[hostname]}" in run.stdout.splitlines(), run.stdout


def test_the_existing_target_pins_a_host_at_the_address_ansible_uses() -> None:
    data = without_mgmt(yaml.safe_load((EXAMPLES / "targets" / "existing.yaml").read_text()), 0)
    data["spec"]["targets"] = {"existing": {"hosts": [
        {"name": "gpu-a", "address": "198.18.101.20", "region": "dc1", "pool": "gpu"},
        {"name": "gpu-b", "address": "198.18.101.21", "region": "dc1", "pool": "gpu"}]}}
    cluster = Cluster.model_validate(data)
    graph = expand(cluster, fixed_hosts=existing_nodes(cluster))
    assert ansible_hosts(cluster, graph) == {"gpu-a": "198.18.101.20", "gpu-b": "198.18.101.21"}  # compute
    pins = pins_from_state(cluster, recorded(graph))
    assert {address: pin.ip for address, pin in pins.items()} == {
        "dc1/gpu/node-0000": "198.18.101.20", "dc1/gpu/node-0001": "198.18.101.21"}
    scanned: list[str] = []

    def scanner(ip: str, port: int, timeout: float) -> str:
        scanned.append(ip)
        return HOST_KEY

    engine = ExistingHostsEngine(pins=lambda: pins, scanner=scanner)
    program = region_program_input(cluster, graph, "dc1", authorized_key="")
    assert engine.preview("dc1", program, refresh=False).steps == {
        "dc1/gpu/node-0000": "same", "dc1/gpu/node-0001": "same"}  # pinned, not new hosts
    assert engine.up("dc1", program).changes == {"create": 0, "same": 2}  # no consent asked again
    assert sorted(scanned) == ["198.18.101.20", "198.18.101.21"]
