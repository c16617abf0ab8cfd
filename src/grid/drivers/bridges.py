"""Bridges netavark left behind on the host.

netavark deletes a network's bridge when the last container on it is torn down. A container whose
teardown never ran (its podman process killed half-way, a host crash) leaves the bridge up with the
network's gateway address after `podman network rm` has forgotten the network; podman then refuses
any network on that subnet ("already used on the host"). Such a bridge is recognisable: named like
netavark's (podmanN), no ports, and no podman network names it as its interface.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from collections.abc import Collection
from pathlib import Path

SYS_NET = Path("/sys/class/net")
_NETAVARK_BRIDGE = re.compile(r"podman\d+")


def is_orphan(interface: str, in_use: Collection[str]) -> bool:
    """True for a netavark bridge with no ports that no podman network uses."""
    if not _NETAVARK_BRIDGE.fullmatch(interface) or interface in in_use:
        return False
    ports = SYS_NET / interface / "brif"
    try:
        return (SYS_NET / interface / "bridge").is_dir() and not any(ports.iterdir())
    except OSError:
        return False


def bridges_on(subnet: ipaddress.IPv4Network) -> list[str]:
    """Host interfaces holding an IPv4 address inside `subnet`."""
    try:
        proc = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=10,
                              check=False)
        links = json.loads(proc.stdout) if proc.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    found = []
    for link in links:
        for info in link.get("addr_info") or []:
            try:
                if ipaddress.IPv4Address(info.get("local", "")) in subnet:
                    found.append(str(link.get("ifname", "")))
            except ValueError:
                continue
    return found


def delete(interface: str) -> bool:
    """Delete a host link (needs root where podman runs as root; rootless bridges live elsewhere)."""
    try:
        proc = subprocess.run(["ip", "link", "delete", interface], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0
