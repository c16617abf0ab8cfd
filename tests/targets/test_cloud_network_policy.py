"""The spec's network policy on clouds, under Pulumi's mocks: access.admin_cidrs become the SSH rules, a fabric
that declares ingress accepts only that (its sources resolved to CIDRs, a pool to its nodes' addresses),
a fabric without ingress stays open within the cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from retarget import write_spec
from stack_mocks import run_isolated

from support.cli import grid
from support.paths import EXAMPLES

ADMIN = "203.0.113.0/24"
OUTSIDE = "198.51.100.0/24"


def _policy(data: dict[str, Any]) -> None:
    data["spec"]["access"] = {"admin_cidrs": [ADMIN]}
    east = data["spec"]["regions"][0]
    compute = next(f for f in east["fabrics"] if f["name"] == "compute")
    compute["ingress"] = [{"ports": [8080, "9000-9100", 9050], "protocol": "tcp", "from": ["pool:train", OUTSIDE]},
                          {"protocol": "icmp", "from": ["mgmt"]}]


def _run(directory: Path, target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec, _ = write_spec(directory, EXAMPLES / "targets" / f"lab-{target}.yaml", _policy)
    rendered = spec.parent / "rendered"
    done = grid("render", str(spec), "-o", str(rendered))
    assert done.code == 0, done.output
    data = json.loads((rendered / "pulumi" / "east" / "resources.json").read_text())
    return data, run_isolated(projects=[str(rendered / "pulumi" / "east")], config={}, catalog=None)


def _pool_cidrs(data: dict[str, Any]) -> set[str]:
    return {f"{ip}/32" for n in data["nodes"] if n["pool"] == "train" for ip in n["fabrics"].values()}


def test_program_data_carries_the_resolved_policy(tmp_path: Path) -> None:
    data, _ = _run(tmp_path, "aws")
    assert data["admin_cidrs"] == [ADMIN]
    rules = data["ingress"]["compute"]
    assert rules[0]["protocol"] == "tcp" and rules[0]["ports"] == [[8080, 8080], [9000, 9100]]
    assert OUTSIDE in rules[0]["cidrs"]
    # Two nodes with consecutive addresses collapse into fewer CIDRs; together they cover exactly the pool.
    import ipaddress
    covered = {str(a) for c in rules[0]["cidrs"] if c != OUTSIDE for a in ipaddress.IPv4Network(c)}
    assert covered == {c.split("/")[0] for c in _pool_cidrs(data)}
    mgmt = next(f["cidr"] for f in data["fabrics"] if f["name"] == "mgmt")
    assert rules[1] == {"protocol": "icmp", "ports": [], "cidrs": [mgmt]}


@pytest.mark.parametrize("target", ["aws", "openstack"])
def test_security_groups_follow_the_policy(tmp_path: Path, target: str) -> None:
    data, result = _run(tmp_path, target)
    fabrics = {f["name"]: f["cidr"] for f in data["fabrics"]}
    declared = {(r["protocol"], c) for r in data["ingress"]["compute"] for c in r["cidrs"]}
    resources = result["resources"]
    if target == "aws":
        group = next(r for r in resources if r["type"].endswith(":SecurityGroup") and
                     r["name"].endswith("/security-group"))  # not the EFA group, registered in any order
        rules = {(r["protocol"], int(r["fromPort"]), int(r["toPort"]), r["cidrBlocks"][0])
                 for r in group["inputs"]["ingress"]}
        assert ("tcp", 22, 22, ADMIN) in rules
        assert ("-1", 0, 0, fabrics["mgmt"]) in rules  # no ingress declared: open within the cluster
        assert ("-1", 0, 0, fabrics["compute"]) not in rules  # declared: only what it says
        assert ("icmp", -1, -1, fabrics["mgmt"]) in rules
        for _, cidr in declared - {("icmp", fabrics["mgmt"])}:
            assert {("tcp", 8080, 8080, cidr), ("tcp", 9000, 9100, cidr)} <= rules
        assert not [r for r in rules if r[0] == "tcp" and r[1] == 22 and r[3] != ADMIN]
    else:
        rules = {(r["inputs"]["direction"], r["inputs"].get("protocol"), r["inputs"].get("portRangeMin"),
                  r["inputs"].get("portRangeMax"), r["inputs"]["remoteIpPrefix"])
                 for r in resources if r["type"].endswith(":SecGroupRule")}
        assert ("ingress", "tcp", 22, 22, ADMIN) in rules
        assert ("ingress", None, None, None, fabrics["mgmt"]) in rules
        assert ("ingress", None, None, None, fabrics["compute"]) not in rules
        assert ("egress", None, None, None, fabrics["compute"]) in rules
        assert ("ingress", "icmp", None, None, fabrics["mgmt"]) in rules
        for _, cidr in declared - {("icmp", fabrics["mgmt"])}:
            assert {("ingress", "tcp", 8080, 8080, cidr), ("ingress", "tcp", 9000, 9100, cidr)} <= rules
    assert "0.0.0.0/0" not in json.dumps(resources)
