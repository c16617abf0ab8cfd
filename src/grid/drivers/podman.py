"""A small typed wrapper around the podman CLI for the local lab target.

Nodes are containers of the grid node image (``images/node/``): PID 1 generates the container's own
ed25519 SSH host key, authorizes the key passed at creation (``GRID_AUTHORIZED_KEYS``), writes the host
public key to ``/run/grid-node-ready`` and becomes ``sshd``.

Every call is one podman process with an argv list (never a shell). podman reads its settings from
``CONTAINERS_CONF``; when the caller's environment does not set it, the project's file shipped in this
package (``data/containers.conf``: runc, cgroupfs, no default ulimits, default subnets in 198.18.0.0/15)
is used. Network subnets are refused outside the lab range (198.18.0.0/15) unless the caller widens it.
Every resource must carry the ``grid.cluster`` label so that a cluster can always be found and removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

from grid.drivers import bridges

CLUSTER_LABEL = "grid.cluster"
LAB_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
# A real file podman can read: pip installs grid unzipped, so the resource is a path on disk.
CONTAINERS_CONF = resources.files("grid.drivers") / "data" / "containers.conf"
READY_FILE = "/run/grid-node-ready"
HOST_KEY_FILE = "/etc/ssh/ssh_host_ed25519_key.pub"
AUTHORIZED_KEYS_ENV = "GRID_AUTHORIZED_KEYS"


VolumeBind = tuple[str, str] | tuple[str, str, Sequence[str]]
"""(volume name or host directory, mount point[, mount options]) of one mount of a node container."""
BIND_OPTIONS = ("ro", "rw", "nosuid", "nodev", "noexec")
"""Mount options a podman bind takes (noatime, vers=4.1 and such belong to a real file system's mount)."""


class PodmanError(Exception):
    """A podman command failed: the argv it ran, its exit code and its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{' '.join(self.argv)} exited {returncode}: {self.stderr}")


class NetworkState(TypedDict):
    name: str
    id: str
    subnets: list[str]
    gateways: list[str]
    mtu: int | None
    internal: bool
    dns: bool
    interface: str
    labels: dict[str, str]


class ContainerState(TypedDict):
    name: str
    id: str
    image: str
    state: str  # podman's status: created, running, exited, stopped, paused, ...
    running: bool
    hostname: str
    ips: dict[str, str]  # network name -> IPv4 address (empty while not running)
    labels: dict[str, str]
    cgroup_path: str  # under /sys/fs/cgroup[/<controller>]: where its real limits are (inspect keeps create-time ones)


@dataclass(frozen=True)
class Labeled:
    """Names of the resources that carry one label value."""

    containers: list[str]
    networks: list[str]
    volumes: list[str]

    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes)


def _label_args(labels: Mapping[str, str]) -> list[str]:
    if CLUSTER_LABEL not in labels:
        raise ValueError(f"every podman resource of grid needs the label {CLUSTER_LABEL!r}")
    args: list[str] = []
    for key, value in sorted(labels.items()):
        args += ["--label", f"{key}={value}"]
    return args


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def stable_mac(address: ipaddress.IPv4Address | str) -> str:
    """A locally administered MAC derived from an IPv4 address: 02:67:<the address's four bytes>."""
    return "02:67:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(address).packed)


def _container_state(data: dict[str, Any], name: str) -> ContainerState:
    """What grid reads of one item of ``podman container inspect``."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    nets = (data.get("NetworkSettings") or {}).get("Networks") or {}
    ips = {str(net): str(info.get("IPAddress", "")) for net, info in nets.items()
           if isinstance(info, dict) and info.get("IPAddress")}
    return ContainerState(
        name=str(data.get("Name", name)),
        id=str(data.get("Id", "")),
        image=str(data.get("ImageName", "")),
        state=str(state.get("Status", "")),
        running=bool(state.get("Running", False)),
        hostname=str(config.get("Hostname", "")),
        ips=ips,
        labels=_labels(config.get("Labels")),
        cgroup_path=str(state.get("CgroupPath") or ""),
    )


def _ready_key(lines: Sequence[str]) -> str | None:
    """The host key of the last ``grid-node-ready`` log line, if sshd has logged listening after it."""
    key: str | None = None
    listening = False
    for line in lines:
        if line.startswith("grid-node-ready "):
            fields = line.split()
            key = f"{fields[1]} {fields[2]}" if len(fields) >= 3 else None
            listening = False
        elif line.startswith("Server listening on "):
            listening = True
    return key if listening else None


class Podman:
    """The podman CLI. ``binary`` is looked up on PATH; ``timeout`` bounds every call (seconds)."""

    def __init__(self, *, binary: str = "podman", containers_conf: Path | None = None,
                 timeout: float = 120.0, allowed_range: ipaddress.IPv4Network = LAB_RANGE,
                 env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.timeout = timeout
        self.allowed_range = allowed_range
        base = dict(os.environ if env is None else env)
        if containers_conf is not None:
            base["CONTAINERS_CONF"] = str(containers_conf)
        elif not base.get("CONTAINERS_CONF"):
            base["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
        self.env = base

    # -- plumbing -------------------------------------------------------------------------------------
    def run(self, args: Sequence[str], *, check: bool = True, input: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; raise PodmanError on a non-zero exit when ``check``."""
        argv = [self.binary, *args]
        try:
            # A session of its own: killing grid's process group (kill -9, Ctrl-C, a cancelled CI job) lets a
            # podman command in flight finish. Killed half-way, podman 4.3 can leave a container it cannot
            # remove cleanly, or a static IP allocated to a container that no longer exists, for good.
            proc = subprocess.run(argv, env=self.env, input=input, capture_output=True, text=True,
                                  timeout=self.timeout if timeout is None else timeout, check=False,
                                  start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise PodmanError(argv, -1, f"timed out after {exc.timeout} s") from None
        except OSError as exc:
            raise PodmanError(argv, -1, str(exc)) from None
        if check and proc.returncode != 0:
            raise PodmanError(argv, proc.returncode, proc.stderr)
        return proc

    def _ok(self, args: Sequence[str]) -> bool:
        return self.run(args, check=False).returncode == 0

    def _inspect(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.run([kind, "inspect", name], check=False)
        if proc.returncode != 0:
            if proc.stdout.strip() in ("", "[]"):
                return None  # "no such ..."
            raise PodmanError([self.binary, kind, "inspect", name], proc.returncode, proc.stderr)
        items = json.loads(proc.stdout)
        if not items:
            return None
        first = items[0]
        return first if isinstance(first, dict) else None

    def _names(self, args: Sequence[str]) -> list[str]:
        return [line.strip() for line in self.run(args).stdout.splitlines() if line.strip()]

    def image_exists(self, ref: str) -> bool:
        return self._ok(["image", "exists", ref])

    # -- networks -------------------------------------------------------------------------------------
    def network_create(self, name: str, subnet: str, gateway: str | None = None, mtu: int | None = None,
                       labels: Mapping[str, str] | None = None, *, internal: bool = False,
                       dns: bool = False) -> None:
        """A bridge network. ``internal`` networks get no host-side address: the host cannot reach nodes
        over them, so the network that SSH uses must not be internal. ``dns`` starts aardvark-dns."""
        net = ipaddress.ip_network(subnet, strict=True)
        if not (isinstance(net, ipaddress.IPv4Network) and net.subnet_of(self.allowed_range)):
            raise ValueError(f"subnet {subnet} is outside the lab range {self.allowed_range}")
        args = ["network", "create", "--driver", "bridge", "--subnet", str(net)]
        if gateway is not None:
            if ipaddress.ip_address(gateway) not in net:
                raise ValueError(f"gateway {gateway} is not in {subnet}")
            args += ["--gateway", gateway]
        if mtu is not None:
            args += ["--opt", f"mtu={int(mtu)}"]
        if internal:
            args.append("--internal")
        if not dns:
            args.append("--disable-dns")
        args += _label_args(labels or {})
        proc = self.run([*args, name], check=False)
        if proc.returncode != 0 and "already used on the host" in proc.stderr and self._drop_orphan_bridges(net):
            proc = self.run([*args, name], check=False)  # the subnet was held by a bridge nobody uses
        if proc.returncode != 0:
            raise PodmanError([self.binary, *args, name], proc.returncode, proc.stderr)

    def _interfaces_in_use(self) -> set[str]:
        proc = self.run(["network", "ls", "--format", "{{.NetworkInterface}}"], check=False)
        return set(proc.stdout.split()) if proc.returncode == 0 else set()

    def _drop_orphan_bridges(self, subnet: ipaddress.IPv4Network) -> bool:
        """Delete bridges left on `subnet` by containers whose teardown never ran (grid.drivers.bridges)."""
        in_use = self._interfaces_in_use()
        orphans = [i for i in bridges.bridges_on(subnet) if bridges.is_orphan(i, in_use)]
        return bool(orphans) and all(bridges.delete(i) for i in orphans)

    def network_exists(self, name: str) -> bool:
        return self._ok(["network", "exists", name])

    def network_inspect(self, name: str) -> NetworkState | None:
        data = self._inspect("network", name)
        if data is None:
            return None
        subnets = [s for s in data.get("subnets") or [] if isinstance(s, dict)]
        options = data.get("options") or {}
        mtu = options.get("mtu") if isinstance(options, dict) else None
        return NetworkState(
            name=str(data.get("name", name)),
            id=str(data.get("id", "")),
            subnets=[str(s.get("subnet", "")) for s in subnets],
            gateways=[str(s["gateway"]) for s in subnets if s.get("gateway")],
            mtu=int(mtu) if mtu is not None else None,
            internal=bool(data.get("internal", False)),
            dns=bool(data.get("dns_enabled", False)),
            interface=str(data.get("network_interface", "")),
            labels=_labels(data.get("labels")),
        )

    def network_rm(self, name: str, *, force: bool = True) -> bool:
        """Remove a network (``force`` also removes containers attached to it). False if it was absent."""
        state = self.network_inspect(name)
        if state is None:
            return False
        proc = self.run(["network", "rm", *(["--force"] if force else []), name], check=False)
        if proc.returncode != 0 and self.network_exists(name):
            raise PodmanError([self.binary, "network", "rm", name], proc.returncode, proc.stderr)
        # Its bridge outlives it when a container on it was never torn down: leave no subnet held.
        if state["interface"] and bridges.is_orphan(state["interface"], self._interfaces_in_use()):
            bridges.delete(state["interface"])
        return proc.returncode == 0

    # -- volumes --------------------------------------------------------------------------------------
    def volume_create(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        self.run(["volume", "create", *_label_args(labels or {}), name])

    def volume_labels(self, name: str) -> dict[str, str] | None:
        """The volume's labels; None when there is no such volume."""
        data = self._inspect("volume", name)
        return None if data is None else _labels(data.get("Labels"))

    def volume_directory(self, name: str, subdir: str) -> str:
        """The host directory `subdir` of a volume, made when missing, for a bind of it (podman 4.3 has no
        `--mount subpath=`). Refused when it resolves outside the volume: a node can plant symlinks there."""
        data = self._inspect("volume", name)
        if data is None or not data.get("Mountpoint"):
            raise PodmanError([self.binary, "volume", "inspect", name], 1, f"no volume {name}")
        root = Path(str(data["Mountpoint"])).resolve()
        inside = (root / subdir).resolve()
        if not inside.is_relative_to(root) or inside == root:
            raise PodmanError([self.binary, "volume", "inspect", name], 1,
                              f"{subdir} of volume {name} resolves to {inside}, outside the volume")
        inside.mkdir(parents=True, exist_ok=True)
        return str(inside)

    def volume_exists(self, name: str) -> bool:
        return self._ok(["volume", "exists", name])

    def volume_rm(self, name: str, *, force: bool = True) -> bool:
        """Remove a volume (``force`` also removes containers using it). False if it was absent."""
        if not self.volume_exists(name):
            return False
        proc = self.run(["volume", "rm", *(["--force"] if force else []), name], check=False)
        if proc.returncode != 0 and self.volume_exists(name):
            raise PodmanError([self.binary, "volume", "rm", name], proc.returncode, proc.stderr)
        return proc.returncode == 0

    # -- containers -----------------------------------------------------------------------------------
    def container_run(self, name: str, image: str, hostname: str,
                      networks: Sequence[tuple[str, str | None]],
                      volumes: Sequence[VolumeBind] = (),
                      labels: Mapping[str, str] | None = None, *,
                      cpus: float | None = None, memory_mb: int | None = None,
                      authorized_key: str, env: Mapping[str, str] | None = None, replace: bool = False) -> str:
        """Create and start a node container; returns its full id.

        ``networks``: (network, IPv4 address or None for podman's choice); the first is the primary one.
        A fixed address also gets a fixed MAC (stable_mac): podman otherwise picks a new MAC at every start,
        and the host's neighbour entry for the old one makes the node unreachable for up to ~45 s.
        ``volumes``: (volume name or host directory, mount point[, mount options]); of the options only
        BIND_OPTIONS reach podman (the others are about a real file system's mount).
        ``authorized_key``: public key line(s) for root.
        The container gets no /etc/hosts from podman (``--no-hosts``): the node's own file stays writable.
        ``replace``: a container of the same name is removed first (in the same podman call).
        """
        if not networks:
            raise ValueError("a node needs at least one network")
        args = ["run", "--detach", "--pull", "never", "--name", name, "--hostname", hostname, "--no-hosts",
                *(["--replace"] if replace else []),
                # nftables (the spec's network policy) needs it; it reaches only the node's own network namespace.
                "--cap-add", "NET_ADMIN"]
        for network, address in networks:
            if address is None:
                args += ["--network", network]
            else:
                ip = ipaddress.IPv4Address(address)
                args += ["--network", f"{network}:ip={ip},mac={stable_mac(ip)}"]
        for volume, mountpoint, *options in volumes:
            if not mountpoint.startswith("/"):
                raise ValueError(f"mount point {mountpoint!r} is not absolute")
            flags = [o for o in (options[0] if options else ()) if o in BIND_OPTIONS]
            args += ["--volume", f"{volume}:{mountpoint}" + (":" + ",".join(flags) if flags else "")]
        args += _label_args(labels or {})
        if cpus is not None:
            args += ["--cpus", f"{cpus:g}"]
        if memory_mb is not None:
            args += ["--memory", f"{int(memory_mb)}m"]
        environment = dict(env or {})
        environment[AUTHORIZED_KEYS_ENV] = authorized_key.strip()
        for key, value in sorted(environment.items()):
            args += ["--env", f"{key}={value}"]
        out = self.run([*args, image]).stdout.strip()
        return out.splitlines()[-1] if out else ""

    def network_connect(self, container: str, network: str, address: str | None) -> None:
        """Attach a running container to `network` again, with its fixed address and MAC (see container_run)."""
        args = ["network", "connect"]
        if address is not None:
            ip = ipaddress.IPv4Address(address)
            args += ["--ip", str(ip), "--mac-address", stable_mac(ip)]
        self.run([*args, network, container])

    def container_exists(self, name: str) -> bool:
        return self._ok(["container", "exists", name])

    def container_inspect(self, name: str) -> ContainerState | None:
        data = self._inspect("container", name)
        return None if data is None else _container_state(data, name)

    def containers_inspect(self, key: str, value: str) -> dict[str, ContainerState] | None:
        """Every container labelled ``key=value``, by name, in two podman calls (a listing, one inspect of all):
        what container_inspect says of each. None when podman failed; one removed in between is left out."""
        names = self._names(["ps", "--all", "--filter", f"label={key}={value}", "--format", "{{.Names}}"])
        if not names:
            return {}
        proc = self.run(["container", "inspect", *names], check=False)
        try:
            items = json.loads(proc.stdout) if proc.stdout.strip() else []
        except json.JSONDecodeError:
            return None
        if not isinstance(items, list) or (proc.returncode != 0 and "no such container" not in proc.stderr):
            return None
        found = [_container_state(item, "") for item in items if isinstance(item, dict)]
        return {state["name"]: state for state in found}

    def names_labelled(self, kind: str, key: str, value: str) -> set[str]:
        """Names of the networks or volumes (``kind``: "network", "volume") labelled ``key=value``: one call."""
        return set(self._names([kind, "ls", "--filter", f"label={key}={value}", "--format", "{{.Name}}"]))

    def container_start(self, name: str) -> None:
        self.run(["start", name])

    def container_stop(self, name: str, *, timeout: int = 10) -> None:
        self.run(["stop", "--time", str(int(timeout)), name])

    def container_rm(self, name: str, *, force: bool = True) -> None:
        """Remove a container (``force`` stops it first, at once). Absent containers are ignored."""
        self._rm(["rm", "--ignore", *(["--force", "--time", "0"] if force else []), name])

    def _rm(self, args: Sequence[str], attempts: int = 6) -> None:
        """``podman rm`` retried while a mount of the container is still busy: right after a podman command
        on the same container was killed, its cleanup process can hold ``userdata/shm`` for a moment."""
        delay = 0.25
        for attempt in range(attempts):
            proc = self.run(args, check=False)
            if proc.returncode == 0:
                return
            if "device or resource busy" not in proc.stderr or attempt == attempts - 1:
                raise PodmanError([self.binary, *args], proc.returncode, proc.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def exec(self, name: str, argv: Sequence[str], *, check: bool = True, input: str | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(["exec", *(["--interactive"] if input is not None else []), name, *argv],
                        check=check, input=input, timeout=timeout)

    def host_public_key(self, name: str, *, timeout: float = 30.0) -> str:
        """The node's SSH host public key ("ssh-ed25519 AAAA..."), once sshd listens.

        The node's init logs ``grid-node-ready <key>`` and then execs ``sshd -e``, whose "Server listening"
        line follows once it accepts connections; both are read from the container log (one cheap podman
        call, no exec). After a restart the log still holds the previous run's lines, so a client may need
        a short retry there. Falls back to reading READY_FILE by exec for an image that does not log it.
        """
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            proc = self.run(["logs", name], check=False)
            if proc.returncode == 0:
                key = _ready_key((proc.stdout + proc.stderr).splitlines())
                if key is not None:
                    return key
            else:
                state = self.container_inspect(name)
                if state is None:
                    raise PodmanError([self.binary, "logs", name], proc.returncode, proc.stderr)
            if time.monotonic() >= deadline:
                fallback = self.exec(name, ["cat", READY_FILE], check=False)
                fields = fallback.stdout.split()
                if fallback.returncode == 0 and len(fields) >= 2:
                    return f"{fields[0]} {fields[1]}"
                state = self.container_inspect(name)
                status = state["state"] if state else "absent"
                raise PodmanError([self.binary, "logs", name], proc.returncode,
                                  f"no SSH host key after {timeout:g} s (container {status})")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # -- by label -------------------------------------------------------------------------------------
    def list_by_label(self, key: str, value: str) -> Labeled:
        selector = f"label={key}={value}"
        return Labeled(
            containers=self._names(["ps", "--all", "--filter", selector, "--format", "{{.Names}}"]),
            networks=self._names(["network", "ls", "--filter", selector, "--format", "{{.Name}}"]),
            volumes=self._names(["volume", "ls", "--filter", selector, "--format", "{{.Name}}"]),
        )

    def remove_by_label(self, key: str, value: str) -> Labeled:
        """Remove every container, then network and volume, carrying ``key=value``; returns what was found."""
        found = self.list_by_label(key, value)
        if found.containers:
            self._rm(["rm", "--ignore", "--force", "--time", "0", *found.containers])
        for network in found.networks:
            self.network_rm(network)
        for volume in found.volumes:
            self.volume_rm(volume)
        return found
