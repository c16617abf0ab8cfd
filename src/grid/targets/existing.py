"""Target `existing`: machines grid did not create and never removes.

There is no Pulumi here. `ExistingHostsEngine` stands in for the stack engine (grid.engines.StackEngine):
`up` fetches each host's SSH host key and pins it in state, but a key grid has not pinned before is only
accepted with the user's explicit consent (`grid up --trust-new-hosts`); without it `up` fails, listing
the hosts and the fingerprints it saw. A pinned key that changed is always refused. `destroy` only
forgets: the hosts are never touched.

Hosts come from `spec.targets.existing.hosts`, or from an Ansible inventory in grid's shape
(`targets.existing.inventory`, see inventories/README.md): each host needs `grid_region` and
`grid_pool`; `ansible_host` (default: the inventory name), `ansible_port` (22) and `grid_index`
(the order of the hosts of one pool) are optional. Hosts fill their pool's node indexes in order.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from grid.engines import EngineFailed, PreviewResult, ProgressFn, RegionInput, StackResult
from grid.resources import (
    ExistingNode,
    Kind,
    Resource,
    connect_fabric,
    connect_ip,
    node_address,
    pool_fabrics,
    recorded_connect_ip,
)
from grid.spec.inventory import Declared, inventory_hosts, resolve_inventory
from grid.spec.model import Cluster, ExistingHost
from grid.spec.targets import TARGET_TRAITS
from grid.state.model import State
from grid.targets.base import EngineSetup, TargetBase

TRUST_FLAG = "--trust-new-hosts"
Scanner = Callable[[str, int, float], str]
"""(ip, port, timeout) -> the host's public key line ("ssh-ed25519 AAAA..."); OSError when unreachable."""


# -- which hosts ---------------------------------------------------------------------------------------

def declared_hosts(cluster: Cluster) -> list[ExistingHost]:
    return [d.host for d in _declared(cluster)]


def existing_nodes(cluster: Cluster) -> dict[str, ExistingNode]:
    """{node address: host} — the hosts of a pool fill its node indexes in the order they are listed.

    A host's address is its IP on the fabric grid and Ansible connect over (grid.resources.connect_fabric);
    an inventory's `grid_fabrics` may give its IPs on the others.
    """
    pools = pool_fabrics(cluster)
    counters: dict[tuple[str, str], int] = {}
    out: dict[str, ExistingNode] = {}
    for declared in _declared(cluster):
        host = declared.host
        fabrics = pools.get((host.region, host.pool), ())
        index = counters.get((host.region, host.pool), 0)
        counters[(host.region, host.pool)] = index + 1
        ips = {name: ip for name, ip in declared.ips.items() if name in fabrics}
        connect = connect_fabric(fabrics)
        if connect is not None:
            ips[connect] = host.address
        out[node_address(host.region, host.pool, index)] = ExistingNode(host.name, ips)
    return out


def _declared(cluster: Cluster) -> list[Declared]:
    settings = cluster.spec.targets.existing
    if settings.hosts or settings.inventory is None:
        return [Declared(h, dict(h.fabrics)) for h in settings.hosts]
    return inventory_hosts(resolve_inventory(settings.inventory))




# -- host keys ---------------------------------------------------------------------------------------

def scan_host_key(ip: str, port: int, timeout: float) -> str:
    """The key the host's sshd proves it holds during key exchange (ed25519 preferred, as OpenSSH does)."""
    import paramiko

    sock = socket.create_connection((ip, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    except paramiko.SSHException as exc:
        raise OSError(f"SSH handshake failed: {exc}") from None
    finally:
        transport.close()


def fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Pin:
    ip: str
    host_key: str


@dataclass(frozen=True)
class Seen:
    address: str
    hostname: str
    ip: str
    port: int
    host_key: str = ""
    error: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.hostname} ({self.ip}:{self.port})"


def program_node_ip(node: Mapping[str, Any]) -> str:
    """`connect_ip` of a node of a stack's program data (grid.render.pulumi: its address and attrs in one
    dict, its fabrics in the pool's order)."""
    return connect_ip(Resource(str(node.get("address", "")), Kind.NODE, "", node))


def pins_from_state(cluster: Cluster, state: State) -> dict[str, Pin]:
    pools = pool_fabrics(cluster)
    return {address: Pin(recorded_connect_ip(address, record.region, record.attrs, pools),
                         str(record.outputs["host_key"]))
            for address, record in state.resources.items()
            if record.kind == "node" and record.outputs.get("host_key")}


class ExistingHostsEngine:
    """`StackEngine` for hosts that already exist: pins host keys with consent, never creates or deletes."""

    def __init__(self, *, pins: Callable[[], Mapping[str, Pin]], ports: Mapping[str, int] | None = None,
                 trust_new_hosts: bool = False, scanner: Scanner = scan_host_key,
                 timeout: float = 10.0) -> None:
        self._pins = pins
        self._ports = dict(ports or {})  # hostname -> SSH port
        self.trust_new_hosts = trust_new_hosts
        self._scan = scanner
        self._timeout = timeout

    def _look(self, data: RegionInput) -> list[Seen]:
        nodes = [(str(n["address"]), str(n["hostname"]), program_node_ip(n)) for n in data.get("nodes", [])]

        def look(node: tuple[str, str, str]) -> Seen:
            address, hostname, ip = node
            port = self._ports.get(hostname, 22)
            if not ip:
                return Seen(address, hostname, ip, port, error="no address to connect to")
            try:
                return Seen(address, hostname, ip, port, host_key=self._scan(ip, port, self._timeout))
            except (OSError, ValueError, EOFError) as exc:
                return Seen(address, hostname, ip, port, error=str(exc) or type(exc).__name__)

        with ThreadPoolExecutor(max_workers=max(1, min(32, len(nodes)))) as pool:
            return list(pool.map(look, nodes))

    def up(self, region: str, data: RegionInput, progress: ProgressFn | None = None, *,
           refresh: bool = True, made: Any = None, allowed: Any = None) -> StackResult:
        del refresh, made  # every run looks at the hosts themselves, and pins them when done
        pins = self._pins()
        seen = self._look(data)
        unreachable = [s for s in seen if s.error]
        changed = [s for s in seen if not s.error and _pinned(pins, s) not in ("", s.host_key)]
        new = [s for s in seen if not s.error and not _pinned(pins, s)]
        problems: list[str] = []
        if unreachable:
            problems.append("unreachable: " + "; ".join(f"{s.endpoint}: {s.error}" for s in unreachable))
        if changed:
            problems.append(
                "HOST KEY CHANGED (refused; possibly an impostor): " + "; ".join(
                    f"{s.endpoint} pinned {fingerprint(_pinned(pins, s))}, now {fingerprint(s.host_key)}"
                    for s in changed)
                + " — if the host was reinstalled, take it out of the spec, run `grid up`, then add it back")
        if new and not self.trust_new_hosts:
            problems.append(
                f"{len(new)} host(s) not trusted yet: " + "; ".join(
                    f"{s.endpoint} {s.host_key.split()[0]} {fingerprint(s.host_key)}" for s in new)
                + f" — check these fingerprints on the hosts (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
                f"then run `grid up` with {TRUST_FLAG} to pin them")
        if problems:
            raise EngineFailed(region, "\n".join(problems))
        for s in seen:
            if progress is not None:
                progress(s.address, "pin" if s in new else "same", "done")
        outputs = {"nodes": {s.address: {"id": f"{s.ip}:{s.port}", "host_key": s.host_key,
                                         "private_ips": {"connect": s.ip}} for s in seen}}
        return StackResult(region, outputs, {"create": len(new), "same": len(seen) - len(new)})

    def preview(self, region: str, data: RegionInput, *, refresh: bool) -> PreviewResult:
        """Steps by node address: `create` for hosts not pinned yet; with `refresh`, `update` for a
        pinned host whose key changed (unreachable hosts are left to the configuration check)."""
        pins = self._pins()
        steps: dict[str, str] = {}
        if refresh:
            for s in self._look(data):
                pinned = _pinned(pins, s)
                steps[s.address] = ("create" if not pinned else "same" if s.error or pinned == s.host_key
                                    else "update")
        else:
            for node in data.get("nodes", []):
                address = str(node["address"])
                pin = pins.get(address)
                steps[address] = "same" if pin is not None and pin.ip == program_node_ip(node) else "create"
        changes: dict[str, int] = {}
        for op in steps.values():
            changes[op] = changes.get(op, 0) + 1
        return PreviewResult(region, changes, steps)

    def destroy(self, region: str, data: RegionInput, progress: ProgressFn | None = None) -> None:
        """Forget the region's hosts (the caller drops them from state); nothing on them is touched."""
        if progress is not None:
            for node in data.get("nodes", []):
                progress(str(node["address"]), "forget", "done")

    def regions(self) -> list[str]:
        return []


def _pinned(pins: Mapping[str, Pin], seen: Seen) -> str:
    """The key pinned for this node at this IP; a node now at another IP is another machine."""
    pin = pins.get(seen.address)
    return pin.host_key if pin is not None and pin.ip == seen.ip else ""


@dataclass(frozen=True)
class ExistingTarget(TargetBase):
    def stacks(self, setup: EngineSetup) -> ExistingHostsEngine:
        ports = {h.name: h.port for h in declared_hosts(setup.cluster)}
        return ExistingHostsEngine(pins=lambda: pins_from_state(setup.cluster, setup.read_state()), ports=ports,
                                   trust_new_hosts=setup.trust_new_hosts)

    def fixed_hosts(self, cluster: Cluster) -> dict[str, ExistingNode]:
        return existing_nodes(cluster)


TARGET = ExistingTarget(TARGET_TRAITS["existing"])
