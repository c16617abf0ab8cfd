"""Which hosts `grid import` looks at: an Ansible inventory, CIDRs to probe on port 22, or an existing spec.

Each source gives `Candidate`s: a name, the address and port to reach it on, and whatever the source already
says of its region and pool (an inventory in grid's shape, an existing-target spec). Nothing here logs in.
A probe only opens and closes TCP connections to port 22 of addresses inside the CIDRs the operator typed.
"""

from __future__ import annotations

import configparser
import ipaddress
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grid.errors import GridError

MAX_PROBE_PREFIX = 20  # at most a /20 (4094 addresses) per CIDR: a typo such as /8 must not sweep a network
PROBE_PARALLEL = 64
PROBE_TIMEOUT_S = 1.0
SSH_PORT = 22
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Candidate:
    """A host to import, as its source names it."""

    name: str  # a DNS label (made one from the source's name or the address)
    address: str  # IPv4 address to connect to
    port: int = SSH_PORT
    region: str = ""  # "" when the source does not say
    pool: str = ""
    user: str = ""  # the source's SSH user (ansible_user), "" when it gives none


class SourceError(GridError):
    """A host source that cannot be used: the file, the CIDR or the spec, and how to fix it."""


NAME_MAX = 20  # grid.spec.model.Name


def host_name(text: str) -> str:
    """A spec name (a DNS label of at most 20 characters, starting with a letter) for a source's host name:
    `GPU_01.example.org` → `gpu-01`, `10.0.0.7` → `host-10-0-0-7`."""
    label = text.split(".")[0] if not _is_ip(text) else "host-" + text.replace(".", "-")
    name = _NAME_CHARS.sub("-", label.lower()).strip("-")
    if not name[:1].isalpha():
        name = "h-" + name
    return name[:NAME_MAX].strip("-")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


# -- an Ansible inventory ------------------------------------------------------------------------------------

def from_inventory(path: Path) -> list[Candidate]:
    """Hosts of an Ansible inventory, YAML or INI; `ansible_host`, `ansible_port`, `ansible_user`,
    `grid_region` and `grid_pool` are honoured where given. Each host needs an IPv4 address (its
    `ansible_host`, or its name)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read the inventory {path}: {exc}", "--inventory names an Ansible inventory "
                          "file (YAML or INI)") from None
    hosts = _yaml_hosts(text) if _looks_yaml(text) else _ini_hosts(text, path)
    if not hosts:
        raise SourceError(f"the inventory {path} names no hosts",
                          "an Ansible inventory lists hosts under `all: hosts:` or groups (YAML), or one per line "
                          "under [group] headings (INI)")
    return [_candidate(name, values, f"{path}: host {name}") for name, values in hosts.items()]


def _looks_yaml(text: str) -> bool:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(document, dict)


def _yaml_hosts(text: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, values in _walk(yaml.safe_load(text) or {}, {}):
        found.setdefault(name, {}).update(values)
    return found


def _walk(groups: Mapping[str, Any], inherited: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for group in groups.values():
        if not isinstance(group, dict):
            continue
        own = group.get("vars")
        group_vars = {**inherited, **(own if isinstance(own, dict) else {})}
        members = group.get("hosts")
        for host, host_vars in (members.items() if isinstance(members, dict) else ()):
            yield str(host), {**group_vars, **(host_vars if isinstance(host_vars, dict) else {})}
        children = group.get("children")
        yield from _walk(children if isinstance(children, dict) else {}, group_vars)


def _ini_hosts(text: str, path: Path) -> dict[str, dict[str, Any]]:
    """`[group]` sections of `name key=value ...` lines; `[group:vars]` apply to the group's hosts,
    `[group:children]` are followed."""
    parser = configparser.ConfigParser(allow_no_value=True, delimiters=("\0",), interpolation=None,
                                       comment_prefixes=("#", ";"), strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # host names keep their case
    try:
        parser.read_string("[ungrouped]\n" + text, source=str(path))
    except configparser.Error as exc:
        raise SourceError(f"cannot read the inventory {path}: {exc}",
                          "give a YAML or INI Ansible inventory") from None
    members: dict[str, dict[str, dict[str, Any]]] = {}
    children: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        group, _, kind = section.partition(":")
        lines = [line for line in parser[section] if line.strip()]
        if kind == "vars":
            group_vars[group] = dict(_pair(word) for line in lines for word in shlex.split(line) if "=" in word)
        elif kind == "children":
            children[group] = [line.split()[0] for line in lines]
        else:
            for line in lines:
                words = shlex.split(line)
                members.setdefault(group, {})[words[0]] = dict(_pair(w) for w in words[1:] if "=" in w)
    found: dict[str, dict[str, Any]] = {}

    def visit(group: str, inherited: Mapping[str, Any], seen: frozenset[str]) -> None:
        values = {**inherited, **group_vars.get(group, {})}
        for host, host_vars in members.get(group, {}).items():
            found.setdefault(host, {}).update({**values, **host_vars})
        for child in children.get(group, []):
            if child not in seen:
                visit(child, values, seen | {child})

    for group in [*members, *children]:
        visit(group, {}, frozenset({group}))
    return found


def _pair(word: str) -> tuple[str, str]:
    key, _, value = word.partition("=")
    return key, value


def _candidate(name: str, values: Mapping[str, Any], where: str) -> Candidate:
    address = str(values.get("ansible_host", name))
    if not _is_ip(address):
        raise SourceError(f"{where}: '{address}' is not an IPv4 address",
                          "give the host's address as ansible_host (grid does not resolve names)")
    try:
        port = int(values.get("ansible_port", SSH_PORT))
    except (TypeError, ValueError):
        raise SourceError(f"{where}: ansible_port {values.get('ansible_port')!r} is not a port number",
                          "ansible_port is a whole number, 1-65535") from None
    if not 1 <= port <= 65535:
        raise SourceError(f"{where}: ansible_port {port} is not a port number", "ansible_port is 1-65535")
    return Candidate(host_name(name), address, port, str(values.get("grid_region", "")),
                     str(values.get("grid_pool", "")), str(values.get("ansible_user", "")))


# -- CIDRs to probe -------------------------------------------------------------------------------------------

Knock = Callable[[str, int, float], bool]
"""(address, port, timeout) -> whether something accepts a TCP connection there."""


def knock(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_networks(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network]:
    """The CIDRs as networks; a SourceError for one that is not an IPv4 CIDR or is wider than a /20."""
    networks: list[ipaddress.IPv4Network] = []
    for text in cidrs:
        try:
            network = ipaddress.IPv4Network(text.strip(), strict=True)
        except ValueError as exc:
            raise SourceError(f"--probe {text!r} is not an IPv4 network: {exc}",
                              "give a CIDR such as 10.1.2.0/24 (its address part ending where the prefix "
                              "says: 10.1.2.0/24, not 10.1.2.7/24)") from None
        if network.prefixlen < MAX_PROBE_PREFIX:
            raise SourceError(f"--probe {text} covers {network.num_addresses} addresses: grid probes at most a "
                              f"/{MAX_PROBE_PREFIX} per CIDR",
                              f"split it into /{MAX_PROBE_PREFIX} or smaller networks, each given with --probe")
        networks.append(network)
    return networks


def probe_addresses(networks: Iterable[ipaddress.IPv4Network]) -> list[str]:
    """Every address a probe of `networks` may knock on: their hosts (a /31 and /32 are all hosts), no other."""
    seen: dict[str, None] = {}
    for network in networks:
        for address in (network.hosts() if network.prefixlen < 31 else network):
            seen.setdefault(str(address))
    return list(seen)


def from_probe(cidrs: Iterable[str], *, port: int = SSH_PORT, knocker: Knock = knock,
               timeout: float = PROBE_TIMEOUT_S) -> list[Candidate]:
    """The addresses within `cidrs` that accept a connection on `port`, named after their address."""
    addresses = probe_addresses(probe_networks(cidrs))
    with ThreadPoolExecutor(max_workers=max(1, min(PROBE_PARALLEL, len(addresses)))) as pool:
        answering = [a for a, ok in zip(addresses, pool.map(lambda a: knocker(a, port, timeout), addresses),
                                        strict=True) if ok]
    return [Candidate(host_name(a), a, port) for a in answering]


# -- a spec of target existing -----------------------------------------------------------------------------------

def from_spec(path: Path) -> tuple[list[Candidate], str, str]:
    """(its hosts, its cluster name, its SSH user) of a spec of target `existing`."""
    from grid.spec import load_spec
    from grid.spec.inventory import inventory_hosts, resolve_inventory
    from grid.spec.targets import traits_of

    loaded = load_spec(str(path))
    if loaded.cluster is None:
        raise SourceError(f"--from-spec {path} does not load as a spec",
                          f"`grid validate {path}` says what is wrong with it")
    cluster = loaded.cluster
    if traits_of(cluster).imports_from != "hosts":
        raise SourceError(f"--from-spec {path} has target '{cluster.spec.target}', not 'existing'",
                          "give a spec whose hosts already run (target: existing)")
    settings = cluster.spec.targets.existing
    try:
        hosts = settings.hosts or ([d.host for d in inventory_hosts(resolve_inventory(settings.inventory))]
                                   if settings.inventory else [])
    except ValueError as exc:
        raise SourceError(str(exc), "fix the inventory the spec names") from None
    user = cluster.spec.defaults.ssh.user
    return ([Candidate(h.name, h.address, h.port, h.region, h.pool, user) for h in hosts], cluster.metadata.name,
            user)
