"""Target `existing` end to end: two node containers started here stand for machines grid did not create.

`grid up` refuses hosts it has never seen and names them with the fingerprints it saw; with
`--trust-new-hosts` it pins their keys and configures them with the usual playbooks; a file changed by
hand on one is found by `grid drift` and put back by `grid up`; a host whose key changed is refused even
with the flag; `grid destroy` forgets the hosts and leaves them running.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.drivers.podman import Podman
from grid.targets.existing import fingerprint
from support.cli import grid
from support.specs import lab_spec

pytestmark = pytest.mark.e2e

IMAGE = os.environ.get("GRID_NODE_IMAGE_EXISTING", "localhost/grid-node:latest")


def as_existing(data: dict[str, Any]) -> None:
    """The lab's east region only, on its mgmt fabric, with two listed hosts at .10 and .11 of it."""
    east = data["spec"]["regions"][0]
    mgmt = next(f for f in east["fabrics"] if f["name"] == "mgmt")
    net = ipaddress.IPv4Network(mgmt["cidr"])
    pool = east["pools"][0]
    pool.update(fabrics=["mgmt"], storage=[])
    pool.pop("resources", None)
    east.update(fabrics=[mgmt], storage=[])
    data["spec"].update(target="existing", regions=[east], targets={"existing": {"hosts": [
        {"name": "gpu-a", "address": str(net[10]), "region": "east", "pool": pool["name"]},
        {"name": "gpu-b", "address": str(net[11]), "region": "east", "pool": pool["name"]}]}})
    data["spec"].pop("links", None)


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """The spec, the cluster name and {host name: its real host key}; the containers go at the end."""
    spec, name = lab_spec(tmp_path, edit=as_existing)
    secrets = spec.parent / ".grid" / name / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"grid-{name}", "-f",
                    str(secrets / "id_ed25519")], check=True)  # grid reuses a key pair it finds there
    public = (secrets / "id_ed25519.pub").read_text().strip()
    data = yaml.safe_load(spec.read_text())
    cidr = data["spec"]["regions"][0]["fabrics"][0]["cidr"]
    podman, network = Podman(), f"{name}-machines"
    labels = {"grid.cluster": f"{name}-machines"}  # not the cluster's own label: grid did not make these
    keys: dict[str, str] = {}
    try:
        podman.network_create(network, subnet=cidr, gateway=str(ipaddress.IPv4Network(cidr)[1]), labels=labels)
        for host in data["spec"]["targets"]["existing"]["hosts"]:
            container = f"{name}-{host['name']}"
            podman.container_run(container, IMAGE, host["name"], [(network, host["address"])], labels=labels,
                                 authorized_key=public)
            keys[host["name"]] = podman.host_public_key(container)
        yield spec, name, keys
    finally:
        grid("destroy", str(spec), "--yes")
        podman.remove_by_label("grid.cluster", f"{name}-machines")


def state(spec: Path, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((spec.parent / ".grid" / name / "state.json").read_text())["state"]
    return result


def test_existing_hosts_are_pinned_with_consent_configured_and_kept_true(
        machines: tuple[Path, str, dict[str, str]]) -> None:
    spec, name, keys = machines
    podman = Podman()

    refused = grid("up", str(spec), "--yes")
    assert refused.code == 1, refused.output
    assert "2 host(s) not trusted yet" in refused.output and "--trust-new-hosts" in refused.output
    for host, key in keys.items():
        assert f"{host} (" in refused.output and fingerprint(key) in refused.output
    assert not [r for r in state(spec, name)["resources"].values() if r["kind"] == "node"]

    trusted = grid("up", str(spec), "--yes", "--trust-new-hosts")
    assert trusted.code == 0, trusted.output
    assert "2/2 node(s) pass" in trusted.output
    pinned = {r["attrs"]["hostname"]: r["outputs"]["host_key"] for r in state(spec, name)["resources"].values()
              if r["kind"] == "node"}
    assert pinned == keys
    assert {h["status"] for h in state(spec, name)["hosts"].values()} == {"configured"}
    assert "No changes" in grid("up", str(spec), "--yes").stdout

    podman.exec(f"{name}-gpu-b", ["sh", "-c", "echo '# edited by hand' >> /etc/grid/node.json"])
    drift = grid("drift", str(spec), "--detailed-exitcode")
    assert drift.code == 2, drift.output
    assert "east/train/node-0001 (configuration)" in drift.output and "node-0000" not in drift.output
    repaired = grid("up", str(spec), "--yes")
    assert repaired.code == 0, repaired.output
    assert "1 host(s) to configure" in repaired.output and "gpu-b" in repaired.output
    assert "edited by hand" not in podman.exec(f"{name}-gpu-b", ["cat", "/etc/grid/node.json"]).stdout
    assert grid("drift", str(spec), "--detailed-exitcode").code == 0

    podman.exec(f"{name}-gpu-a", ["sh", "-c", "rm -f /etc/ssh/ssh_host_ed25519_key* && "
                                  "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key"])
    impostor = grid("up", str(spec), "--yes", "--refresh", "--trust-new-hosts")
    assert impostor.code == 1, impostor.output
    assert "HOST KEY CHANGED" in impostor.output and "gpu-a (" in impostor.output

    forgotten = grid("destroy", str(spec), "--yes")
    assert forgotten.code == 0, forgotten.output
    assert not state(spec, name)["resources"]
    for host in keys:
        info = podman.container_inspect(f"{name}-{host}")
        assert info is not None and info["running"], f"{host} must be left as it was"
