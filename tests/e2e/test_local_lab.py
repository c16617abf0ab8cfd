"""`grid up` of the local example on the real Pulumi engine, podman and Ansible, then `grid destroy`.

What a user would check by hand: every node answers over SSH with its pinned host key, its facts file
is right, nodes of a fabric reach each other with the spec's MTU, shared storage is shared, and after
destroy nothing of the cluster is left.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.cli import grid
from support.specs import lab_spec

pytestmark = pytest.mark.e2e


def podman_names(cluster: str) -> dict[str, list[str]]:
    selector = f"label=grid.cluster={cluster}"
    listings = {
        "containers": ["podman", "ps", "-a", "--filter", selector, "--format", "{{.Names}}"],
        "networks": ["podman", "network", "ls", "--filter", selector, "--format", "{{.Name}}"],
        "volumes": ["podman", "volume", "ls", "--filter", selector, "--format", "{{.Name}}"],
    }
    return {kind: subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
            for kind, argv in listings.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict]]:
    spec, name = lab_spec(tmp_path_factory.mktemp("lab"))
    try:
        run = grid("up", str(spec), "--yes")
        assert run.code == 0, run.output
        state = json.loads((spec.parent / ".grid" / name / "state.json").read_text())
        yield spec, name, state
    finally:
        grid("destroy", str(spec), "--yes")


def ssh(spec: Path, name: str, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    workdir = spec.parent / ".grid" / name
    argv = ["ssh", "-F", "/dev/null", "-i", str(workdir / "secrets" / "id_ed25519"), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={workdir / 'known_hosts'}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", f"root@{ip}", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def nodes(state: dict) -> list[dict]:
    return [r for r in state["state"]["resources"].values() if r["kind"] == "node"]


def test_every_node_answers_with_its_pinned_host_key_and_right_facts(cluster: tuple[Path, str, dict]) -> None:
    spec, name, state = cluster
    assert len(nodes(state)) == 4
    for node in nodes(state):
        ip = next(iter(node["attrs"]["fabrics"].values()))
        done = ssh(spec, name, ip, "hostname; cat /etc/grid/node.json")
        assert done.returncode == 0, done.stderr
        hostname, facts_text = done.stdout.split("\n", 1)
        assert hostname == node["attrs"]["hostname"]
        facts = json.loads(facts_text)
        assert facts["address"] == node["address"]
        assert facts["pool"] == node["attrs"]["pool"]
        assert facts["accelerators"] == node["attrs"]["accelerators"]
        assert node["outputs"]["host_key"].startswith("ssh-ed25519 ")


def test_a_wrong_host_key_is_refused(cluster: tuple[Path, str, dict], tmp_path: Path) -> None:
    spec, name, state = cluster
    node = nodes(state)[0]
    ip = next(iter(node["attrs"]["fabrics"].values()))
    impostor = tmp_path / "known_hosts"
    other = next(n for n in nodes(state) if n["address"] != node["address"])
    kind, blob = other["outputs"]["host_key"].split()[:2]
    impostor.write_text(f"{ip} {kind} {blob}\n")
    workdir = spec.parent / ".grid" / name
    done = subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(workdir / "secrets" / "id_ed25519"), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={impostor}", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=yes", f"root@{ip}", "true"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in done.stderr or "verification failed" in done.stderr


def test_fabric_peers_reach_each_other_at_full_mtu(cluster: tuple[Path, str, dict]) -> None:
    spec, name, state = cluster
    data = yaml.safe_load(spec.read_text())
    mtus = {(r["name"], f["name"]): f.get("mtu", 1500) for r in data["spec"]["regions"] for f in r["fabrics"]}
    for node in nodes(state):
        region = node["address"].split("/")[0]
        for fabric, ip in node["attrs"]["fabrics"].items():
            peers = [n["attrs"]["fabrics"][fabric] for n in nodes(state)
                     if n["address"].startswith(region + "/") and fabric in n["attrs"]["fabrics"]
                     and n["address"] != node["address"]]
            size = mtus[(region, fabric)] - 28
            for peer in peers:
                done = ssh(spec, name, ip, f"ping -c 2 -W 3 -M do -s {size} {peer}")
                assert done.returncode == 0, f"{node['address']} -> {peer} on {fabric}: {done.stdout}"


def test_shared_storage_is_shared(cluster: tuple[Path, str, dict]) -> None:
    spec, name, state = cluster
    east = sorted((n for n in nodes(state) if n["address"].startswith("east/")), key=lambda n: n["address"])
    first, second = (next(iter(n["attrs"]["fabrics"].values())) for n in east[:2])
    assert ssh(spec, name, first, "echo written-on-first > /shared/e2e-probe").returncode == 0
    read = ssh(spec, name, second, "cat /shared/e2e-probe")
    assert read.stdout.strip() == "written-on-first"


def test_noop_up_changes_nothing(cluster: tuple[Path, str, dict]) -> None:
    spec, _, _ = cluster
    run = grid("up", str(spec), "--yes")
    assert run.code == 0, run.output
    assert "No changes" in run.stdout


def test_destroy_leaves_nothing(tmp_path: Path) -> None:
    spec, name = lab_spec(tmp_path)
    assert grid("up", str(spec), "--yes", "--skip-check").code == 0
    assert not all(not v for v in podman_names(name).values())
    run = grid("destroy", str(spec), "--yes")
    assert run.code == 0, run.output
    assert podman_names(name) == {"containers": [], "networks": [], "volumes": []}
    stacks = spec.parent / ".grid" / name / "pulumi-backend" / ".pulumi" / "stacks"
    assert not list(stacks.rglob("*.json")), "Pulumi stacks should be removed"
