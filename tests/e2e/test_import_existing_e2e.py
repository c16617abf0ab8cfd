"""`grid import` of hosts that already run: three containers started here without grid stand for machines
(two with two H100 stand-ins, one with four Ascend 910B stand-ins), and an address where nothing answers.

Without --trust-new-hosts nothing is written and the fingerprints are listed. With it: a spec and a state
such that `grid plan` is empty, `grid drift` clean and `grid check` passing, the hosts' /etc unchanged, the
dead address reported and the others imported; an import onto that state is refused, and --merge adds a host
that came up since, leaving every record there as it was.
"""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.drivers.podman import Podman
from grid.targets.existing import fingerprint
from support.cli import grid
from support.specs import used_subnets

pytestmark = pytest.mark.e2e

IMAGE = "localhost/grid-node:latest"
SLICE = ipaddress.IPv4Network("198.19.48.0/20")  # this test's share of the lab range
HOSTS = {"gpu-a": (10, "h100-sxm 2"), "gpu-b": (11, "h100-sxm 2"), "npu-a": (12, "ascend-910b 4")}
LATE = ("cpu-a", 13)  # nothing answers there until the --merge test starts it
ETC_DIGEST = "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum"


@dataclass(frozen=True)
class Machines:
    root: Path
    name: str
    net: ipaddress.IPv4Network
    public_key: str
    keys: dict[str, str]  # host name -> its host key

    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    def workdir(self, label: str) -> Path:
        """A work directory holding the key the hosts accept (grid import logs in with it)."""
        path = self.root / label
        if not path.exists():
            (path / "secrets").mkdir(parents=True, mode=0o700)
            for part in ("id_ed25519", "id_ed25519.pub"):
                shutil.copy(self.root / "key" / part, path / "secrets" / part)
        return path


def _start(podman: Podman, machines: Machines, host: str, octet: int) -> None:
    podman.container_run(machines.container(host), IMAGE, host, [(f"{machines.name}-net", str(machines.net[octet]))],
                         labels={"grid.cluster": f"{machines.name}-machines"}, authorized_key=machines.public_key)
    machines.keys[host] = podman.host_public_key(machines.container(host))


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machines]:
    root = tmp_path_factory.mktemp("import")
    (root / "key").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "grid-import-test", "-f",
                    str(root / "key" / "id_ed25519")], check=True)
    used = used_subnets()
    free = [n for n in SLICE.subnets(new_prefix=24) if not any(n.overlaps(u) for u in used)]
    assert free, f"no free /24 in {SLICE}"
    name = "ix" + uuid.uuid4().hex[:6]
    found = Machines(root, name, random.choice(free), (root / "key" / "id_ed25519.pub").read_text().strip(), {})
    podman = Podman()
    try:
        podman.network_create(f"{name}-net", subnet=str(found.net), gateway=str(found.net[1]),
                              labels={"grid.cluster": f"{name}-machines"})
        for host, (octet, accelerators) in HOSTS.items():
            _start(podman, found, host, octet)
            podman.exec(found.container(host), ["sh", "-c", f"mkdir -p /etc/grid && echo '{accelerators}' "
                                                            "> /etc/grid/accelerators"])
        yield found
    finally:
        podman.remove_by_label("grid.cluster", f"{name}-machines")


def _inventory(machines: Machines) -> Path:
    lines = ["[gpu]"] + [f"{h} ansible_host={machines.net[o]}" for h, (o, _) in HOSTS.items()]
    lines += ["[late]", f"{LATE[0]} ansible_host={machines.net[LATE[1]]}"]
    path = machines.root / "hosts.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def _etc(machines: Machines, host: str) -> str:
    return Podman().exec(machines.container(host), ["sh", "-c", ETC_DIGEST]).stdout


def _state(workdir: Path) -> dict[str, Any]:
    return dict(json.loads((workdir / "state.json").read_text())["state"])


def test_hosts_not_trusted_yet_are_listed_and_nothing_is_written(machines: Machines) -> None:
    workdir, out = machines.workdir("untrusted"), machines.root / "untrusted.yaml"
    cidr = ipaddress.IPv4Network(f"{machines.net[8]}/29")  # .8-.15: the three hosts and the dead address
    refused = grid("import", "--out", str(out), "--probe", str(cidr), "--cluster", machines.name,
                   "--workdir", str(workdir))
    assert refused.code == 1, refused.output
    assert "nothing was imported" in refused.output and "--trust-new-hosts" in refused.output
    for host, key in machines.keys.items():
        assert fingerprint(key) in refused.output, host
    assert not out.exists() and not (workdir / "state.json").exists()
    too_wide = grid("import", "--out", str(out), "--probe", "198.16.0.0/12", "--workdir", str(workdir))
    assert too_wide.code == 1 and "at most a /20" in too_wide.output


def test_import_writes_a_spec_and_state_that_plan_nothing_and_drift_clean(machines: Machines) -> None:
    workdir, spec = machines.workdir("imported"), machines.root / "cluster.yaml"
    before = {host: _etc(machines, host) for host in HOSTS}

    imported = grid("import", "--out", str(spec), "--inventory", str(_inventory(machines)), "--cluster",
                    machines.name, "--workdir", str(workdir), "--trust-new-hosts")
    assert imported.code == 0, imported.output
    assert f"warning: {LATE[0]} ({machines.net[LATE[1]]}:22): unreachable" in imported.stderr
    text = spec.read_text()
    assert "NOT IMPORTED" in text and "GUESSED: grid cannot see the facility" in text and "manage: false" in text
    data = yaml.safe_load(text)["spec"]
    pools = {h["name"]: h["pool"] for h in data["targets"]["existing"]["hosts"]}
    assert pools == {"gpu-a": "h100-sxm-x2", "gpu-b": "h100-sxm-x2", "npu-a": "ascend-910b-x4"}
    models = {p["name"]: (p["accelerator"]["model"], p["accelerator"]["per_node"]) for p in data["regions"][0]["pools"]}
    assert models == {"h100-sxm-x2": ("h100-sxm", 2), "ascend-910b-x4": ("ascend-910b", 4)}
    state = _state(workdir)
    pinned = {r["attrs"]["hostname"]: r["outputs"]["host_key"] for r in state["resources"].values()
              if r["kind"] == "node"}
    assert pinned == {h: machines.keys[h] for h in HOSTS}
    assert "PRIVATE KEY" not in (workdir / "state.json").read_text() + text

    assert grid("validate", str(spec)).code == 0
    plan = grid("plan", str(spec), "--workdir", str(workdir), "--detailed-exitcode")
    assert plan.code == 0 and "No changes" in plan.stdout, plan.output
    drift = grid("drift", str(spec), "--workdir", str(workdir), "--detailed-exitcode")
    assert drift.code == 0, drift.output
    checked = grid("check", str(spec), "--workdir", str(workdir))  # pinned keys, fabric up, MTU, peers
    assert checked.code == 0 and "3/3 node(s) pass" in checked.output, checked.output
    assert {host: _etc(machines, host) for host in HOSTS} == before, "grid import changed /etc on a host"

    recorded = (workdir / "state.json").read_bytes()
    again = grid("import", "--out", str(machines.root / "other.yaml"), "--inventory", str(_inventory(machines)),
                 "--cluster", machines.name, "--workdir", str(workdir), "--trust-new-hosts")
    assert again.code == 1 and "already has a state" in again.output and "--merge" in again.output
    assert (workdir / "state.json").read_bytes() == recorded and not (machines.root / "other.yaml").exists()

    _start(Podman(), machines, *LATE)  # the dead address comes up: --merge adds it, keeping the rest
    merged = grid("import", "--out", str(spec), "--inventory", str(_inventory(machines)), "--workdir",
                  str(workdir), "--trust-new-hosts", "--merge")
    assert merged.code == 0, merged.output
    assert "gpu-a" in merged.stdout and "already in" in merged.stdout
    after = _state(workdir)
    assert {a: r for a, r in after["resources"].items() if a in state["resources"]} == state["resources"]
    assert any(r["attrs"].get("hostname") == LATE[0] for r in after["resources"].values())
    plan = grid("plan", str(spec), "--workdir", str(workdir), "--detailed-exitcode")
    assert plan.code == 0 and "No changes" in plan.stdout, plan.output
