"""Host input digests: what Ansible would apply to each host, hashed, so a plan can tell which hosts need a run.

A planning input (grid.plan.diff compares them with the digests state records for each host), computed from
what grid.render.ansible renders. The definition (`_documents_by_definition`) dumps each host's inventory
vars and groups; the fast path next to it (`_fast_documents`) gives the same bytes at a few µs per host.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from grid.render.ansible import (
    AnsibleInputs,
    cluster_vars,
    collect_inputs,
    group_name,
    host_groups,
    inventory_host_vars,
    pools_vars,
    shared_files,
    site_roles,
)
from grid.render.names import RECORDS_DIGEST, in_private_zone, names_vars, server_addresses, uses_dns
from grid.render.network import firewall_follows_pools
from grid.render.own import NO_OWN_FILES, OwnFiles
from grid.resources import Kind, Resource, ResourceGraph
from grid.spec.model import Cluster


class HostDigests(NamedTuple):
    """What Ansible would apply to one host, in three parts that change for different reasons."""

    node: str  # the host's own vars and groups, the roles, site.yml, ansible.cfg, grid's actions
    cluster: str  # inventory/group_vars/all.yml without the hosts table (users, keys, sysctls)
    hosts: str  # the hosts table (grid_hosts): changes whenever a node comes or goes; with `names: dns`
    # only on each region's name server (RECORDS_DIGEST...), the other hosts' follows what else they run then


def host_input_digests(cluster: Cluster, graph: ResourceGraph, admin_public_key: str, *,
                       connect_fabric: Mapping[str, str] | None = None,
                       own: OwnFiles = NO_OWN_FILES) -> dict[str, HostDigests]:
    """{node address: HostDigests} of what Ansible would apply to each host.

    A host whose digests are all unchanged needs no run; one whose `node` digest is unchanged needs
    only the cluster-wide tasks (tagged `cluster-wide`) when `cluster` changed, and only the hosts
    table task when `hosts` alone changed (a pool grew or shrank).

    Definition: node = sha256(shared files (roles, site.yml, ansible.cfg, action plugins), then
    json.dumps({"hostname", "vars", "groups"[, "pool_vars"]}, sort_keys=True)); cluster = sha256(json.dumps(all.yml vars
    with grid_hosts null, sort_keys=True)); hosts = sha256(json.dumps(grid_hosts, sort_keys=True)), followed by
    "\0" and json.dumps(the slurm role's vars, sort_keys=True) when the spec has a scheduler (grid.render.slurm).
    `_fast_documents` computes the same JSON texts without building 10^5 dicts (see there); graphs it
    does not take fall back to the definition as written (`_documents_by_definition`). `pool_vars`: the
    group_vars of the host's pool, only when it has any (grid.render.own.pool_vars): they hold the digests of
    the user's roles and scripts the pool uses, so a change to one reaches exactly the hosts that run it.
    """
    documents = _fast_parts(cluster, graph, admin_public_key, connect_fabric, own)
    if documents is None:
        documents = _documents_by_definition(collect_inputs(cluster, graph, admin_public_key, connect_fabric, own))
    shared = hashlib.sha256()
    for name, text in shared_files(cluster, documents.play_roles):
        shared.update(name.encode() + b"\0" + text.encode() + b"\0")
    cluster_digest = "sha256:" + hashlib.sha256(documents.cluster_vars.encode()).hexdigest()
    hosts_text = documents.hosts_table
    slurm_text = ""
    if cluster.spec.scheduler is not None:
        # slurm.conf lists every node: Slurm's files change with the hosts table, and reach every host with it.
        from grid.render import slurm  # a cluster without Slurm never loads it

        slurm_text = "\0" + json.dumps(slurm.inventory_vars(cluster, graph), sort_keys=True)
        hosts_text += slurm_text
    hosts_digest = "sha256:" + hashlib.sha256(hosts_text.encode()).hexdigest()
    servers: set[str] = set()
    others, zone = hosts_digest, False
    if uses_dns(cluster):
        # Only each region's name server holds the table (grid.render.names): a node that comes or goes
        # changes their records, not the other hosts, whose part is what else their hosts-table play runs.
        # In a cloud's private zone no host holds it (the region's stack has the records).
        zone = in_private_zone(cluster)
        servers = set() if zone else server_addresses(cluster, graph, connect_fabric)
        hosts_digest = RECORDS_DIGEST + hashlib.sha256(hosts_text.encode()).hexdigest()
        rest = "names:zone" if zone else "names:dns"
        if firewall_follows_pools(cluster):
            rest += "\0" + documents.hosts_table
        rest += slurm_text
        others = "sha256:" + hashlib.sha256(rest.encode()).hexdigest()
    out: dict[str, HostDigests] = {}
    copy = shared.copy
    for address, document in documents.hosts:
        digest = copy()
        digest.update(document.encode())
        out[address] = HostDigests("sha256:" + digest.hexdigest(), cluster_digest,
                                   others if zone or (servers and address not in servers) else hosts_digest)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class _Documents:
    """The JSON texts the digests hash: (address, own document) per host, the all.yml vars without the
    hosts table, the hosts table, the play's roles. `hosts`: a list, or (`_fast_parts`) an iterator made
    once, so 10^5 documents (~60 MB) are hashed as they are made instead of all held at once."""

    hosts: Iterable[tuple[str, str]]
    cluster_vars: str
    hosts_table: str
    play_roles: list[str]


def _documents_by_definition(inputs: AnsibleInputs) -> _Documents:
    groups = host_groups(inputs)
    hosts = [(inputs.addresses[hostname],
              json.dumps({"hostname": hostname, "vars": host_vars, "groups": groups[hostname],
                          **_pool_part(inputs.pool_vars.get(group_name("pool", host_vars["grid_region"],
                                                                       host_vars["grid_pool"])))},
                         sort_keys=True))
             for hostname, host_vars in inputs.hosts.items()]
    return _Documents(hosts, json.dumps({**inputs.all_vars, "grid_hosts": None}, sort_keys=True),
                      json.dumps(inputs.all_vars["grid_hosts"], sort_keys=True), inputs.play_roles)


_encode = json.encoder.encode_basestring_ascii  # what json.dumps (ensure_ascii) writes for a str
_HOSTNAME, _ADDRESS, _INDEX, _HOSTS = "\0grid:hostname\0", "\0grid:address\0", "\0grid:index\0", "\0grid:hosts\0"


def _ip_mark(fabric: str) -> str:
    return f"\0grid:ip:{fabric}\0"


@dataclass(frozen=True)
class _Template:
    """The own-document JSON of one host shape, as a %-format with its placeholders in text order."""

    text: str
    marks: tuple[str, ...]
    connect: str = ""  # the placeholder of the IP Ansible connects to (ansible_host)
    ips: tuple[str, ...] = ()  # the IP placeholders in the order of the node's `fabrics`

    @functools.cached_property
    def pick(self) -> Callable[[dict[str, str]], tuple[str, ...]]:
        """values by placeholder -> the %-format's arguments."""
        getter = operator.itemgetter(*self.marks)
        return getter if len(self.marks) > 1 else lambda values: (getter(values),)

    @classmethod
    def of(cls, document: Any, expected: dict[str, int]) -> _Template | None:
        """`document` dumped with placeholder strings at the varying leaves (`expected`: how often each)."""
        text = json.dumps(document, sort_keys=True)
        encoded = {json.dumps(mark): mark for mark in expected}
        pattern = re.compile("(" + "|".join(re.escape(e) for e in encoded) + ")")
        parts = pattern.split(text)
        marks = tuple(encoded[e] for e in parts[1::2])
        if any(marks.count(mark) != count for mark, count in expected.items()):
            return None  # a spec value looks like a placeholder: leave it to the definition
        return cls("%s".join(part.replace("%", "%%") for part in parts[0::2]), marks)


def _pool_part(values: dict[str, Any] | None) -> dict[str, Any]:
    return {} if values is None else {"pool_vars": values}


def _fast_documents(cluster: Cluster, graph: ResourceGraph, admin_public_key: str,
                    connect_fabric: Mapping[str, str] | None, own: OwnFiles = NO_OWN_FILES) -> _Documents | None:
    """`_fast_parts` with its host documents in a list, as the definition gives them."""
    parts = _fast_parts(cluster, graph, admin_public_key, connect_fabric, own)
    return None if parts is None else dataclasses.replace(parts, hosts=list(parts.hosts))


def _fast_parts(cluster: Cluster, graph: ResourceGraph, admin_public_key: str,
                connect_fabric: Mapping[str, str] | None, own: OwnFiles = NO_OWN_FILES) -> _Documents | None:
    """The per-host JSON documents of `host_input_digests`, byte for byte, at a few µs per host, made while
    they are read (every check is done before the first one is made: None comes before any document).

    Hosts of one pool differ only in hostname, address, index and IPs, so each pool's document is
    dumped once with placeholders there (`_Template`) and filled per host with the JSON of those
    values. Taken only for graphs shaped as `grid.resources.expand` makes them (exact str/int types,
    unique hostnames, every fabric known and addressed); anything else returns None and the caller
    uses the definition, which also raises the errors a broken graph deserves.
    """
    key = admin_public_key.strip()
    if "\n" in key or admin_public_key.lstrip().startswith("-----BEGIN"):
        return None
    fabrics = {(r.region, r.attrs["name"]): r for r in graph.of_kind(Kind.FABRIC)}
    nodes = sorted(graph.of_kind(Kind.NODE), key=lambda r: r.attrs["hostname"])
    connect = connect_fabric or {}
    rows: list[tuple[str, str, int, dict[str, str], int]] = []  # the last: the shape's number in `shapes`
    shapes: dict[tuple[Any, ...], Resource] = {}
    shape_numbers: dict[tuple[Any, ...], int] = {}
    hostnames: set[str] = set()
    role_order: dict[str, None] = {}
    for node in nodes:
        attrs = node.attrs
        if type(attrs) is not dict:
            return None
        hostname, index, pool = attrs.get("hostname"), attrs.get("index"), attrs.get("pool")
        accelerator, accelerators = attrs.get("accelerator"), attrs.get("accelerators")
        ips, storage, roles = attrs.get("fabrics", {}), attrs.get("storage", {}), attrs.get("roles", [])
        if not (type(hostname) is str and type(index) is int and type(pool) is str
                and type(accelerator) is str and type(accelerators) is int and type(node.address) is str
                and type(node.region) is str and type(ips) is dict and type(storage) is dict
                and type(roles) is list and ips and hostname not in hostnames):
            return None
        hostnames.add(hostname)
        shape = (node.region, pool, accelerator, accelerators, tuple(ips), tuple(storage.items()),
                 tuple(roles))
        try:
            number = shape_numbers.get(shape)
        except TypeError:  # an unhashable value where the expanded graph has strings
            return None
        if number is None:
            if not _plain_shape(node.region, ips, storage, roles, fabrics, connect.get(node.region)):
                return None
            number = shape_numbers[shape] = len(shapes)
            shapes[shape] = node
            role_order.update(dict.fromkeys(roles))
        for ip in ips.values():
            if type(ip) is not str or not ip:
                return None
        rows.append((hostname, node.address, index, ips, number))
    role_groups: dict[str, str] = {}
    for role in role_order:
        if role_groups.setdefault(group_name("role", role), role) != role:
            return None  # two roles, one group name: the definition raises
    templates: list[tuple[tuple[str, ...], str, Callable[[dict[str, str]], tuple[str, ...]]]] = []
    connects: list[str] = []  # per shape, the fabric whose IP Ansible connects to (its ansible_host)
    by_pool = pools_vars(cluster, own)
    for node in shapes.values():  # in the order of the definition's loop: the same error first
        template = _shape_template(node, fabrics, connect, list(role_order),
                                   by_pool.get((node.region, node.attrs["pool"])))
        if template is None:
            return None
        names = [name for name in node.attrs["fabrics"] if _ip_mark(name) == template.connect]
        if not names:
            return None  # ansible_host is no fabric's IP (grid's connect rule never does that): the definition
        templates.append((template.ips, template.text, template.pick))
        connects.append(names[0])
    play_roles = site_roles(cluster.spec.configuration.roles, own.roles)
    grid_hosts = [f'{{"hostname": {_encode(hostname)}, "ip": {_encode(ips[connects[number]])}}}'
                  for hostname, _, _, ips, number in rows]
    shared = _Template.of(cluster_vars(cluster, admin_public_key, _HOSTS, names_vars(cluster, graph, connect)),
                          {_HOSTS: 1})
    if shared is None:
        return None
    return _Documents(_filled(rows, templates), shared.text % ("null",), "[" + ", ".join(grid_hosts) + "]",
                      play_roles)


def _filled(rows: list[tuple[str, str, int, dict[str, str], int]],
            templates: list[tuple[tuple[str, ...], str, Callable[[dict[str, str]], tuple[str, ...]]]],
            ) -> Iterator[tuple[str, str]]:
    """(address, own document) per row, its shape's template filled with the row's values."""
    for hostname, address, index, ips, number in rows:
        marks, text, pick = templates[number]  # by number: a shape's tuple hashes slowly
        values = dict(zip(marks, map(_encode, ips.values()), strict=True))
        values[_HOSTNAME], values[_ADDRESS], values[_INDEX] = _encode(hostname), _encode(address), repr(index)
        yield address, text % pick(values)


def _plain_shape(region: str, ips: dict[str, Any], storage: dict[str, Any], roles: list[Any],
                 fabrics: Mapping[tuple[str, str], Resource], explicit: str | None) -> bool:
    """Every value of this host shape is a plain string, every fabric known, the connect fabric present."""
    return (all(type(name) is str and (region, name) in fabrics for name in ips)
            and all(type(k) is str and type(v) is str for k, v in storage.items())
            and all(type(role) is str for role in roles)
            and (explicit is None or explicit in ips))


def _shape_template(node: Resource, fabrics: Mapping[tuple[str, str], Resource], connect: Mapping[str, str],
                    role_order: list[str], pool_values: dict[str, Any] | None) -> _Template | None:
    """The own document of `node` (as the definition builds it) with placeholders at the varying leaves."""
    attrs = node.attrs
    marks = {name: _ip_mark(name) for name in attrs.get("fabrics", {})}
    marked = Resource(_ADDRESS, node.kind, node.region,
                      {**attrs, "hostname": _HOSTNAME, "index": _INDEX, "fabrics": marks})
    host_vars = inventory_host_vars(marked, fabrics, connect)
    roles = list(attrs.get("roles", []))
    groups = [group_name("region", node.region), group_name("pool", node.region, attrs["pool"])]
    groups += [group_name("role", role) for role in role_order for _ in range(roles.count(role))]
    connect_mark = host_vars["ansible_host"]
    expected = {_HOSTNAME: 1, _ADDRESS: 1, _INDEX: 1, **{mark: 1 for mark in marks.values()}}
    expected[connect_mark] += 1  # also ansible_host
    template = _Template.of({"hostname": _HOSTNAME, "vars": host_vars, "groups": groups,
                             **_pool_part(pool_values)}, expected)
    if template is None:
        return None
    return _Template(template.text, template.marks, connect_mark, tuple(marks.values()))
