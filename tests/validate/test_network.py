"""network.py: admin CIDRs, ingress ports and sources, each at its own line and column."""

from __future__ import annotations

from grid.diagnostics import Diagnostic
from support.specs import EAST_FABRICS, LOCAL_SPEC_HEAD, findings, where

POOLS = """\
      pools:
        - {name: train, count: 2, fabrics: [mgmt, compute]}
"""


def found(text: str) -> list[Diagnostic]:
    return findings(text, "network.")


def spec(ingress: str = "", access: str = "") -> str:
    fabrics = EAST_FABRICS
    if ingress:
        fabrics = fabrics.replace("cidr: 198.18.1.0/24}", "cidr: 198.18.1.0/24,\n           ingress: " + ingress + "}")
    return LOCAL_SPEC_HEAD + fabrics + POOLS + access


def test_a_sound_policy_has_no_findings() -> None:
    text = spec('[{ports: [22, "8000-8100"], protocol: tcp, from: [mgmt, "pool:train", 198.51.100.0/24]},'
                " {protocol: icmp, from: [compute]}]",
                "  access: {admin_cidrs: [203.0.113.0/24, 198.51.100.7/32]}\n")
    assert found(text) == []


def test_no_policy_has_no_findings() -> None:
    assert found(spec()) == []


def test_admin_cidr_with_host_bits_suggests_the_network() -> None:
    text = spec(access="  access:\n    admin_cidrs:\n      - 203.0.113.0/24\n      - 203.0.113.9/24\n")
    [diag] = found(text)
    assert diag.code == "network.cidr" and "host bits" in diag.summary
    assert diag.hint == "did you mean '203.0.113.0/24'?"
    assert where(diag) == (text.splitlines().index("      - 203.0.113.9/24") + 1, 9)


def test_bad_ports_and_sources_each_at_their_place() -> None:
    text = spec('[{ports: [22, "9000-8000", "70000"], from: [mgnt, "pool:trian", 198.51.100.0/33, 10.0.0.1]}]')
    by_code: dict[str, list[Diagnostic]] = {}
    for diag in found(text):
        by_code.setdefault(diag.code, []).append(diag)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "ingress:" in t)
    ports = by_code["network.port"]
    assert [d.summary for d in ports] == ["port range '9000-8000' runs backwards", "port '70000' is outside 1-65535"]
    assert ports[0].hint == "write it low to high: '8000-9000'"
    assert all(where(d)[0] == line for d in ports)
    assert where(ports[0])[1] < where(ports[1])[1]
    unknown = by_code["network.unknown-source"]
    assert [d.hint for d in unknown] == ["did you mean 'mgmt'?", "did you mean 'train'?"]
    cidrs = by_code["network.cidr"]
    assert "not an IPv4 network" in cidrs[0].summary
    assert "no prefix length" in cidrs[1].summary and cidrs[1].hint == "write '10.0.0.1/32' for one address"


def test_icmp_takes_no_ports() -> None:
    [diag] = found(spec("[{protocol: icmp, ports: [8], from: [mgmt]}]"))
    assert diag.code == "network.icmp-ports"


def test_a_pool_of_another_region_is_known() -> None:
    west = """\
    - name: west
      site: {power_mw: 1}
      fabrics:
        - {name: wan, cidr: 198.18.2.0/24}
      pools:
        - {name: infer, count: 1, fabrics: [wan]}
"""
    assert found(spec('[{from: ["pool:infer", wan]}]') + west) == []
