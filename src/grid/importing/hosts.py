"""Importing hosts that already run (target `existing`): sources → host keys → discovery → spec + state.

Host keys are pinned as `grid up` pins them for target existing (grid.targets.existing): a key grid has not
pinned before only with `--trust-new-hosts`, a pinned key that changed never. Each host is read over one SSH
session with the cluster's key (grid.identity: <workdir>/secrets/id_ed25519 or GRID_SSH_KEY), at most
PARALLEL_HOSTS at once. A host that cannot be read is a problem line and the others are imported. The state
is what `grid up` would record for the spec written, so the next `grid plan` is empty.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from grid.drivers.ssh import KeyPair, host_key_line
from grid.errors import OperationFailed
from grid.identity import find_keypair
from grid.importing import merge
from grid.importing.discover import DiscoveryFailed, HostFacts, Remote, discover
from grid.importing.layout import FoundHost, layout
from grid.importing.model import Imported
from grid.importing.sources import Candidate, SourceError, from_inventory, from_probe, from_spec, host_name
from grid.importing.state import imported_state, pins_of
from grid.importing.writer import SpecInput, spec_text
from grid.physics.catalog import default_catalog
from grid.spec import load_spec_text
from grid.state import open_store, workdir_for
from grid.state.model import State, empty_state
from grid.targets.existing import TRUST_FLAG, fingerprint, scan_host_key

PARALLEL_HOSTS = 16
SCAN_TIMEOUT_S = 10.0
DEFAULT_REGION = "site"
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$")  # grid.spec.model.Name


@dataclass(frozen=True)
class HostImportOptions:
    """What `grid import` was asked for (hosts over SSH)."""

    inventory: Path | None = None  # an Ansible inventory (YAML or INI)
    probes: tuple[str, ...] = ()  # CIDRs whose addresses answering on port 22 are hosts
    from_spec: Path | None = None  # an existing-target spec: its hosts
    user: str = ""  # SSH user (default: the inventory's ansible_user, the spec's, else root)
    cluster: str = ""  # metadata.name of the spec written (default: --from-spec's, else the --out file's name)
    region: str = ""  # the region of hosts the source puts in none
    pools: tuple[tuple[str, str], ...] = ()  # (glob on host names, pool name), first match wins
    trust_new_hosts: bool = False  # pin host keys seen for the first time
    workdir: Path | None = None  # where the cluster's key and state are (default: .grid/<cluster> next to out)
    out: Path = Path("cluster.yaml")
    store_location: str | None = None  # --state: where pins already recorded are read from
    merge: bool = False  # add to the spec at `out` (and its state) the hosts it does not list yet


Scanner = Callable[[str, int, float], str]
RemoteFactory = Callable[[str, KeyPair, Path, int], Remote]
"""(user, key pair, known_hosts, port) -> a remote that trusts only the keys in known_hosts."""


def pinned_remote(user: str, keys: KeyPair, known_hosts: Path, port: int) -> Remote:
    from grid.drivers.ssh import PinnedRemote

    return PinnedRemote(user=user, private_key=keys.private_path, known_hosts=known_hosts, port=port,
                        also=keys.also)


def import_hosts(options: HostImportOptions, *, scanner: Scanner = scan_host_key,
                 remote_factory: RemoteFactory = pinned_remote) -> Imported:
    if options.out.exists() and not options.merge:  # refused before any host is read (and again when writing)
        raise OperationFailed(f"{options.out} already exists: grid import never overwrites a spec",
                              "pass --merge to add the hosts found to it, or choose another --out")
    candidates, named, source_user, source = _candidates(options)
    old_text = options.out.read_text(encoding="utf-8") if options.merge and options.out.is_file() else None
    skipped: list[str] = []
    if old_text is not None:
        try:
            listed, taken = merge.listed_endpoints(old_text), merge.taken_names(old_text)
            named = merge.cluster_name(old_text)
        except (ValueError, yaml.YAMLError) as exc:
            raise SourceError(f"--merge: {options.out} is not a grid spec ({exc})",
                              "--out names the spec to add the hosts to") from None
        skipped = [f"{c.name} ({c.address}:{c.port}): already in {options.out}, kept as it is"
                   for c in candidates if (c.address, c.port) in listed]
        candidates = merge.renamed([c for c in candidates if (c.address, c.port) not in listed], taken)
    cluster = options.cluster or named or host_name(options.out.stem)
    if not _NAME.match(cluster):
        raise SourceError(f"cluster name {cluster!r} is not a DNS label of at most 20 characters",
                          "pass --cluster NAME (lower-case letters, digits and '-', starting with a letter)")
    user = options.user or source_user or "root"
    workdir = options.workdir or workdir_for(options.out, None, cluster, create=False)
    keys = find_keypair(workdir)
    if keys is None:
        raise OperationFailed(
            f"grid import logs in with the cluster's SSH key, and there is none at {workdir / 'secrets'}",
            f"put the private key the hosts accept (for user {user}) at {workdir / 'secrets' / 'id_ed25519'} "
            "with its public half beside it (.pub), or point GRID_SSH_KEY at it; --workdir names another place")
    recorded = _recorded(options.store_location, workdir, cluster)
    if recorded is not None and not options.merge:
        raise OperationFailed(f"cluster '{cluster}' already has a state in {workdir}: grid import never "
                              "overwrites one", "pass --merge to add only the hosts it does not have, or "
                              "--workdir/--state for another place")
    if recorded is not None and options.merge and old_text is None:
        raise SourceError(f"--merge: cluster '{cluster}' has a state, and {options.out} (the spec that goes with "
                          "it) does not exist", "--out names the cluster's spec, which the hosts are added to")
    pins = pins_of(recorded) if recorded is not None else {}
    found, problems = read_hosts(candidates, user=user, keys=keys, pins=pins, trust=options.trust_new_hosts,
                                 scanner=scanner, remote_factory=remote_factory)
    if options.probes:  # an address is all a probe knows: the hosts' own names read better
        found = _named_by_hostname(found)
    if not found:  # nothing to write: the problems say why
        return Imported("", empty_state(cluster), tuple(skipped), tuple(problems))
    catalog = default_catalog()
    regions = layout(found, options.pools)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = spec_text(SpecInput(cluster, user, regions, source, now, tuple(problems)), catalog)
    lines = [*skipped, *(_found_line(h) for h in found)]
    lines += [f"pool {p.name} ({r.name}): {len(p.hosts)} host(s)" for r in regions for p in r.pools]
    if old_text is not None:
        text = merge.merged_text(old_text, text, [*lines, *(f"not imported: {p}" for p in problems)], now)
    loaded = load_spec_text(text, str(options.out))
    if loaded.cluster is None:  # a bug in the writer: say what it wrote wrong rather than write it
        raise OperationFailed("the spec grid import made does not load: "
                              + "; ".join(d.summary for d in loaded.diagnostics),
                              "this is a bug in grid; report it with the hosts' facts (GRID_DEBUG=1)")
    state = imported_state(loaded.cluster, {h.candidate.name: h for h in found}, keys.public_key)
    return Imported(text, state, tuple(lines), tuple(problems))


def read_hosts(candidates: Sequence[Candidate], *, user: str, keys: KeyPair, pins: Mapping[tuple[str, int], str],
               trust: bool, scanner: Scanner = scan_host_key, remote_factory: RemoteFactory = pinned_remote
               ) -> tuple[list[FoundHost], list[str]]:
    """Each candidate's host key checked against `pins` (or trusted with consent) and its facts read; the
    hosts read, in the candidates' order, and a line per host that was not."""
    with tempfile.TemporaryDirectory(prefix="grid-import-") as tmp:

        def one(candidate: Candidate) -> FoundHost | str:
            return _read_host(candidate, user=user, keys=keys, pins=pins, trust=trust, scanner=scanner,
                              remote_factory=remote_factory, known_hosts=Path(tmp) / f"known_hosts.{candidate.name}")

        with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_HOSTS, len(candidates)))) as pool:
            results = list(pool.map(one, candidates))
    found = [r for r in results if isinstance(r, FoundHost)]
    problems = [r for r in results if isinstance(r, str)]
    return found, problems


def _read_host(candidate: Candidate, *, user: str, keys: KeyPair, pins: Mapping[tuple[str, int], str], trust: bool,
               scanner: Scanner, remote_factory: RemoteFactory, known_hosts: Path) -> FoundHost | str:
    endpoint = f"{candidate.name} ({candidate.address}:{candidate.port})"
    try:
        key = scanner(candidate.address, candidate.port, SCAN_TIMEOUT_S)
    except (OSError, ValueError, EOFError) as exc:
        return f"{endpoint}: unreachable: {exc or type(exc).__name__}"
    pinned = pins.get((candidate.address, candidate.port), "")
    if pinned and pinned.split()[:2] != key.split()[:2]:
        return (f"{endpoint}: HOST KEY CHANGED (refused; possibly an impostor): pinned {fingerprint(pinned)}, "
                f"now {fingerprint(key)}")
    if not pinned and not trust:
        return (f"{endpoint}: not trusted yet: {key.split()[0]} {fingerprint(key)} - check it on the host "
                f"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then import again with {TRUST_FLAG}")
    name = candidate.address if candidate.port == 22 else f"[{candidate.address}]:{candidate.port}"
    known_hosts.write_text(host_key_line([name], key) + "\n")
    remote = remote_factory(user, keys, known_hosts, candidate.port)
    try:
        facts = discover(remote, candidate.address)
    except DiscoveryFailed as exc:
        return f"{endpoint}: could not be read as {user}: {exc}"
    finally:
        close = getattr(remote, "close", None)
        if close is not None:
            close()
    return FoundHost(candidate, facts, key)


def _candidates(options: HostImportOptions) -> tuple[list[Candidate], str, str, str]:
    """(candidates with region set and unique names, cluster name the source gives, its SSH user, source words)."""
    given = [bool(options.inventory), bool(options.probes), bool(options.from_spec)]
    if sum(given) != 1:
        raise SourceError("grid import needs exactly one source of hosts",
                          "give --inventory FILE, --probe CIDR (repeatable) or --from-spec SPEC")
    named, user = "", ""
    if options.inventory is not None:
        found, source = from_inventory(options.inventory), f"the inventory {options.inventory}"
        users = sorted({c.user for c in found if c.user})
        user = users[0] if len(users) == 1 else ""
    elif options.from_spec is not None:
        found, named, user = from_spec(options.from_spec)
        source = f"the hosts of {options.from_spec}"
    else:
        found, source = from_probe(options.probes), "addresses answering on port 22 in " + ", ".join(options.probes)
        if not found:
            raise SourceError(f"no address in {', '.join(options.probes)} answers on port 22",
                              "check the CIDRs, and that the hosts' sshd listens on port 22")
    region = options.region or DEFAULT_REGION
    out: list[Candidate] = []
    names: set[str] = set()
    endpoints: set[tuple[str, int]] = set()
    for c in found:
        if (c.address, c.port) in endpoints:
            continue  # one machine listed twice (an inventory host in two groups)
        endpoints.add((c.address, c.port))
        name, number = c.name, 1
        while name in names:
            number += 1
            name = f"{c.name[:20 - len(str(number)) - 1]}-{number}"
        names.add(name)
        out.append(Candidate(name, c.address, c.port, c.region if c.region and not options.region else region,
                             c.pool, c.user))
    return out, named, user, source


def _recorded(location: str | None, workdir: Path, cluster: str) -> State | None:
    """The state already there (read only), None when there is none."""
    if location is None and not (workdir / "state.json").is_file():
        return None
    envelope = open_store(location, workdir=workdir, cluster=cluster).read()
    return envelope.state if envelope is not None else None


def _named_by_hostname(found: Sequence[FoundHost]) -> list[FoundHost]:
    """Hosts named after their own hostname where that makes a name no other host has."""
    wanted = [host_name(h.facts.hostname) if h.facts.hostname else h.candidate.name for h in found]
    counts = {name: wanted.count(name) for name in wanted}
    return [dataclasses.replace(h, candidate=dataclasses.replace(h.candidate, name=name))
            if counts[name] == 1 and _NAME.match(name) else h for h, name in zip(found, wanted, strict=True)]


def _found_line(host: FoundHost) -> str:
    facts: HostFacts = host.facts
    accel = f"{facts.accelerators.count} x {facts.accelerators.model}" if facts.accelerators else "no accelerator"
    nics = ", ".join(f"{n.name} {n.address}/{n.prefix} mtu {n.mtu}" for n in facts.nics) or "no NIC read"
    return (f"{host.candidate.name} ({host.candidate.address}): {facts.cpus} CPUs, {facts.memory_gb:g} GB, {accel}; "
            f"{nics}")
