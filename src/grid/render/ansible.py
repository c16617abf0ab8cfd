"""Render the Ansible side of a cluster: inventory, group vars, site.yml and roles, as {path: text}.

Pure and deterministic: the same cluster, graph and key give byte-identical files on any machine
(nothing machine-specific is baked in; the driver adds strategy, key and known_hosts at run time).

The inventory contract (inventory/hosts.yml, inventory/group_vars/all.yml):
  all → region_<region> → pool_<region>_<pool> → hosts; role_<role> groups (pool roles) under all;
  grid_own_config (children: the pool groups with limits, roles or scripts of their own) when there are any.
  Group names use `_` for the `-` of spec names. Inventory hostname = node hostname (east-train-0000).
  Per host: ansible_host (grid.resources.connect_ip), grid_address, grid_region, grid_pool, grid_index,
  grid_accelerator, grid_accelerators, grid_fabrics [{name, ip, mtu, cidr}], grid_storage [{name, mount}],
  grid_roles.
  all.yml: ansible_user, ansible_port, grid_cluster, grid_admin_user, grid_admin_pubkey, grid_sysctl,
  grid_users [{name, sudo, authorized_keys}], grid_hosts [{hostname, ip}].
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from grid.render import fast_yaml
from grid.render.ansible_roles import INTERNAL_ROLES as INTERNAL_ROLES
from grid.render.ansible_roles import SLURM_ROLE as SLURM_ROLE
from grid.render.ansible_roles import available_roles as available_roles
from grid.render.ansible_roles import group_name as group_name
from grid.render.leftovers import NO_LEFTOVERS, Leftovers
from grid.render.names import names_vars, served_by_nodes, uses_dns_vars
from grid.render.network import FIREWALL_ROLE, firewall_follows_pools, firewall_vars, has_policy
from grid.render.own import NO_OWN_FILES, OWN_CONFIG_ROLE, OwnFiles, pool_vars, script_file
from grid.render.templating import render_cached
from grid.resources import Kind, Resource, ResourceGraph, connect_ip
from grid.spec.model import Cluster

ALWAYS_ON_ROLES = ("base", "fabric", "storage-client")
"""Applied to every host: `base` first, the spec's configuration.roles in order, then the rest of these."""
PLACED_ROLES = (FIREWALL_ROLE, OWN_CONFIG_ROLE)
"""grid's roles site.yml places itself, only where they have work (a spec naming `firewall` changes nothing):
`firewall` with a network policy, `own-config` for the hosts of pools with limits, roles or scripts of their own."""
OWN_CONFIG_GROUP = "grid_own_config"
"""The inventory group of the hosts own-config plays on: the pool groups with limits, roles or scripts."""
CLUSTER_WIDE_TAG = "cluster-wide"
ACTION_PLUGINS = ("action_plugins/grid_node_ready.py", "action_plugins/grid_hosts_block.py",
                  "action_plugins/grid_accounts.py", "action_plugins/grid_authorized_keys.py",
                  "action_plugins/grid_files.py", "action_plugins/grid_hostname.py",
                  "action_plugins/grid_fabric_mtu.py", "action_plugins/grid_mounts.py",
                  "action_plugins/grid_command.py")
"""grid's own actions: the gate, the hosts table, the removal of accounts that left the spec, authorized_keys,
small files in one task, the hostname, the fabrics' MTUs, the mount points, a command's argv (each in one task,
no Python on the host: a task costs every host a turn)."""

_HEADER = "# Rendered by grid for cluster {cluster}; do not edit: grid rewrites this file.\n"


@dataclass(frozen=True)
class AnsibleInputs:
    """Everything the rendered files are made of, computed once for render and digests (grid.plan.digests) alike."""

    cluster: str
    hosts: dict[str, dict[str, Any]]  # hostname -> host vars
    addresses: dict[str, str]  # hostname -> resource address
    regions: dict[str, dict[str, list[str]]]  # region -> pool -> hostnames
    roles: dict[str, list[str]]  # pool role -> hostnames
    all_vars: dict[str, Any]
    play_roles: list[str]
    become: bool
    pool_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # pool group -> its group_vars
    own: OwnFiles = NO_OWN_FILES
    firewall: bool = False  # the spec declares a network policy
    firewall_follows_pools: bool = False  # a rule names `pool:NAME`: the hosts-table play updates the rules too
    slurm_vars: dict[str, Any] = field(default_factory=dict)  # the slurm role's all.yml vars (a scheduler)
    slurmd_groups: list[str] = field(default_factory=list)  # the pool groups whose hosts run slurmd

    @property
    def directories(self) -> bool:
        """Some host has directories to make (node-local scratch, mount points with a mode)."""
        return any("grid_directories" in host_vars for host_vars in self.hosts.values())

    @property
    def own_config_groups(self) -> list[str]:
        """The pool groups whose hosts own-config has work on (limits, the user's roles, scripts)."""
        return [group for group, values in self.pool_vars.items()
                if values["grid_limits"] or values["grid_own_roles"] or values["grid_scripts"]]


def render_ansible(cluster: Cluster, graph: ResourceGraph, *, admin_public_key: str,
                   connect_fabric: Mapping[str, str] | None = None, own: OwnFiles = NO_OWN_FILES,
                   leftovers: Leftovers = NO_LEFTOVERS) -> dict[str, str]:
    """The self-contained Ansible directory for `cluster` as {relative path: content}; `own`: the user's roles
    and scripts the spec names (grid.validate.roles.own_files); `leftovers`: what the spec last applied left on
    the nodes that this one no longer has (grid.render.leftovers), removed by the playbook."""
    inputs = collect_inputs(cluster, graph, admin_public_key, connect_fabric, own)
    files: dict[str, str] = {
        "ansible.cfg": _static_file("ansible.cfg"),
        ".ansible-lint": _static_file("ansible-lint.yml"),  # a dotfile would not ship in the wheel
        **{name: _static_file(name) for name in ACTION_PLUGINS},
        "site.yml": _site_yml(inputs, leftovers),
        "inventory/hosts.yml": _hosts_yml(inputs),
        "inventory/group_vars/all.yml": _all_yml(inputs),
    }
    for rel, text in _role_files(cluster.spec.scheduler is not None):
        files[f"roles/{rel}"] = text
    files.update(own_files_rendered(inputs))
    return dict(sorted(files.items()))


def own_files_rendered(inputs: AnsibleInputs) -> dict[str, str]:
    """Per-pool group_vars, the user's roles (roles/<name>/...) and scripts (scripts/<run>) the hosts use."""
    files = {f"inventory/group_vars/{group}.yml": _yaml(inputs.cluster, values)
             for group, values in inputs.pool_vars.items()}
    for role in sorted({r["name"] for values in inputs.pool_vars.values() for r in values["grid_own_roles"]}):
        for rel, text in inputs.own.roles[role]:
            files[f"roles/{role}/{rel}"] = text
    for run in sorted({s["run"] for values in inputs.pool_vars.values() for s in values["grid_scripts"]}):
        files[script_file(run)] = inputs.own.scripts[run]
    return files


def collect_inputs(cluster: Cluster, graph: ResourceGraph, admin_public_key: str,
                   connect_fabric: Mapping[str, str] | None, own: OwnFiles = NO_OWN_FILES) -> AnsibleInputs:
    """What the inventory and site.yml are made of; raises ValueError for a key or graph it cannot render."""
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
        host_vars = inventory_host_vars(node, fabrics, connect_fabric or {})
        hosts[hostname] = host_vars
        addresses[hostname] = node.address
        regions.setdefault(node.region, {}).setdefault(str(node.attrs["pool"]), []).append(hostname)
        for role in host_vars["grid_roles"]:
            group = group_name("role", role)
            if role_groups.setdefault(group, role) != role:
                raise ValueError(f"pool roles {role_groups[group]!r} and {role!r} map to one group {group!r}")
            roles.setdefault(role, []).append(hostname)
    config = cluster.spec.configuration
    all_vars = cluster_vars(cluster, admin_public_key,
                            [{"hostname": h, "ip": v["ansible_host"]} for h, v in hosts.items()],
                            names_vars(cluster, graph, connect_fabric))
    by_pool = pools_vars(cluster, own)
    groups = {group_name("pool", region, pool): by_pool[region, pool]
              for region, pools in regions.items() for pool in pools if (region, pool) in by_pool}
    slurm_vars: dict[str, Any] = {}
    slurmd_groups: list[str] = []
    if cluster.spec.scheduler is not None:
        from grid.render import slurm  # a cluster without Slurm never loads it

        slurm_vars = slurm.inventory_vars(cluster, graph)
        slurmd_groups = [group_name("pool", region, pool) for region, pool in slurm.slurmd_pools(cluster)
                         if pool in regions.get(region, {})]
    return AnsibleInputs(cluster.name, hosts, addresses, regions, roles, all_vars,
                         site_roles(config.roles, own.roles), _become(cluster), dict(sorted(groups.items())), own,
                         has_policy(cluster), firewall_follows_pools(cluster), slurm_vars, slurmd_groups)


def pools_vars(cluster: Cluster, own: OwnFiles) -> dict[tuple[str, str], dict[str, Any]]:
    """{(region, pool): its group_vars} for the pools that have any (grid.render.own.pool_vars)."""
    grid_roles = available_roles()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for region in cluster.spec.regions:
        for pool in region.pools:
            values = pool_vars(cluster, pool, own, grid_roles)
            if values is not None:
                out[region.name, pool.name] = values
    return out


def cluster_vars(cluster: Cluster, admin_public_key: str, grid_hosts: Any,
                 names: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The vars of inventory/group_vars/all.yml (`names`: grid.render.names.names_vars)."""
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
        **firewall_vars(cluster),  # only when the spec declares a network policy
        **(names or {}),  # only with `configuration.names: dns`
    }


def inventory_host_vars(node: Resource, fabrics: Mapping[tuple[str, str], Resource],
                        connect_fabric: Mapping[str, str]) -> dict[str, Any]:
    """The vars of `node` in inventory/hosts.yml (`fabrics`: the graph's fabrics by (region, name))."""
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
        "ansible_host": _connect_ip(node, connect_fabric.get(node.region)),
        "grid_address": node.address,
        "grid_region": node.region,
        "grid_pool": attrs["pool"],
        "grid_index": attrs["index"],
        "grid_accelerator": attrs["accelerator"],
        "grid_accelerators": attrs["accelerators"],
        "grid_fabrics": grid_fabrics,
        "grid_storage": [{"name": name, "mount": storage[name]} for name in sorted(storage)],
        "grid_roles": list(attrs.get("roles", [])),
        # Storage mounted as people mount it (grid.resources._placement): only where a pool has any.
        **({"grid_mounts": [{"name": b["storage"], "mount": b["path"], "read_only": "ro" in b["options"]}
                            for b in attrs["mounts"]]} if attrs.get("mounts") else {}),
        **({"grid_directories": [{"name": d["storage"], "path": d["path"], "mode": d["mode"]}
                                 for d in attrs["directories"]]} if attrs.get("directories") else {}),
    }


def _connect_ip(node: Resource, explicit: str | None) -> str:
    """ansible_host: grid's one connect rule (grid.resources.connect_ip); a node it finds nothing for is an error."""
    ip = connect_ip(node, fabric=explicit)
    if ip:
        return ip
    if explicit is not None:
        raise ValueError(f"{node.address}: not on connect fabric {explicit!r}")
    raise ValueError(f"{node.address}: no fabric address to connect to")


def site_roles(configured: list[str], own_roles: Collection[str] = ()) -> list[str]:
    """grid's roles site.yml's Configure play lists for every host, in order (the user's, `own_roles`, are played
    per pool by own-config; PLACED_ROLES where they have work); raises ValueError for a role that is neither
    grid's nor the user's."""
    available = {*available_roles(), *INTERNAL_ROLES}
    unknown = [role for role in dict.fromkeys(configured) if role not in own_roles and role not in available]
    ordered = list(dict.fromkeys(["base", *(r for r in configured if r not in own_roles and r not in PLACED_ROLES),
                                  *ALWAYS_ON_ROLES]))
    if unknown:
        raise ValueError(f"unknown configuration role(s) {', '.join(unknown)}; "
                         f"available: {', '.join(sorted(available))}")
    return ordered


def host_groups(inputs: AnsibleInputs) -> dict[str, list[str]]:
    """{hostname: the inventory groups it is in}: region, pool, then its roles."""
    groups: dict[str, list[str]] = {h: [] for h in inputs.hosts}
    for region, pools in inputs.regions.items():
        for pool, members in pools.items():
            for hostname in members:
                groups[hostname] += [group_name("region", region), group_name("pool", region, pool)]
    for role, members in inputs.roles.items():
        for hostname in members:
            groups[hostname].append(group_name("role", role))
    return groups


def _hosts_yml(inputs: AnsibleInputs) -> str:
    children: dict[str, Any] = {}
    for region in sorted(inputs.regions):
        pools = inputs.regions[region]
        children[group_name("region", region)] = {"children": {
            group_name("pool", region, pool): {"hosts": {h: inputs.hosts[h] for h in pools[pool]}}
            for pool in sorted(pools)}}
    for role in sorted(inputs.roles):
        children[group_name("role", role)] = {"hosts": {h: None for h in inputs.roles[role]}}
    if inputs.own_config_groups:
        children[OWN_CONFIG_GROUP] = {"children": {group: None for group in inputs.own_config_groups}}
    if inputs.slurmd_groups:
        from grid.render.slurm import SLURMD_GROUP

        children[SLURMD_GROUP] = {"children": {group: None for group in inputs.slurmd_groups}}
    return _yaml(inputs.cluster, {"all": {"children": children}})


def _all_yml(inputs: AnsibleInputs) -> str:
    return _yaml(inputs.cluster, {**inputs.all_vars, **inputs.slurm_vars})


def _site_yml(inputs: AnsibleInputs, leftovers: Leftovers) -> str:
    without_limits = any(not inputs.pool_vars.get(group_name("pool", region, pool), {}).get("grid_limits")
                         for region, pools in inputs.regions.items() for pool in pools)
    plays = _SitePlays(
        directories=inputs.directories, firewall=inputs.firewall, firewall_follows_pools=inputs.firewall_follows_pools,
        own_config=bool(inputs.own_config_groups),
        remove_firewall=leftovers.network_policy and not inputs.firewall,
        remove_limits=leftovers.limits and without_limits,  # hosts that keep limits have their file rewritten
        remove_names=leftovers.names and not uses_dns_vars(inputs.all_vars),
        slurm=bool(inputs.slurm_vars), names=uses_dns_vars(inputs.all_vars))
    return _site_text(inputs.cluster, inputs.play_roles, inputs.become, plays)


def shared_files(cluster: Cluster, play_roles: list[str]) -> list[tuple[str, str]]:
    """(name, text) of the files every host's run reads alike: each role file (by its path under roles/),
    site.yml, ansible.cfg and grid's actions (what some tasks run), in that order.

    site.yml as hashed here has the directories, firewall and own-config parts whatever the spec: whether a host
    plays them follows from all.yml (grid_firewall, in the cluster digest), its own vars (grid_directories) and
    its pool's group_vars (both in its own document), so adding a policy or a pool's limits reaches exactly the
    hosts it changes, in the scope it needs. The removals of leftovers are not in it: they ride on the run
    those changes cause (grid.render.leftovers)."""
    plays = _SitePlays(directories=True, firewall=True, firewall_follows_pools=firewall_follows_pools(cluster),
                       own_config=True, slurm=cluster.spec.scheduler is not None,
                       names=served_by_nodes(cluster))
    return [*_role_files(cluster.spec.scheduler is not None),
            ("site.yml", _site_text(cluster.name, play_roles, _become(cluster), plays)),
            ("ansible.cfg", _static_file("ansible.cfg")), *((name, _static_file(name)) for name in ACTION_PLUGINS)]


@dataclass(frozen=True)
class _SitePlays:
    """The parts of site.yml only some clusters have."""

    directories: bool = False  # storage-client's directories.yml before the full play's roles
    firewall: bool = False  # the firewall role in the full and cluster-wide plays
    # Only a policy naming pools puts the firewall in the hosts-table play: every other cluster's hosts-table
    # run (the one all nodes get when a node comes or goes) stays one task.
    firewall_follows_pools: bool = False
    own_config: bool = False  # a play of own-config for the hosts of OWN_CONFIG_GROUP
    remove_firewall: bool = False  # grid's rules removed in the full and cluster-wide plays
    remove_limits: bool = False  # grid's limits.d file removed where a host has no limits
    remove_names: bool = False  # the name service stopped and its files removed (it was dns, now hosts_file)
    slurm: bool = False  # a play of the slurm role for every host of the run (the spec has a scheduler)
    names: bool = False  # the name service's tasks (configuration.names: dns; grid.render.names)


def _site_text(cluster: str, roles: list[str], become: bool, plays: _SitePlays) -> str:
    # Cached: the host digests hash it on every plan, and a no-op `grid up` would load Jinja2 only for it.
    return render_cached("ansible/site.yml.j2", cluster=cluster, roles=roles, become=become,
                         **dataclasses.asdict(plays))


def _become(cluster: Cluster) -> bool:
    return cluster.spec.defaults.ssh.user != "root"


class _Dumper(yaml.SafeDumper):
    """Indents block sequences under their key, as yamllint (and so ansible-lint) wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _yaml(cluster: str, value: Any) -> str:
    body = fast_yaml.dump(value, _scalar_text)  # PyYAML's bytes, faster (grid.render.fast_yaml)
    if body is None:
        body = _pyyaml(value)
    return _HEADER.format(cluster=cluster) + "---\n" + body


def _pyyaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1000, allow_unicode=False)


def _scalar_text(value: Any) -> str:
    """How _pyyaml writes `value` as a mapping's value."""
    return _pyyaml({"k": value})[3:-1]


def _templates() -> Traversable:
    return resources.files("grid.templates") / "ansible"


@functools.cache
def _static_file(name: str) -> str:
    return (_templates() / name).read_text()


@functools.cache
def _role_files(slurm: bool) -> tuple[tuple[str, str], ...]:
    """(path under roles/, text) of every role file, sorted; the slurm role's only for a spec with a scheduler
    (so that a change to it reaches no other cluster's hosts)."""
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
    return tuple(sorted(item for item in out if slurm or not item[0].startswith(f"{SLURM_ROLE}/")))
