"""The cluster's name service (`configuration.names: dns`, the default where the target has one: the lab):
which node serves each region's names.

With `hosts_file` every node's /etc/hosts lists the whole cluster, so a node that comes or goes rewrites every
host: O(N) per change. With `dns` one node per region runs dnsmasq (roles/base/tasks/names.yml) answering from
one file of records rendered from the same table (`grid_hosts`); every node of the region resolves through it
and keeps only its own line in /etc/hosts. A node that comes or goes then changes the new node and one file on
each region's server (R hosts, not N), and dnsmasq re-reads the file without a restart.

On existing hosts (`names: dns` only when the spec asks: their resolvers are their owner's) the server also
forwards every other name to the resolvers it had before grid (the copy names.yml keeps), so the hosts still
reach what lies beyond the cluster; it listens on its connect address alone, not the wildcard nor loopback, so a
resolver of the host's own (systemd-resolved's 127.0.0.53, a cache on 127.0.0.1) keeps its port and stays the
upstream it was. Its resolv.conf keeps the host's own search, domain, options and sortlist lines below grid's
marked block, so the short names of its site still resolve; grid owns the block, the owner the rest. A host whose
/etc/resolv.conf is a link (a manager owns it) is refused, not rewritten through the link.

The server of a region is the first node of its first pool that has any (spec order, lowest index): growing
a pool, or shrinking one short of none, never moves it, so the nodes' resolv.conf stays as it is. A pool put before
the first one does move it: every node's resolv.conf changes, and the node that served stops its dnsmasq and drops
the server's files (names.yml), so no stale server keeps answering.

On a cloud that builds one (TargetTraits.private_zone: aws, alicloud), `dns` is the cloud's private DNS instead:
the region's stack makes a zone its network resolves through and searches (DHCP options) and one record per node
(grid.stacks); no node serves names, and each keeps only its own line in /etc/hosts. A node that comes or goes
is then one record in its region's stack, and no host's configuration changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from grid.resources import Kind, Resource, ResourceGraph, connect_ip
from grid.spec.model import Cluster
from grid.spec.targets import names_of as names_mode  # `dns` or `hosts_file`: the spec's, else that default
from grid.spec.targets import traits_of

DNS = "dns"
HOSTS_FILE = "hosts_file"
ZONE = "zone"
"""all.yml's NAMES_VAR on a cloud's private zone: the nodes keep their own line in /etc/hosts, nothing more."""
SERVERS_VAR = "grid_name_servers"
"""all.yml: {region: {hostname, ip}}, only with `names: dns` (so hosts_file clusters render as before)."""
NAMES_VAR = "grid_names"
FORWARDS_VAR = "grid_names_forward"
"""all.yml: true where the server forwards other names upstream (TargetTraits.forwards_names); absent elsewhere."""
NAME_SERVER_CONF = "/etc/grid/dnsmasq.conf"
RECORDS_DIR = "/etc/grid/hosts.d"
RESOLV_CONF = "/etc/resolv.conf"
RESOLV_COPY = "/etc/grid/resolv.conf"
"""What the node's /etc/resolv.conf must say: podman writes its own at every start, grid-node-init puts this back."""
RESOLV_BEFORE = "/etc/grid/resolv.conf.podman"
"""The node's resolv.conf before grid's (podman's on the lab, the host's own elsewhere): put back when the name
service goes, and where a forwarding server finds its upstream resolvers."""
PID_FILE = "/run/grid-dnsmasq.pid"
RECORDS_DIGEST = "records-sha256:"
"""How a server's hosts digest begins: the plan says "name records" for it, not "hosts table"."""


def uses_dns(cluster: Cluster) -> bool:
    return names_mode(cluster) == DNS


def served_by_nodes(cluster: Cluster) -> bool:
    """`dns` served by a node of each region (dnsmasq: the lab), not by the cloud's private zone."""
    return uses_dns(cluster) and not traits_of(cluster).private_zone


def in_private_zone(cluster: Cluster) -> bool:
    """`dns` answered by the cloud's private zone of each region (grid.spec.targets.private_zone_name)."""
    return uses_dns(cluster) and bool(traits_of(cluster).private_zone)


def name_servers(cluster: Cluster, graph: ResourceGraph,
                 connect_fabric: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """{region: {"hostname", "ip"}} of each region's name server; regions without nodes have none."""
    return {region: {"hostname": str(node.attrs["hostname"]), "ip": ip}
            for region, (node, ip) in _servers(cluster, graph, connect_fabric).items()}


def server_addresses(cluster: Cluster, graph: ResourceGraph,
                     connect_fabric: Mapping[str, str] | None = None) -> set[str]:
    """The addresses of the nodes that serve names (none with hosts_file, nor on a cloud's private zone)."""
    if not served_by_nodes(cluster):
        return set()
    return {node.address for node, _ in _servers(cluster, graph, connect_fabric).values()}


def _servers(cluster: Cluster, graph: ResourceGraph,
             connect_fabric: Mapping[str, str] | None) -> dict[str, tuple[Resource, str]]:
    order = {(r.name, p.name): i for r in cluster.spec.regions for i, p in enumerate(r.pools)}
    best: dict[str, tuple[tuple[int, int, str], Resource]] = {}
    for node in graph.of_kind(Kind.NODE):
        attrs = node.attrs
        key = (order.get((node.region, str(attrs.get("pool"))), len(order)), int(attrs.get("index", 0)),
               str(attrs.get("hostname")))
        if node.region not in best or key < best[node.region][0]:
            best[node.region] = (key, node)
    out: dict[str, tuple[Resource, str]] = {}
    for region in sorted(best):
        node = best[region][1]
        ip = connect_ip(node, fabric=(connect_fabric or {}).get(region))
        if ip:
            out[region] = (node, ip)
    return out


def names_vars(cluster: Cluster, graph: ResourceGraph,
               connect_fabric: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The all.yml vars of the name service: none for hosts_file (its clusters' files and digests unchanged)."""
    if in_private_zone(cluster):
        return {NAMES_VAR: ZONE}
    if not uses_dns(cluster):
        return {}
    forwards = {FORWARDS_VAR: True} if traits_of(cluster).forwards_names else {}
    return {NAMES_VAR: DNS, SERVERS_VAR: name_servers(cluster, graph, connect_fabric), **forwards}


def uses_dns_vars(all_vars: Mapping[str, Any]) -> bool:
    """Whether all.yml's vars are those of a `names: dns` cluster whose nodes serve names (not a cloud zone's)."""
    return all_vars.get(NAMES_VAR) == DNS


def server_hostnames(all_vars: Mapping[str, Any]) -> set[str]:
    """The hostnames that serve names, from all.yml's vars."""
    return {str(s["hostname"]) for s in (all_vars.get(SERVERS_VAR) or {}).values()}


def records_file(cluster: str) -> str:
    return f"{RECORDS_DIR}/{cluster}"


def records_text(cluster: str, grid_hosts: list[Mapping[str, Any]]) -> str:
    """The records a server answers from (roles/base/templates/name_records.j2)."""
    return (f"# Managed by grid (cluster {cluster}): the cluster's names, read by dnsmasq on change.\n"
            + "".join(f"{h['ip']}\t{h['hostname']}\n" for h in grid_hosts))


def server_conf_text(cluster: str, *, forward_from: str = "") -> str:
    """dnsmasq's configuration (roles/base/templates/dnsmasq.conf.j2); `forward_from`: the server's address, where
    it forwards other names upstream (FORWARDS_VAR) and answers on that address alone."""
    upstream = (f"resolv-file={RESOLV_BEFORE}\nlisten-address={forward_from}\nbind-dynamic\n" if forward_from
                else "no-resolv\n")
    return (f"# Managed by grid (cluster {cluster}): this node answers for the cluster's names.\n"
            f"{upstream}no-hosts\nhostsdir={RECORDS_DIR}\npid-file={PID_FILE}\n")


def resolv_text(cluster: str, region: str, server_ip: str) -> str:
    """The node's /etc/resolv.conf where the server does not forward (the lab), and its copy in /etc/grid."""
    return f"# Managed by grid (cluster {cluster}): the name server of region {region}.\nnameserver {server_ip}\n"


def resolv_block(cluster: str, region: str, server_ip: str) -> str:
    """grid's part of a forwarding host's /etc/resolv.conf: `resolv_text` between markers, the host's own search
    list and options (its search, domain, options and sortlist lines) below them."""
    return (f"# BEGIN grid cluster {cluster}\n{resolv_text(cluster, region, server_ip)}"
            f"# END grid cluster {cluster}\n")


def hosts_block_entries(all_vars: Mapping[str, Any], hostname: str, ip: str) -> list[Mapping[str, Any]]:
    """The lines of grid's block in /etc/hosts (roles/base/templates/hosts_block.j2): the node's own with a
    name service, the whole table without."""
    if all_vars.get(NAMES_VAR) in (DNS, ZONE):
        return [{"ip": ip, "hostname": hostname}]
    return list(all_vars["grid_hosts"])


def expected_digests(all_vars: Mapping[str, Any], hostname: str, region: str) -> dict[str, str]:
    """What the name service's tasks (roles/base/tasks/names.yml) leave on a host, as grid.drift_digest's probe
    prints it: resolv.conf (where the server forwards, grid's block of it) and grid's copy; on a server its
    records, configuration and dnsmasq running; elsewhere no records of the cluster (names.yml stops a server that
    no longer is one, and its task's check says "differs" exactly when this file is there)."""
    if not uses_dns_vars(all_vars):
        return {}
    cluster = str(all_vars["grid_cluster"])
    server = all_vars[SERVERS_VAR][region]
    forwards = bool(all_vars.get(FORWARDS_VAR))
    resolv = resolv_text(cluster, region, str(server["ip"]))
    out = {f"file:{RESOLV_COPY}": _file(resolv)}
    if forwards:  # the host's own lines below grid's block are its owner's: not drift
        out[f"block:{RESOLV_CONF}"] = _sha(resolv_block(cluster, region, str(server["ip"])))
    else:
        out[f"content:{RESOLV_CONF}"] = _sha(resolv)
    if server["hostname"] == hostname:
        out[f"attrs:{RECORDS_DIR}"] = "dir 755 root root"
        out[f"file:{records_file(cluster)}"] = _file(records_text(cluster, all_vars["grid_hosts"]))
        forward_from = str(server["ip"]) if forwards else ""
        out[f"file:{NAME_SERVER_CONF}"] = _file(server_conf_text(cluster, forward_from=forward_from))
        out[f"pid:{PID_FILE}"] = "dnsmasq"
    else:  # no records of the cluster here: a node that served before the server moved holds none once configured
        out[f"file:{records_file(cluster)}"] = "missing"
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file(text: str) -> str:
    return f"{_sha(text)} 644 root root"
