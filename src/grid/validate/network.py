"""Validators of the network policy: `access.admin_cidrs` and each fabric's `ingress` rules.

CIDRs are IPv4 networks without host bits, port ranges run low to high inside 1-65535, icmp has no
ports, and every source names a CIDR, a fabric or `pool:NAME` that exists (a near name is suggested).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error
from grid.spec.model import Cluster
from grid.validate.base import Validator
from grid.validate.references import suggest

REGIONS: Path = ("spec", "regions")
POOL_PREFIX = "pool:"


def looks_like_cidr(text: str) -> bool:
    """A source written with digits, dots and a slash is meant as a CIDR (names start with a letter)."""
    return text[:1].isdigit()


def cidr_problem(text: str) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) for a CIDR that is not a valid IPv4 network, else None."""
    try:
        ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            return (f"'{text}' is not an IPv4 network in CIDR form ({exc})",
                    "write it like 198.51.100.0/24 (one address: 198.51.100.7/32)")
        return (f"'{text}' has host bits set", f"did you mean '{loose}'?")
    if "/" not in text:
        return (f"'{text}' has no prefix length", f"write '{text}/32' for one address")
    return None


def port_problem(port: int | str) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) for a port or "low-high" range outside 1-65535, else None."""
    if isinstance(port, int):
        return None  # the schema keeps it in 1-65535
    low, _, high = port.partition("-")
    first, last = int(low), int(high or low)
    if not (1 <= first <= 65535 and 1 <= last <= 65535):
        return (f"port '{port}' is outside 1-65535", "ports run from 1 to 65535")
    if first > last:
        return (f"port range '{port}' runs backwards", f"write it low to high: '{last}-{first}'")
    return None


def admin_cidrs_valid(cluster: Cluster) -> Iterator[Diagnostic]:
    for i, cidr in enumerate(cluster.spec.access.admin_cidrs or []):
        problem = cidr_problem(cidr)
        if problem:
            yield error(f"admin CIDR {problem[0]}", ("spec", "access", "admin_cidrs", i),
                        code="network.cidr", hint=problem[1])


def ingress_rules_valid(cluster: Cluster) -> Iterator[Diagnostic]:
    regions = cluster.spec.regions
    all_fabrics = {f.name for r in regions for f in r.fabrics}
    all_pools = {p.name for r in regions for p in r.pools}
    for r, region in enumerate(regions):
        for f, fabric in enumerate(region.fabrics):
            for i, rule in enumerate(fabric.ingress or []):
                at: Path = (*REGIONS, r, "fabrics", f, "ingress", i)
                if rule.protocol == "icmp" and rule.ports:
                    yield error("an icmp rule has no ports", (*at, "ports"), code="network.icmp-ports",
                                hint="remove `ports`, or use protocol tcp or udp")
                for p, port in enumerate(rule.ports):
                    problem = port_problem(port)
                    if problem:
                        yield error(problem[0], (*at, "ports", p), code="network.port", hint=problem[1])
                for s, source in enumerate(rule.from_):
                    where = (*at, "from", s)
                    if looks_like_cidr(source):
                        problem = cidr_problem(source)
                        if problem:
                            yield error(f"ingress source {problem[0]}", where, code="network.cidr",
                                        hint=problem[1])
                    elif source.startswith(POOL_PREFIX):
                        pool = source[len(POOL_PREFIX):]
                        if pool not in all_pools:
                            yield error(f"ingress source names pool '{pool}', which no region defines", where,
                                        code="network.unknown-source",
                                        hint=suggest(pool, all_pools, what="pools", where="the spec"))
                    elif source not in all_fabrics:
                        pools = {POOL_PREFIX + name for name in all_pools}
                        yield error(f"ingress source '{source}' is not a CIDR, a fabric or pool:NAME", where,
                                    code="network.unknown-source",
                                    hint=suggest(source, all_fabrics | pools, what="fabrics and pools",
                                                 where="the spec"))


VALIDATORS: tuple[Validator, ...] = (admin_cidrs_valid, ingress_rules_valid)
