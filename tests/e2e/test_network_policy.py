"""The spec's network policy on a running lab: nftables on the nodes lets a declared port through from a
peer and drops an undeclared one; SSH is limited to access.admin_cidrs without locking grid out; a fabric
without ingress stays open; `grid check` reports the policy. One lab of 2 nodes for the whole story."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import brought_up, grid
from support.specs import small_lab

pytestmark = pytest.mark.e2e

SERVER, CLIENT = "east/train/node-0000", "east/train/node-0001"
ALLOWED, UNDECLARED = 8080, 8081


def _policy(data: dict[str, Any]) -> None:
    data["spec"]["regions"][0]["pools"][0]["resources"] = {"cpus": 0.25, "memory_gb": 0.25}
    data["spec"]["access"] = {"admin_cidrs": []}  # SSH from grid's own address only
    fabrics = data["spec"]["regions"][0]["fabrics"]
    compute = next(f for f in fabrics if f["name"] == "compute")
    compute["ingress"] = [{"ports": [ALLOWED, "9000-9100"], "protocol": "tcp", "from": ["pool:train"]}]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    spec, _ = small_lab(tmp_path_factory.mktemp("network-policy"), edit=_policy)
    fabrics = {f["name"]: f["cidr"] for f in yaml.safe_load(spec.read_text())["spec"]["regions"][0]["fabrics"]}
    with brought_up(spec):  # `up` ends with `grid check`: the policy probes pass, or up fails
        yield spec, fabrics


def _on(spec: Path, node: str, command: str) -> tuple[int, str]:
    done = grid("ssh", str(spec), node, "--", command, timeout=120)  # ssh hands it to the node's shell
    return done.code, done.output


def _server_ip(spec: Path, cidr: str) -> str:
    """The server node's address on the fabric of `cidr`, as the node itself shows it."""
    code, out = _on(spec, SERVER, "ip -4 -o addr show")
    assert code == 0, out
    found = [word.split("/")[0] for word in out.split() if "/" in word and word[:1].isdigit()]
    return next(ip for ip in found if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr))


def _connect(spec: Path, ip: str, port: int) -> int:
    """From the client node: 0 connected, 1 refused, 124 silently dropped."""
    code, out = _on(spec, CLIENT, f"timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' 2>/dev/null; echo rc=$?")
    assert code == 0, out
    return int(out.rsplit("rc=", 1)[1].split()[0])


def test_declared_port_answers_and_undeclared_is_dropped(lab: tuple[Path, dict[str, str]]) -> None:
    spec, fabrics = lab
    for port in (ALLOWED, UNDECLARED):
        code, out = _on(spec, SERVER, f"nohup python3 -m http.server {port} >/dev/null 2>&1 & sleep 1; echo ok")
        assert code == 0, out
    compute, mgmt = _server_ip(spec, fabrics["compute"]), _server_ip(spec, fabrics["mgmt"])
    assert _connect(spec, compute, ALLOWED) == 0
    assert _connect(spec, compute, UNDECLARED) == 124
    assert _connect(spec, mgmt, UNDECLARED) == 0  # mgmt declares no ingress: open as before
    assert _connect(spec, compute, 22) == 124  # admin_cidrs: [] -> SSH only from grid's own address
    rules = _on(spec, SERVER, "nft list table inet grid")[1]
    assert f"tcp dport {{ {ALLOWED}, 9000-9100 }}" in rules


def test_check_reports_the_policy(lab: tuple[Path, dict[str, str]]) -> None:
    spec, _ = lab
    done = grid("check", str(spec), "--json", timeout=300)
    assert done.code == 0, done.output
    nodes = json.loads(done.output)["nodes"]
    client = next(n for n in nodes if n["address"] == CLIENT)
    assert client["checks"][f"policy:compute:{ALLOWED}:allowed"] is True
    assert any(k.startswith("policy:compute:") and k.endswith(":filtered") and v
               for k, v in client["checks"].items())


def test_a_spec_without_policy_removes_grid_rules(lab: tuple[Path, dict[str, str]]) -> None:
    spec, fabrics = lab
    data = yaml.safe_load(spec.read_text())
    data["spec"].pop("access")
    for fabric in data["spec"]["regions"][0]["fabrics"]:
        fabric.pop("ingress", None)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    up = grid("up", str(spec), "--yes", timeout=600)
    assert up.code == 0, up.output
    _, out = _on(spec, SERVER, "nft list table inet grid >/dev/null 2>&1; echo rc=$?; ls /etc/nftables.conf")
    assert "rc=1" in out and "No such file" in out, out
    compute = _server_ip(spec, fabrics["compute"])
    assert _connect(spec, compute, 22) == 0  # SSH between nodes is no longer limited
