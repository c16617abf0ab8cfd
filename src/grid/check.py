"""Acceptance checks of a running cluster: what a person would verify by hand, per node.

Reachable over SSH with the pinned host key; every fabric interface up with the spec's MTU
and reaching its peers with full-size unfragmented packets; storage mounted, writable and
shared; the facts file right. Runs commands through a small `Remote` interface.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from grid.resources import Kind, Resource, ResourceGraph, connect_ip
from grid.state.model import State


class Remote(Protocol):
    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        """Run `command` on the node at `address` (hostname `host`); (exit code, output)."""
        ...


@dataclass
class NodeReport:
    address: str
    hostname: str
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.checks.values()) and not self.problems

    def record(self, name: str, ok: bool, problem: str = "") -> None:
        self.checks[name] = ok and self.checks.get(name, True)
        if not ok and problem:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "hostname": self.hostname, "ok": self.ok,
                "checks": self.checks, "problems": self.problems}


def run_checks(graph: ResourceGraph, state: State, remote: Remote, *,
               progress: Callable[[NodeReport], None] | None = None, configured: bool = True) -> list[NodeReport]:
    """`configured`: grid's playbook ran on the nodes; False (`configuration.manage: false`, hosts grid only
    adopted) leaves out what only it makes true: the hostname it asserts and its facts file."""
    nodes = [r for r in graph.of_kind(Kind.NODE) if r.address in state.resources]
    fabrics = {r.attrs["name"]: r for r in graph.of_kind(Kind.FABRIC)}
    by_region_fabric: dict[tuple[str, str], list[str]] = {}
    for node in nodes:
        for name, ip in node.attrs["fabrics"].items():
            by_region_fabric.setdefault((node.region, name), []).append(ip)
    token = secrets.token_hex(8)
    writers: dict[tuple[str, str], str] = {}  # (region, storage) -> hostname that writes the probe
    # Names every node must resolve (through its region's name server, or /etc/hosts): the first node of each
    # region, a sample that stays a few lookups per node at any size.
    firsts: dict[str, Resource] = {}
    for node in nodes:
        if node.region not in firsts or node.attrs["hostname"] < firsts[node.region].attrs["hostname"]:
            firsts[node.region] = node
    named = sorted((str(n.attrs["hostname"]), connect_ip(n), n.region) for n in firsts.values())
    # In a cloud's private zone (`names: dns` on aws, alicloud) a node resolves its own region's names only.
    zoned = {f.region for f in graph.of_kind(Kind.FABRIC) if f.attrs.get("dns_zone")}
    for node in nodes:
        for name in sorted(node.attrs["storage"]):
            writers.setdefault((node.region, name), node.attrs["hostname"])

    def first_pass(node: Resource) -> NodeReport:
        attrs = node.attrs
        report = NodeReport(node.address, attrs["hostname"])
        ip = connect_ip(node)  # the address Ansible configured it through
        code, out = remote.run(attrs["hostname"], ip, "hostname; ip -j addr")
        report.record("ssh", code == 0, f"ssh to {ip} failed: {out.strip()[-200:]}")
        if code != 0:
            return report
        lines = out.split("\n", 1)
        if configured:
            report.record("hostname", lines[0].strip() == attrs["hostname"],
                          f"hostname is {lines[0].strip()!r}, expected {attrs['hostname']!r}")
        interfaces = _interfaces(lines[1] if len(lines) > 1 else "[]")
        for name, my_ip in sorted(attrs["fabrics"].items()):
            fabric = next((f for f in fabrics.values() if f.region == node.region and f.attrs["name"] == name), None)
            mtu = int(fabric.attrs["mtu"]) if fabric else 1500
            found = interfaces.get(my_ip)
            report.record(f"fabric:{name}:up", found is not None and found[1], f"{name}: no interface up with {my_ip}")
            if found is None:
                continue
            report.record(f"fabric:{name}:mtu", found[0] == mtu, f"{name}: MTU {found[0]}, spec says {mtu}")
            peers = [p for p in by_region_fabric.get((node.region, name), []) if p != my_ip]
            if peers:
                size = mtu - 28  # IPv4 + ICMP headers: a full-MTU packet that must not fragment
                # Up to 3 probes each: one lost packet on a busy host is not a broken fabric.
                pings = " && ".join(f"ping -q -c3 -i0.2 -W2 -M do -s {size} {shlex.quote(p)} >/dev/null"
                                    for p in peers)
                code, out = remote.run(attrs["hostname"], ip, pings)
                report.record(f"fabric:{name}:peers", code == 0,
                              f"{name}: cannot reach every peer with {mtu}-byte packets")
        if configured:
            # The facts and the names in one round trip: each part's exit status on a line of its own after it.
            others = [(h, a) for h, a, region in named if h != attrs["hostname"] and a
                      and (node.region not in zoned or region == node.region)]
            lookups = " && ".join(f"test \"$(getent hosts {shlex.quote(h)} | awk '{{print $1; exit}}')\" = {a}"
                                  for h, a in others)
            command = f"cat /etc/grid/node.json; printf '\\n{STATUS_MARK}%s\\n' $?"
            if others:
                command += f"; ({lookups}); printf '{STATUS_MARK}%s\\n' $?"
            code, out = remote.run(attrs["hostname"], ip, command)
            facts, statuses = _split_statuses(out if code == 0 else "")
            facts_ok = statuses[:1] == [0] and _facts_match(facts, dict(attrs), node.address)
            report.record("facts", facts_ok, "/etc/grid/node.json missing or not matching the spec")
            if others:
                report.record("names", statuses[1:2] == [0],
                              f"names: {', '.join(h for h, _ in others)} do not all resolve to their addresses "
                              "(a region's name server down? see `grid drift`)")
        for name, mount in sorted(attrs["storage"].items()):
            probe = f"{mount}/.grid-check-{token}"
            if writers.get((node.region, name)) == attrs["hostname"]:
                command = f"findmnt -n {shlex.quote(mount)} >/dev/null && echo {token} > {shlex.quote(probe)}"
            else:
                command = f"findmnt -n {shlex.quote(mount)} >/dev/null && test -w {shlex.quote(mount)}"
            code, _ = remote.run(attrs["hostname"], ip, command)
            report.record(f"storage:{name}:mounted", code == 0, f"{name}: {mount} not mounted or not writable")
        if attrs.get("mounts") or attrs.get("directories"):
            code, out = remote.run(attrs["hostname"], ip, mounts_probe(attrs))
            for check, ok, problem in mounts_findings(out if code == 0 else "", attrs):
                report.record(check, ok, problem)
        return report

    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(first_pass, nodes))
    # Second pass: every other node of a shared volume reads what the writer wrote.
    by_address = {r.address: r for r in reports}

    def second_pass(node: Resource) -> None:
        attrs = node.attrs
        report = by_address[node.address]
        if not report.checks.get("ssh"):
            return
        ip = connect_ip(node)
        for name, mount in sorted(attrs["storage"].items()):
            probe = f"{mount}/.grid-check-{token}"
            code, out = remote.run(attrs["hostname"], ip, f"cat {shlex.quote(probe)}")
            report.record(f"storage:{name}:shared", code == 0 and out.strip() == token,
                          f"{name}: a file written on {writers.get((node.region, name))} is not visible here")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(second_pass, nodes))
    for (_region, name), writer in writers.items():
        node = next(n for n in nodes if n.attrs["hostname"] == writer)
        mount = node.attrs["storage"][name]
        remote.run(writer, connect_ip(node), f"rm -f {shlex.quote(mount)}/.grid-check-{token}")
    for report in reports:
        if progress:
            progress(report)
    return reports


STATUS_MARK = "#grid-status "
"""Starts the line a combined probe prints after each of its parts: the part's exit status."""


def _split_statuses(out: str) -> tuple[str, list[int]]:
    """(what came before the first status line, the statuses in order) of a combined probe's output."""
    head, statuses = out, []
    marked = out.split("\n" + STATUS_MARK)
    if len(marked) > 1:
        head = marked[0]
        for part in marked[1:]:
            for line in part.splitlines():
                text = line.removeprefix(STATUS_MARK).strip()
                if text.isdigit():
                    statuses.append(int(text))
    return head, statuses


def _interfaces(text: str) -> dict[str, tuple[int, bool]]:
    """IP -> (mtu, up) from `ip -j addr`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    out: dict[str, tuple[int, bool]] = {}
    for link in data:
        up = "UP" in link.get("flags", []) or link.get("operstate") == "UP"
        for addr in link.get("addr_info", []):
            if addr.get("family") == "inet":
                out[addr["local"]] = (int(link.get("mtu", 0)), up)
    return out


def _facts_match(text: str, attrs: dict[str, Any], address: str) -> bool:
    try:
        facts = json.loads(text)
    except json.JSONDecodeError:
        return False
    return bool(facts.get("address") == address and facts.get("hostname") == attrs["hostname"]
                and facts.get("pool") == attrs["pool"] and facts.get("accelerators") == attrs["accelerators"])


def mounts_probe(attrs: Mapping[str, Any]) -> str:
    """One shell command printing, per bind, `mount PATH OPTIONS WRITABLE` (findmnt's options of exactly that
    mount point) and, per directory, `mode PATH OCTAL`. Paths are spec mount paths: no spaces, no quotes."""
    lines = [f"printf 'mount %s %s %s\\n' {shlex.quote(b['path'])} "
             f"\"$(findmnt -n -o OPTIONS --mountpoint {shlex.quote(b['path'])} | head -n1)\" "
             f"\"$(test -w {shlex.quote(b['path'])} && echo writable || echo not-writable)\""
             for b in attrs.get("mounts") or []]
    lines += [f"printf 'mode %s %s\\n' {shlex.quote(d['path'])} \"$(stat -c %a {shlex.quote(d['path'])})\""
              for d in attrs.get("directories") or []]
    return "; ".join(lines)


def mounts_findings(text: str, attrs: Mapping[str, Any]) -> list[tuple[str, bool, str]]:
    """(check, ok, problem) per bind (mounted at its path, read-only or writable as asked) and per directory
    (its mode), from what `mounts_probe` printed."""
    seen: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        path, _, values = rest.partition(" ")
        seen[(kind, path)] = values.split()
    found: list[tuple[str, bool, str]] = []
    for bind in attrs.get("mounts") or []:
        path, name = bind["path"], bind["storage"]
        fields = seen.get(("mount", path)) or []
        options = fields[0].split(",") if len(fields) > 1 else []
        read_only = "ro" in bind["options"]
        if not options:
            found.append((f"mount:{path}", False, f"{name}: nothing mounted at {path}"))
        elif read_only != ("ro" in options):
            found.append((f"mount:{path}", False, f"{name}: {path} is mounted {'rw' if read_only else 'ro'}, the "
                          f"spec says {'ro' if read_only else 'rw'}"))
        elif not read_only and fields[-1] != "writable":
            found.append((f"mount:{path}", False, f"{name}: {path} is not writable here"))
        else:
            found.append((f"mount:{path}", True, ""))
    for directory in attrs.get("directories") or []:
        path, mode = directory["path"], directory["mode"]
        shown = seen.get(("mode", path)) or []
        actual = shown[0] if shown else ""
        if not actual.isdigit():
            found.append((f"mode:{path}", False, f"{directory['storage']}: no directory {path}"))
        elif mode is not None and int(actual, 8) != int(mode, 8):
            found.append((f"mode:{path}", False, f"{directory['storage']}: {path} has mode {actual}, the spec "
                          f"says {mode}"))
        else:
            found.append((f"mode:{path}", True, ""))
    return found
