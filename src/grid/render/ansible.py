"""Render the Ansible side of a cluster: inventory, group vars, site.yml and roles, as {path: text}.

Pure and deterministic: the same cluster, graph and key give byte-identical files on any machine
(nothing machine-specific is baked in; the driver adds strategy, key and known_hosts at run time).

The inventory contract (inventory/hosts.yml, inventory/group_vars/all.yml):
  all → region_<region> → pool_<region>_<pool> → hosts; role_<role> groups (pool roles) under all.
  Group names use `_` for the `-` of spec names. Inventory hostname = node hostname (east-train-0000).
  Per host: ansible_host (IP on the connect fabric), grid_address, grid_region, grid_pool, grid_index,
  grid_accelerator, grid_accelerators, grid_fabrics [{name, ip, mtu, cidr}], grid_storage [{name, mount}],
  grid_roles.
  all.yml: ansible_user, ansible_port, grid_cluster, grid_admin_user, grid_admin_pubkey, grid_sysctl,
  grid_users [{name, sudo, authorized_keys}], grid_hosts [{hostname, ip}].
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, NamedTuple

import yaml

from grid.render.templating import render
from grid.resources import Kind, Resource, ResourceGraph
from grid.spec.model import Cluster

ALWAYS_ON_ROLES = ("base", "fabric", "storage-client")
"""Applied to every host: `base` first, the spec's configuration.roles in order, then the rest of these."""
DEFAULT_CONNECT_FABRIC = "mgmt"
CLUSTER_WIDE_TAG = "cluster-wide"
ACTION_PLUGINS = ("action_plugins/grid_node_ready.py", "action_plugins/grid_hosts_block.py",
                  "action_plugins/grid_accounts.py")
"""grid's own actions: the gate, the hosts table, the removal of accounts that left the spec."""

_HEADER = "# Rendered by grid for cluster {cluster}; do not edit: grid rewrites this file.\n"


@dataclass(frozen=True)
class _Inputs:
    """Everything the rendered files are made of, computed once for render and digests alike."""

    cluster: str
    hosts: dict[str, dict[str, Any]]  # hostname -> host vars
    addresses: dict[str, str]  # hostname -> resource address
    regions: dict[str, dict[str, list[str]]]  # region -> pool -> hostnames
    roles: dict[str, list[str]]  # pool role -> hostnames
    all_vars: dict[str, Any]
    play_roles: list[str]
    become: bool


def render_ansible(cluster: Cluster, graph: ResourceGraph, *, admin_public_key: str,
                   connect_fabric: Mapping[str, str] | None = None) -> dict[str, str]:
    """The self-contained Ansible directory for `cluster` as {relative path: content}."""
    inputs = _collect(cluster, graph, admin_public_key, connect_fabric)
    files: dict[str, str] = {
        "ansible.cfg": _static_file("ansible.cfg"),
        ".ansible-lint": _static_file("ansible-lint.yml"),  # a dotfile would not ship in the wheel
        **{name: _static_file(name) for name in ACTION_PLUGINS},
        "site.yml": _site_yml(inputs),
        "inventory/hosts.yml": _hosts_yml(inputs),
        "inventory/group_vars/all.yml": _all_yml(inputs),
    }
    for rel, text in _role_files():
        files[f"roles/{rel}"] = text
    return dict(sorted(files.items()))


class HostDigests(NamedTuple):
    """What Ansible would apply to one host, in three parts that change for different reasons."""

    node: str  # the host's own vars and groups, the roles, site.yml, ansible.cfg, grid's actions
    cluster: str  # inventory/group_vars/all.yml without the hosts table (users, keys, sysctls)
    hosts: str  # the hosts table (grid_hosts): changes whenever a node comes or goes


def host_input_digests(cluster: Cluster, graph: ResourceGraph, admin_public_key: str, *,
                       connect_fabric: Mapping[str, str] | None = None) -> dict[str, HostDigests]:
    """{node address: HostDigests} of what Ansible would apply to each host.

    A host whose digests are all unchanged needs no run; one whose `node` digest is unchanged needs
    only the cluster-wide tasks (tagged `cluster-wide`) when `cluster` changed, and only the hosts
    table task when `hosts` alone changed (a pool grew or shrank).

    Definition: node = sha256(shared files (roles, site.yml, ansible.cfg, action plugins), then
    json.dumps({"hostname", "vars", "groups"}, sort_keys=True)); cluster = sha256(json.dumps(all.yml vars
    with grid_hosts null, sort_keys=True)); hosts = sha256(json.dumps(grid_hosts, sort_keys=True)).
    `_fast_documents` computes the same JSON texts without building 10^5 dicts (see there); graphs it
    does not take fall back to the definition as written (`_documents_by_definition`).
    """
    documents = _fast_documents(cluster, graph, admin_public_key, connect_fabric)
    if documents is None:
        documents = _documents_by_definition(_collect(cluster, graph, admin_public_key, connect_fabric))
    shared = hashlib.sha256()
    for rel, text in _role_files():
        shared.update(rel.encode() + b"\0" + text.encode() + b"\0")
    site = _site_text(cluster.name, documents.play_roles, _become(cluster))
    # The actions are what some tasks run: a change to one is a change to every host's inputs.
    shared_files = [("site.yml", site), ("ansible.cfg", _static_file("ansible.cfg")),
                    *((name, _static_file(name)) for name in ACTION_PLUGINS)]
    for name, text in shared_files:
        shared.update(name.encode() + b"\0" + text.encode() + b"\0")
    cluster_digest = "sha256:" + hashlib.sha256(documents.cluster_vars.encode()).hexdigest()
    hosts_digest = "sha256:" + hashlib.sha256(documents.hosts_table.encode()).hexdigest()
    out: dict[str, HostDigests] = {}
    copy = shared.copy
    for address, own in documents.hosts:
        digest = copy()
        digest.update(own.encode())
        out[address] = HostDigests("sha256:" + digest.hexdigest(), cluster_digest, hosts_digest)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class _Documents:
    """The JSON texts the digests hash: (address, own document) per host, the all.yml vars without the
    hosts table, the hosts table, the play's roles."""

    hosts: list[tuple[str, str]]
    cluster_vars: str
    hosts_table: str
    play_roles: list[str]


def _documents_by_definition(inputs: _Inputs) -> _Documents:
    groups = _groups_of(inputs)
    hosts = [(inputs.addresses[hostname],
              json.dumps({"hostname": hostname, "vars": host_vars, "groups": groups[hostname]}, sort_keys=True))
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


def _fast_documents(cluster: Cluster, graph: ResourceGraph, admin_public_key: str,
                    connect_fabric: Mapping[str, str] | None) -> _Documents | None:
    """The per-host JSON documents of `host_input_digests`, byte for byte, at a few µs per host.

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
    rows: list[tuple[str, str, int, dict[str, str], tuple[Any, ...]]] = []
    shapes: dict[tuple[Any, ...], Resource] = {}
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
            known = shape in shapes
        except TypeError:  # an unhashable value where the expanded graph has strings
            return None
        if not known:
            if not _plain_shape(node.region, ips, storage, roles, fabrics, connect.get(node.region)):
                return None
            shapes[shape] = node
            role_order.update(dict.fromkeys(roles))
        for ip in ips.values():
            if type(ip) is not str or not ip:
                return None
        rows.append((hostname, node.address, index, ips, shape))
    role_groups: dict[str, str] = {}
    for role in role_order:
        if role_groups.setdefault(group_name("role", role), role) != role:
            return None  # two roles, one group name: the definition raises
    templates: dict[tuple[Any, ...], _Template] = {}
    for shape, node in shapes.items():  # in the order of the definition's loop: the same error first
        template = _shape_template(node, fabrics, connect, list(role_order))
        if template is None:
            return None
        templates[shape] = template
    play_roles = _play_roles(cluster.spec.configuration.roles)
    hosts: list[tuple[str, str]] = []
    grid_hosts: list[str] = []
    for hostname, address, index, ips, shape in rows:
        template = templates[shape]
        values = dict(zip(template.ips, map(_encode, ips.values()), strict=True))
        values[_HOSTNAME], values[_ADDRESS], values[_INDEX] = _encode(hostname), _encode(address), repr(index)
        hosts.append((address, template.text % template.pick(values)))
        grid_hosts.append(f'{{"hostname": {values[_HOSTNAME]}, "ip": {values[template.connect]}}}')
    shared = _Template.of(_cluster_vars(cluster, admin_public_key, _HOSTS), {_HOSTS: 1})
    if shared is None:
        return None
    return _Documents(hosts, shared.text % ("null",), "[" + ", ".join(grid_hosts) + "]", play_roles)


def _plain_shape(region: str, ips: dict[str, Any], storage: dict[str, Any], roles: list[Any],
                 fabrics: Mapping[tuple[str, str], Resource], explicit: str | None) -> bool:
    """Every value of this host shape is a plain string, every fabric known, the connect fabric present."""
    return (all(type(name) is str and (region, name) in fabrics for name in ips)
            and all(type(k) is str and type(v) is str for k, v in storage.items())
            and all(type(role) is str for role in roles)
            and (explicit is None or explicit in ips))


def _shape_template(node: Resource, fabrics: Mapping[tuple[str, str], Resource], connect: Mapping[str, str],
                    role_order: list[str]) -> _Template | None:
    """The own document of `node` (as the definition builds it) with placeholders at the varying leaves."""
    attrs = node.attrs
    marks = {name: _ip_mark(name) for name in attrs.get("fabrics", {})}
    marked = Resource(_ADDRESS, node.kind, node.region,
                      {**attrs, "hostname": _HOSTNAME, "index": _INDEX, "fabrics": marks})
    host_vars = _host_vars(marked, fabrics, connect)
    roles = list(attrs.get("roles", []))
    groups = [group_name("region", node.region), group_name("pool", node.region, attrs["pool"])]
    groups += [group_name("role", role) for role in role_order for _ in range(roles.count(role))]
    connect_mark = host_vars["ansible_host"]
    expected = {_HOSTNAME: 1, _ADDRESS: 1, _INDEX: 1, **{mark: 1 for mark in marks.values()}}
    expected[connect_mark] += 1  # also ansible_host
    template = _Template.of({"hostname": _HOSTNAME, "vars": host_vars, "groups": groups}, expected)
    if template is None:
        return None
    return _Template(template.text, template.marks, connect_mark, tuple(marks.values()))


def group_name(*parts: str) -> str:
    """An Ansible-safe group name: spec names may hold `-`, group names should not."""
    return "_".join(parts).replace("-", "_")


def _collect(cluster: Cluster, graph: ResourceGraph, admin_public_key: str,
             connect_fabric: Mapping[str, str] | None) -> _Inputs:
    if "\n" in admin_public_key.strip():
        raise ValueError("admin_public_key must be one public key line")
    if admin_public_key.lstrip().startswith("-----BEGIN"):
        raise ValueError("admin_public_key looks like a private key; pass the public key only")
    fabrics = {(r.region, r.attrs["name"]): r for r in graph.of_kind(Kind.FABRIC)}
    nodes = sorted(graph.of_kind(Kind.NODE), key=lambda r: r.attrs["hostname"])
    hosts: dict[str, dict[str, Any]] = {}
    addresses: dict[str, str] = {}
    regions: dict[str, dict[str, list[str]]] = {}
    roles: dict[str, list[str]] = {}
    role_groups: dict[str, str] = {}
    for node in nodes:
        hostname = str(node.attrs["hostname"])
        host_vars = _host_vars(node, fabrics, connect_fabric or {})
        hosts[hostname] = host_vars
        addresses[hostname] = node.address
        regions.setdefault(node.region, {}).setdefault(str(node.attrs["pool"]), []).append(hostname)
        for role in host_vars["grid_roles"]:
            group = group_name("role", role)
            if role_groups.setdefault(group, role) != role:
                raise ValueError(f"pool roles {role_groups[group]!r} and {role!r} map to one group {group!r}")
            roles.setdefault(role, []).append(hostname)
    config = cluster.spec.configuration
    all_vars = _cluster_vars(cluster, admin_public_key,
                             [{"hostname": h, "ip": v["ansible_host"]} for h, v in hosts.items()])
    return _Inputs(cluster.name, hosts, addresses, regions, roles, all_vars,
                   _play_roles(config.roles), _become(cluster))


def _cluster_vars(cluster: Cluster, admin_public_key: str, grid_hosts: Any) -> dict[str, Any]:
    """The vars of inventory/group_vars/all.yml."""
    config = cluster.spec.configuration
    return {
        "ansible_user": cluster.spec.defaults.ssh.user,
        "ansible_port": cluster.spec.defaults.ssh.port,
        # Named, not discovered: discovery costs a round trip per host and doubles connection time.
        "ansible_python_interpreter": ("auto_silent" if cluster.spec.defaults.python == "auto"
                                       else cluster.spec.defaults.python),
        "grid_cluster": cluster.name,
        "grid_admin_user": config.admin_user,
        "grid_admin_pubkey": admin_public_key.strip(),
        "grid_sysctl": {key: config.sysctl[key] for key in sorted(config.sysctl)},
        "grid_users": [{"name": u.name, "sudo": u.sudo, "authorized_keys": list(u.authorized_keys)}
                       for u in sorted(config.users, key=lambda u: u.name)],
        "grid_hosts": grid_hosts,
    }


def _host_vars(node: Resource, fabrics: Mapping[tuple[str, str], Resource],
               connect_fabric: Mapping[str, str]) -> dict[str, Any]:
    attrs = node.attrs
    ips: Mapping[str, str] = attrs.get("fabrics", {})
    grid_fabrics = []
    for name in sorted(ips):
        fabric = fabrics.get((node.region, name))
        if fabric is None or not ips[name]:
            raise ValueError(f"{node.address}: no address on fabric {name!r}")
        grid_fabrics.append({"name": name, "ip": ips[name], "mtu": fabric.attrs["mtu"],
                             "cidr": fabric.attrs["cidr"]})
    storage: Mapping[str, str] = attrs.get("storage", {})
    return {
        "ansible_host": _connect_ip(node, ips, connect_fabric.get(node.region)),
        "grid_address": node.address,
        "grid_region": node.region,
        "grid_pool": attrs["pool"],
        "grid_index": attrs["index"],
        "grid_accelerator": attrs["accelerator"],
        "grid_accelerators": attrs["accelerators"],
        "grid_fabrics": grid_fabrics,
        "grid_storage": [{"name": name, "mount": storage[name]} for name in sorted(storage)],
        "grid_roles": list(attrs.get("roles", [])),
    }


def _connect_ip(node: Resource, ips: Mapping[str, str], explicit: str | None) -> str:
    if explicit is not None:
        if not ips.get(explicit):
            raise ValueError(f"{node.address}: not on connect fabric {explicit!r}")
        return ips[explicit]
    if ips.get(DEFAULT_CONNECT_FABRIC):
        return ips[DEFAULT_CONNECT_FABRIC]
    for ip in ips.values():  # the pool's first fabric (attrs keep the pool's order)
        if ip:
            return ip
    address = node.attrs.get("address")  # existing hosts without fabrics
    if isinstance(address, str) and address:
        return address
    raise ValueError(f"{node.address}: no fabric address to connect to")


def _play_roles(configured: list[str]) -> list[str]:
    available = set(available_roles())
    ordered = list(dict.fromkeys(["base", *configured, *ALWAYS_ON_ROLES]))
    unknown = [role for role in ordered if role not in available]
    if unknown:
        raise ValueError(f"unknown configuration role(s) {', '.join(unknown)}; "
                         f"available: {', '.join(sorted(available))}")
    return ordered


def _groups_of(inputs: _Inputs) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {h: [] for h in inputs.hosts}
    for region, pools in inputs.regions.items():
        for pool, members in pools.items():
            for hostname in members:
                groups[hostname] += [group_name("region", region), group_name("pool", region, pool)]
    for role, members in inputs.roles.items():
        for hostname in members:
            groups[hostname].append(group_name("role", role))
    return groups


def _hosts_yml(inputs: _Inputs) -> str:
    children: dict[str, Any] = {}
    for region in sorted(inputs.regions):
        pools = inputs.regions[region]
        children[group_name("region", region)] = {"children": {
            group_name("pool", region, pool): {"hosts": {h: inputs.hosts[h] for h in pools[pool]}}
            for pool in sorted(pools)}}
    for role in sorted(inputs.roles):
        children[group_name("role", role)] = {"hosts": {h: None for h in inputs.roles[role]}}
    return _yaml(inputs.cluster, {"all": {"children": children}})


def _all_yml(inputs: _Inputs) -> str:
    return _yaml(inputs.cluster, inputs.all_vars)


def _site_yml(inputs: _Inputs) -> str:
    return _site_text(inputs.cluster, inputs.play_roles, inputs.become)


def _site_text(cluster: str, roles: list[str], become: bool) -> str:
    return render("ansible/site.yml.j2", cluster=cluster, roles=roles, become=become)


def _become(cluster: Cluster) -> bool:
    return cluster.spec.defaults.ssh.user != "root"


class _Dumper(yaml.SafeDumper):
    """Indents block sequences under their key, as yamllint (and so ansible-lint) wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _yaml(cluster: str, value: Any) -> str:
    body = yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1000,
                     allow_unicode=False)
    return _HEADER.format(cluster=cluster) + "---\n" + body


def _templates() -> Traversable:
    return resources.files("grid") / "templates" / "ansible"


@functools.cache
def _static_file(name: str) -> str:
    return (_templates() / name).read_text()


@functools.cache
def available_roles() -> tuple[str, ...]:
    """Names of the Ansible roles grid ships: what spec.configuration.roles may list."""
    return tuple(sorted(p.name for p in (_templates() / "roles").iterdir() if p.is_dir()))


@functools.cache
def _role_files() -> tuple[tuple[str, str], ...]:
    """(path under roles/, text) of every role file, sorted."""
    out: list[tuple[str, str]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name.startswith(".") or child.name == "__pycache__":
                continue
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                out.append((rel, child.read_text()))

    walk(_templates() / "roles", "")
    return tuple(sorted(out))
