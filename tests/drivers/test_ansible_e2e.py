"""Real Ansible over real SSH against podman node containers: configure, no-op, drift, repair.

Starts its own nodes (3; GRID_E2E_ANSIBLE_NODES=16 for more) on two podman networks (198.18.0.0/15
only) with a shared volume, pins each node's host key, and runs the rendered playbook through
RunnerAnsible. Timings are printed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grid.drivers.ansible import PlaybookResult, RunnerAnsible
from grid.drivers.podman import CLUSTER_LABEL, CONTAINERS_CONF, Podman
from grid.plan.digests import host_input_digests
from grid.render.ansible import render_ansible
from grid.resources import Kind, ResourceGraph, expand
from grid.spec.model import Cluster, User
from support.specs import free_lab_subnets

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/grid-node:latest"
SYSCTL_FILE = "/etc/sysctl.d/90-grid.conf"


def _containers_conf() -> Path:
    """grid's own containers.conf (shipped in grid.drivers), whatever CONTAINERS_CONF says here."""
    return Path(str(CONTAINERS_CONF))


def _podman() -> Podman:
    return Podman(containers_conf=_containers_conf())


def _wait_for_image(seconds: float = 900) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    deadline = time.monotonic() + seconds
    while not _podman().image_exists(IMAGE):
        if time.monotonic() > deadline:
            pytest.skip(f"{IMAGE} does not exist (built by scripts/setup.sh / images/node/build.sh)")
        time.sleep(5)


SPEC = """
apiVersion: grid/v1
kind: Cluster
metadata: {{name: e2e}}
spec:
  target: local
  regions:
    - name: lab
      site: {{power_mw: 0.1}}
      fabrics:
        - {{name: mgmt, cidr: "{mgmt}", mtu: 1500}}
        - {{name: compute, kind: roce, cidr: "{compute}", mtu: 9000}}
      storage:
        - {{name: pfs, capacity_tib: 1, mount: /shared}}
      pools:
        - {{name: node, count: {count}, fabrics: [mgmt, compute], storage: [pfs], roles: [compute]}}
  configuration:
    roles: [base, fabric, storage-client]
    sysctl: {{net.core.rmem_max: 67108864, vm.swappiness: 10}}
"""


@dataclass
class Lab:
    cluster: Cluster
    graph: ResourceGraph
    key: Path
    public_key: str
    known_hosts: Path
    containers: dict[str, str]  # hostname -> container name
    work: Path
    project: Path

    def render(self, cluster: Cluster | None = None) -> None:
        if cluster is not None:
            self.cluster = cluster
        files = render_ansible(self.cluster, self.graph, admin_public_key=self.public_key)
        shutil.rmtree(self.project, ignore_errors=True)
        for rel, text in files.items():
            path = self.project / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def exec(self, hostname: str, *command: str) -> str:
        return _podman().exec(self.containers[hostname], command).stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _wait_for_image()
    from grid.spec import load_spec_text

    mgmt, compute = map(str, free_lab_subnets(2))
    count = int(os.environ.get("GRID_E2E_ANSIBLE_NODES", "3"))  # e.g. 16 to measure a bigger lab
    loaded = load_spec_text(SPEC.format(mgmt=mgmt, compute=compute, count=count))
    assert loaded.cluster is not None, loaded.diagnostics
    cluster = loaded.cluster
    graph = expand(cluster)
    work = tmp_path_factory.mktemp("ansible-e2e")
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "grid-e2e", "-f", str(key)],
                   check=True)
    public_key = key.with_suffix(".pub").read_text().strip()
    prefix = f"grid-e2e-ansible-{os.getpid()}"
    labels = {CLUSTER_LABEL: prefix}
    podman = _podman()
    containers: dict[str, str] = {}
    try:
        podman.network_create(f"{prefix}-mgmt", mgmt, labels=labels)
        podman.network_create(f"{prefix}-compute", compute, mtu=9000, labels=labels)
        podman.volume_create(f"{prefix}-pfs", labels=labels)
        for node in graph.of_kind(Kind.NODE):
            hostname, ips = node.attrs["hostname"], node.attrs["fabrics"]
            containers[hostname] = f"{prefix}-{node.attrs['index']}"
            podman.container_run(
                containers[hostname], IMAGE, hostname, authorized_key=public_key, labels=labels,
                networks=[(f"{prefix}-mgmt", ips["mgmt"]), (f"{prefix}-compute", ips["compute"])],
                volumes=[(f"{prefix}-pfs", "/shared")])
        lines = []
        for node in graph.of_kind(Kind.NODE):
            name = containers[node.attrs["hostname"]]
            podman.host_public_key(name)  # waits until the node generated its key and starts sshd
            kind, blob = podman.exec(name, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[:2]
            lines.append(f"{node.attrs['fabrics']['mgmt']} {kind} {blob}")
        known_hosts = work / "known_hosts"
        known_hosts.write_text("\n".join(sorted(lines)) + "\n")
        lab = Lab(cluster, graph, key, public_key, known_hosts, containers, work, work / "ansible")
        lab.render()
        yield lab
    finally:
        podman.remove_by_label(CLUSTER_LABEL, prefix)


def _run(lab: Lab, runner: RunnerAnsible, label: str, timings: dict[str, float], *,
         limit: list[str] | None = None, tags: list[str] | None = None,
         check: bool = False) -> PlaybookResult:
    started = time.monotonic()
    result = runner.run(lab.project, private_key=lab.key, known_hosts=lab.known_hosts, limit=limit, tags=tags,
                        check=check)
    timings[label] = round(time.monotonic() - started, 2)
    failures = {h: o.failed_tasks for h, o in result.hosts.items() if not o.ok}
    assert result.ok, f"{label}: rc={result.rc} {failures}\n{result.output_tail}"
    expected = set(limit or lab.containers)
    assert set(result.hosts) == expected, f"{label}: results for {sorted(result.hosts)}"
    return result


def test_configure_noop_drift_repair(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    runner = RunnerAnsible(lab.work / "runs")
    timings: dict[str, float] = {}
    hosts = sorted(lab.containers)

    # Host keys are enforced: with no pinned keys, nothing is reachable.
    empty = lab.work / "empty_known_hosts"
    empty.write_text("")
    refused = runner.run(lab.project, private_key=lab.key, known_hosts=empty)
    assert not refused.ok and len(refused.hosts) == len(hosts)
    assert all(o.unreachable for o in refused.hosts.values())

    # A check run on fresh nodes predicts changes and fails nothing (no user exists yet, etc.).
    preview = _run(lab, runner, "check run (fresh nodes)", timings, check=True)
    assert all("base : Sysctl settings, sudoers and node facts" in o.changed_tasks for o in preview.hosts.values())
    wrote = _podman().exec(lab.containers[hosts[0]], ["test", "-e", "/etc/grid"], check=False)
    assert wrote.returncode != 0, "check mode wrote /etc/grid"

    first = _run(lab, runner, "first run", timings)
    assert all(o.changed > 0 for o in first.hosts.values())

    for node in lab.graph.of_kind(Kind.NODE):
        hostname = node.attrs["hostname"]
        facts = json.loads(lab.exec(hostname, "cat", "/etc/grid/node.json"))
        assert facts["address"] == node.address and facts["hostname"] == hostname
        assert facts["index"] == node.attrs["index"] and facts["pool"] == "node" and facts["region"] == "lab"
        assert {f["name"]: f["ip"] for f in facts["fabrics"]} == node.attrs["fabrics"]
        assert facts["storage"] == [{"mount": "/shared", "name": "pfs"}]
        etc_hosts = lab.exec(hostname, "cat", "/etc/hosts")
        assert "# BEGIN grid cluster e2e" in etc_hosts
        for other in lab.graph.of_kind(Kind.NODE):  # through the region's name server (the lab's default)
            found = lab.exec(hostname, "getent", "hosts", other.attrs["hostname"]).split()
            assert found[:1] == [other.attrs["fabrics"]["mgmt"]], (hostname, other.attrs["hostname"], found)
        assert "net.core.rmem_max = 67108864" in lab.exec(hostname, "cat", SYSCTL_FILE)
        assert lab.exec(hostname, "ls", "-A", "/shared") == ""  # probe files removed

    # The admin user logs in with the cluster key and has passwordless sudo.
    admin = subprocess.run(
        ["ssh", "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", str(lab.key),
         f"gridadmin@{lab.graph.of_kind(Kind.NODE)[0].attrs['fabrics']['mgmt']}", "sudo", "-n", "id", "-u"],
        capture_output=True, text=True, timeout=30)
    assert admin.stdout.strip() == "0", admin.stderr

    noop = _run(lab, runner, "no-op run", timings)
    assert {h: o.changed for h, o in noop.hosts.items()} == dict.fromkeys(hosts, 0), \
        {h: o.changed_tasks for h, o in noop.hosts.items()}

    # Drift: a hand edit of the sysctl file on one node.
    tampered = hosts[1]
    lab.exec(tampered, "sh", "-c", f"echo 'vm.swappiness = 60' >> {SYSCTL_FILE}")
    check = _run(lab, runner, "check run", timings, check=True)
    drifted = {h: o.changed_tasks for h, o in check.hosts.items() if o.changed}
    assert drifted == {tampered: ["base : Sysctl settings, sudoers and node facts"]}
    for outcome in check.hosts.values():  # the storage write probe cannot be verified without writing
        assert outcome.unverifiable_tasks == ["storage-client : Mount points are writable directories: "
                                              "write probe of /shared needs a real write"]
    assert "vm.swappiness = 60" in lab.exec(tampered, "cat", SYSCTL_FILE)  # check mode changed nothing

    repair = _run(lab, runner, "repair run", timings, limit=[tampered])
    assert repair.hosts[tampered].changed_tasks == ["base : Sysctl settings, sudoers and node facts"]
    assert "vm.swappiness = 60" not in lab.exec(tampered, "cat", SYSCTL_FILE)

    # A cluster-wide change (a new user) leaves node digests alone: `--tags cluster-wide` suffices.
    before = host_input_digests(lab.cluster, lab.graph, lab.public_key)
    spec = lab.cluster.spec
    configuration = spec.configuration.model_copy(update={"users": [User(name="alice", sudo=True)]})
    new_spec = spec.model_copy(update={"configuration": configuration})
    lab.render(lab.cluster.model_copy(update={"spec": new_spec}))
    after = host_input_digests(lab.cluster, lab.graph, lab.public_key)
    assert all(before[a][0] == after[a][0] and before[a][1] != after[a][1] for a in before)
    tagged = _run(lab, runner, "cluster-wide run", timings, tags=["cluster-wide"])
    for hostname, outcome in tagged.hosts.items():
        assert "base : Accounts" in outcome.changed_tasks, outcome
        assert "alice ALL=(ALL) NOPASSWD:ALL" in lab.exec(hostname, "cat", "/etc/sudoers.d/grid-users")
    again = _run(lab, runner, "full run after cluster-wide", timings)
    leftover = {h: o.changed_tasks for h, o in again.hosts.items() if o.changed}
    assert not leftover, leftover

    # One run, three scopes: each host runs exactly its play's tasks.
    seen: dict[str, set[str]] = {}
    scopes = dict(zip(hosts, ("full", "cluster-wide", "hosts"), strict=False))
    started = time.monotonic()
    scoped = runner.run(lab.project, private_key=lab.key, known_hosts=lab.known_hosts, scopes=scopes,
                        on_event=lambda host, task, status: seen.setdefault(host, set()).add(task))
    timings["scoped run"] = round(time.monotonic() - started, 2)
    assert scoped.ok and set(scoped.hosts) == set(scopes), scoped
    full, wide, table = (seen[h] for h in hosts[:3])
    assert {"base : Sysctl settings, sudoers and node facts", "base : Accounts", "base : Cluster hosts in /etc/hosts",
            "fabric : Fabric addresses and MTUs"} <= full
    assert "base : Accounts" in wide and "base : Cluster hosts in /etc/hosts" in wide
    assert not {t for t in wide if "Node facts" in t or t.startswith(("fabric", "storage-client"))}, wide
    # The hosts scope under the lab's name service: the records if it is its region's server, else nothing.
    server = {"base : Name records and server configuration", "base : Name server running"}
    assert table - server == {"Name server"}, table

    # What stays is grid's launcher of ansible-playbook (grid.drivers.ansible_playbook), and nothing of any run.
    left = {p.relative_to(lab.work / "runs").as_posix() for p in (lab.work / "runs").rglob("*")}
    assert left == {"ansible-bin", "ansible-bin/ansible-playbook"}, f"runner artifacts left behind: {left}"

    # linear for comparison; its artifacts kept to prove they hold the key's path, never the key.
    linear = RunnerAnsible(lab.work / "kept", strategy="linear", keep_artifacts=True)
    linear_noop = _run(lab, linear, "no-op run (linear)", timings)
    assert all(o.changed == 0 for o in linear_noop.hosts.values())
    secret = "".join(lab.key.read_text().splitlines()[1:-1])[:40]
    kept = [p for p in (lab.work / "kept").rglob("*") if p.is_file()]
    assert kept and not [p for p in kept if secret in p.read_text(errors="replace")]
    with capsys.disabled():
        print(f"\nansible e2e ({len(hosts)} nodes, strategy {runner.strategy}): "
              + ", ".join(f"{k} {v}s" for k, v in timings.items()))
