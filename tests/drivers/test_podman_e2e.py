"""The podman driver against real podman: a 198.18.x network with MTU 9000, a shared volume, two nodes of
the grid node image; SSH from the host with the injected key and the pinned host key; cleanup by label.

Needs podman and the node image (scripts/setup.sh builds it); GRID_NODE_IMAGE picks the image.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grid.drivers.podman import CLUSTER_LABEL, Podman, PodmanError, stable_mac
from support.specs import free_lab_subnets

pytestmark = pytest.mark.e2e

IMAGE = os.environ.get("GRID_NODE_IMAGE", "localhost/grid-node:latest")
MTU = 9000


@dataclass
class Lab:
    podman: Podman
    cluster: str
    network: str
    subnet: ipaddress.IPv4Network
    volume: str
    nodes: dict[str, str]  # hostname -> IP address
    containers: dict[str, str]  # hostname -> container name
    key: Path
    known_hosts: Path

    def ssh(self, hostname: str, command: str, *, known_hosts: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.key), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
                f"root@{self.nodes[hostname]}", command]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {hostname} {command!r} exited {proc.returncode}: {proc.stderr}")
        return proc


def _wait_ssh(lab: Lab, hostname: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        proc = lab.ssh(hostname, "true", check=False)
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"ssh to {hostname} never worked: {proc.stderr}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if shutil.which("podman") is None or shutil.which("ssh") is None:
        pytest.skip("podman or ssh is not installed")
    podman = Podman()
    if not podman.image_exists(IMAGE):
        pytest.skip(f"node image {IMAGE} is missing: run scripts/setup.sh")
    cluster = f"gridtest-podman-{uuid.uuid4().hex[:8]}"
    labels = {CLUSTER_LABEL: cluster, "grid.test": "test_podman_e2e"}
    tmp = tmp_path_factory.mktemp("podman-e2e")
    key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", cluster, "-f", str(key)],
                   check=True, capture_output=True)
    public_key = key.with_suffix(".pub").read_text().strip()
    network, volume = f"{cluster}-fabric", f"{cluster}-shared"
    try:
        for attempt in range(3):  # another test run may take the same subnet between our look and create
            subnet = free_lab_subnets(1)[0]
            try:
                podman.network_create(network, str(subnet), mtu=MTU, labels=labels)
                break
            except PodmanError:
                if attempt == 2:
                    raise
        podman.volume_create(volume, labels=labels)
        hosts = list(subnet.hosts())
        nodes = {"node-0": str(hosts[9]), "node-1": str(hosts[10])}
        containers = {h: f"{cluster}-{h}" for h in nodes}
        for hostname, address in nodes.items():
            podman.container_run(containers[hostname], IMAGE, hostname, networks=[(network, address)],
                                 volumes=[(volume, "/shared")], labels=labels, cpus=1, memory_mb=512,
                                 authorized_key=public_key)
        known_hosts = tmp / "known_hosts"
        pins = [f"{nodes[h]} {podman.host_public_key(containers[h])}\n" for h in nodes]
        known_hosts.write_text("".join(pins))
        result = Lab(podman, cluster, network, subnet, volume, nodes, containers, key, known_hosts)
        for hostname in nodes:
            _wait_ssh(result, hostname)
        yield result
    finally:
        podman.remove_by_label(CLUSTER_LABEL, cluster)
        left = podman.list_by_label(CLUSTER_LABEL, cluster)
        assert left.empty(), f"left behind: {left}"


def test_inspect_reports_what_was_created(lab: Lab) -> None:
    net = lab.podman.network_inspect(lab.network)
    assert net is not None
    assert net["subnets"] == [str(lab.subnet)]
    assert net["mtu"] == MTU
    assert net["labels"][CLUSTER_LABEL] == lab.cluster
    assert lab.podman.volume_exists(lab.volume)
    for hostname, address in lab.nodes.items():
        state = lab.podman.container_inspect(lab.containers[hostname])
        assert state is not None
        assert state["running"] and state["state"] == "running"
        assert state["ips"] == {lab.network: address}
        assert state["hostname"] == hostname
        assert state["labels"][CLUSTER_LABEL] == lab.cluster
    found = lab.podman.list_by_label(CLUSTER_LABEL, lab.cluster)
    assert sorted(found.containers) == sorted(lab.containers.values())
    assert found.networks == [lab.network]
    assert found.volumes == [lab.volume]
    assert lab.podman.container_inspect(f"{lab.cluster}-absent") is None
    assert lab.podman.network_inspect(f"{lab.cluster}-absent") is None


def test_ssh_with_injected_key_and_pinned_host_key(lab: Lab, tmp_path: Path) -> None:
    for hostname in lab.nodes:
        out = lab.ssh(hostname, "hostname; id -u").stdout.split()
        assert out == [hostname, "0"]
    # A different pinned key for the same address must be refused.
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "known_hosts_wrong"
    pub = other.with_suffix(".pub").read_text().split()
    wrong.write_text(f"{lab.nodes['node-0']} {pub[0]} {pub[1]}\n")
    proc = lab.ssh("node-0", "true", known_hosts=wrong, check=False)
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr


def test_shared_volume_is_shared(lab: Lab) -> None:
    token = uuid.uuid4().hex
    lab.ssh("node-0", f"echo {token} > /shared/from-node-0")
    assert lab.ssh("node-1", "cat /shared/from-node-0").stdout.strip() == token


def test_jumbo_frames_on_the_mtu_9000_network(lab: Lab) -> None:
    peer = lab.nodes["node-1"]
    assert f"mtu {MTU}" in lab.ssh("node-0", "ip link show eth0").stdout
    ok = lab.ssh("node-0", f"ping -c 2 -W 2 -M do -s {MTU - 28} {peer}", check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    too_big = lab.ssh("node-0", f"ping -c 1 -W 1 -M do -s {MTU - 27} {peer}", check=False)
    assert too_big.returncode != 0


def test_exec_stop_start(lab: Lab) -> None:
    name = lab.containers["node-1"]
    assert lab.podman.exec(name, ["uname", "-s"]).stdout.strip() == "Linux"
    with pytest.raises(PodmanError) as failed:
        lab.podman.exec(name, ["false"])
    assert "exec" in failed.value.argv and failed.value.returncode == 1
    key_before = lab.podman.host_public_key(name)
    lab.podman.container_stop(name, timeout=5)
    state = lab.podman.container_inspect(name)
    assert state is not None and not state["running"]
    lab.podman.container_start(name)
    assert lab.podman.host_public_key(name) == key_before  # the host key survives a restart
    # The fixed MAC keeps the host's neighbour entry valid: reachable again at once, not after ~45 s.
    assert stable_mac(lab.nodes["node-1"]) in lab.podman.exec(name, ["ip", "link", "show", "eth0"]).stdout
    _wait_ssh(lab, "node-1", timeout=10)


def test_refuses_subnets_outside_the_lab_range(lab: Lab) -> None:
    labels = {CLUSTER_LABEL: lab.cluster}
    with pytest.raises(ValueError):
        lab.podman.network_create(f"{lab.cluster}-bad", "192.0.2.0/24", labels=labels)
    with pytest.raises(ValueError):
        lab.podman.network_create(f"{lab.cluster}-bad", "198.18.0.0/24", labels={"other": "x"})
    assert not lab.podman.network_exists(f"{lab.cluster}-bad")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _bridge(name: str, address: str) -> None:
    """A host bridge holding `address`, as netavark leaves one when a container's teardown never ran."""
    _ip("link", "add", name, "type", "bridge")
    _ip("addr", "add", address, "dev", name)
    _ip("link", "set", name, "up")


def _link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="host bridges are podman's only when it runs as root")
def test_a_bridge_left_behind_on_the_host_never_blocks_its_subnet(lab: Lab) -> None:
    labels = {CLUSTER_LABEL: lab.cluster}
    subnet = free_lab_subnets(1)[0]
    gateway = f"{subnet.network_address + 1}/{subnet.prefixlen}"
    leftover, foreign = f"podman{random.randint(900, 999)}", f"gridkeep{random.randint(0, 99)}"
    name = f"{lab.cluster}-heal"
    try:
        # Someone else's bridge on the subnet is left alone, and the refusal is podman's own.
        _bridge(foreign, gateway)
        with pytest.raises(PodmanError, match="already used on the host"):
            lab.podman.network_create(name, str(subnet), labels=labels)
        assert _link_exists(foreign)
        _ip("link", "delete", foreign)

        # netavark's bridge that no network uses any more is cleared, and the network is made.
        _bridge(leftover, gateway)
        lab.podman.network_create(name, str(subnet), labels=labels)
        assert not _link_exists(leftover) and lab.podman.network_exists(name)

        # Removing a network removes its bridge even when a container on it was never torn down.
        state = lab.podman.network_inspect(name)
        assert state is not None and state["interface"]
        _bridge(state["interface"], gateway)
        assert lab.podman.network_rm(name)
        assert not _link_exists(state["interface"])
    finally:
        for link in (foreign, leftover):
            if _link_exists(link):
                _ip("link", "delete", link)
        lab.podman.network_rm(name)
