"""What the cloud stack programs (grid.stacks.aws, grid.stacks.openstack) share.

Pure helpers over the program data (grid.render.pulumi.region_program_input) plus the cloud-init
document every cloud node boots with: its hostname, the cluster key for the SSH user, the SSH port,
and the mounts of its storage — so the same inventory and playbooks apply as on the local target.

Knobs that the spec does not carry are read from the stack's Pulumi config, namespace `grid`:
  grid:adminCidrs   comma-separated CIDRs allowed to reach SSH (default: the cluster's own fabrics), used
                    when the spec gives no access.admin_cidrs (program data `admin_cidrs`)
The spec's fabric `ingress` arrives resolved in the program data (`ingress`: fabric -> rules, sources as
CIDRs; grid.render.network.cloud_policy): see `allowed` and `open_fabric_cidrs`.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml

from grid import resources

SHARED_KINDS = ("nfs", "parallel-fs")


def tags(data: Mapping[str, Any], address: str, name: str | None = None, *, pool: str | None = None
         ) -> dict[str, str]:
    """The tags every resource carries: the spec's metadata.labels (a pool's resources: the pool's `labels`
    over them), then the cluster, the grid address it serves and a readable Name, which labels never hide."""
    labels = pools(data)[pool]["labels"] if pool is not None else data.get("labels")
    return {**{str(k): str(v) for k, v in (labels or {}).items()},
            "grid:cluster": str(data["cluster"]), "grid:address": address, "Name": name or physical(data, address)}


def physical(data: Mapping[str, Any], address: str) -> str:
    """A cloud-side name for an address: `grid-<cluster>-<address with - for />`."""
    return f"grid-{data['cluster']}-" + address.replace("/", "-")


def cluster_key(data: Mapping[str, Any]) -> str:
    """The cluster's public key; `grid render` and `grid up` make it before a cloud program is first written."""
    key = str(data.get("authorized_key") or "").strip()
    if not key:
        raise ValueError("the program data has no authorized_key: render the program with `grid render` (which "
                         "makes the cluster key first), or run the stack through `grid up`")
    return key


def first_boot_only(opts: Any, *fields: str) -> Any:
    """`opts` with `fields` (the admin key, cloud-init carrying it) read at creation only: the admin key is
    configuration (Ansible keeps authorized_keys), so changing or rotating it never replaces an instance."""
    import pulumi

    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=list(fields)))


def pools(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(p["name"]): dict(p) for p in data.get("pools", [])}


def connect_fabric(pool: Mapping[str, Any]) -> str:
    """The fabric grid and Ansible reach a node of `pool` (program data) over: grid.resources.connect_fabric."""
    fabric = resources.connect_fabric([str(f) for f in pool.get("fabrics", [])])
    if fabric is None:
        raise ValueError(f"pool {pool.get('name')!r} attaches to no fabric")
    return fabric


def node_fabrics(node: Mapping[str, Any], pool: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(fabric, ip) of a node, the connect fabric first (it becomes the primary interface)."""
    ips: Mapping[str, str] = node["fabrics"]
    first = connect_fabric(pool)
    order = [first] + [f for f in pool.get("fabrics", []) if f != first]
    out = []
    for name in order:
        ip = ips.get(name, "")
        if not ip:
            raise ValueError(f"{node['address']}: no address on fabric {name!r} (the fabric is full?)")
        out.append((str(name), ip))
    return out


def private_zone(data: Mapping[str, Any]) -> str:
    """The private DNS zone the region's network resolves in (`names: dns` on a cloud that builds one: the
    fabrics' `dns_zone`, grid.spec.targets.private_zone_name), or ""."""
    return next((str(f["dns_zone"]) for f in data.get("fabrics", []) if f.get("dns_zone")), "")


def name_records(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(address, hostname, address on its connect fabric) of each node of the region: its record in the zone,
    the address /etc/hosts gives it under `names: hosts_file` (grid.render.names)."""
    by_name = pools(data)
    return [(str(node["address"]), str(node["hostname"]), node_fabrics(node, by_name[node["pool"]])[0][1])
            for node in data.get("nodes", [])]


def admin_cidrs(data: Mapping[str, Any]) -> list[str]:
    """Where SSH may come from: program data `admin_cidrs`, else config grid:adminCidrs, else the fabrics."""
    given = data.get("admin_cidrs") or [
        c.strip() for c in (pulumi.Config("grid").get("adminCidrs") or "").split(",") if c.strip()]
    cidrs = [str(ipaddress.IPv4Network(c, strict=True)) for c in given]
    return cidrs or [str(f["cidr"]) for f in data["fabrics"]]


def fabric_networks(data: Mapping[str, Any], shortest: int, longest: int, what: str
                    ) -> tuple[list[ipaddress.IPv4Network], ipaddress.IPv4Network]:
    """The region's fabric subnets (each refused outside /shortest../longest, what the cloud's `what` takes) and
    the smallest network covering them all (a VPC's primary block when the cloud allows one that large)."""
    region = str(data["region"])
    nets = [ipaddress.IPv4Network(f["cidr"]) for f in data["fabrics"]]
    for net in nets:
        if not shortest <= net.prefixlen <= longest:
            raise ValueError(f"fabric {net} of region {region}: {what} must be /{shortest} to /{longest}")
    cover = nets[0]
    while not all(n.subnet_of(cover) for n in nets):
        cover = cover.supernet()
    return nets, cover


def gib(capacity_tib: float) -> int:
    return max(1, math.ceil(float(capacity_tib) * 1024))


def mounted(node: Mapping[str, Any]) -> dict[str, str]:
    """{storage: the first path it is mounted at} of a node: its plain mounts (`storage`) and its binds
    (`mounts`: storage mounted more than once, or with options or a subdir; grid.resources)."""
    out = dict(node.get("storage", {}))
    for bind in node.get("mounts") or []:
        out.setdefault(str(bind["storage"]), str(bind["path"]))
    return out


def _below(source: str, subdir: str) -> str:
    """An fstab source (`host:/export`, `nid@tcp:/fs`) of the directory `subdir` below it."""
    return source.rstrip("/") + "/" + subdir


def users_of(data: Mapping[str, Any], storage: str) -> list[dict[str, Any]]:
    """Nodes of the region that mount one storage entry, in data order."""
    return [n for n in data["nodes"] if storage in mounted(n)]


def bind_mounts(node: Mapping[str, Any], shared: Mapping[str, Sequence[pulumi.Input[str]]],
                boot: BootPlan) -> set[str]:
    """fstab lines (into `boot`) of a node's binds of shared file systems: the storage's source (below its
    `subdir`), the bind's path, the storage's options with the bind's own after them (`ro` wins over rw);
    mount points of other binds (object storage) as directories. Returns the storages it took care of."""
    taken: set[str] = set()
    for bind in node.get("mounts") or []:
        name, subdir = str(bind["storage"]), bind.get("subdir")
        taken.add(name)
        if name not in shared:
            boot.directories.append(str(bind["path"]))
            continue
        source, _, fstype, options, *_ = shared[name]
        if subdir:
            source = pulumi.Output.from_input(source).apply(functools.partial(_below, subdir=str(subdir)))
        boot.mounts.append([source, str(bind["path"]), fstype,
                            pulumi.Output.concat(options, *("," + str(o) for o in bind["options"])), "0", "0"])
    return taken


def block_shares(data: Mapping[str, Any], also: Sequence[str] = ()) -> dict[str, int]:
    """GiB per node of each block storage (and of the storage named in `also`): its capacity shared out
    over the nodes that mount it, one volume each."""
    counts: dict[str, int] = {}
    for node in data["nodes"]:
        for name in mounted(node):
            counts[name] = counts.get(name, 0) + 1
    return {str(v["name"]): math.ceil(gib(v["capacity_tib"]) / max(1, counts.get(v["name"], 0)))
            for v in data["volumes"] if v["kind"] == "block" or v["name"] in also}


@dataclass
class BootPlan:
    """What a node's cloud-init does beyond the key: mounts of shared storage, local block volumes."""

    mounts: list[Sequence[pulumi.Input[str]]] = field(default_factory=list)  # fstab fields
    devices: list[tuple[pulumi.Input[str], str]] = field(default_factory=list)  # (device path, mount)
    directories: list[str] = field(default_factory=list)


def boot_plan(data: Mapping[str, Any], node: Mapping[str, Any],
              shared: Mapping[str, Sequence[pulumi.Input[str]]]) -> BootPlan:
    """What a node's first boot mounts: its binds, its plain mounts of shared file systems; the mount point of
    object storage stays a directory (a bucket is reached with the cloud's own tools, not mounted)."""
    boot = BootPlan()
    kinds = {v["name"]: v["kind"] for v in data["volumes"]}
    bound = bind_mounts(node, shared, boot)
    for name, mount in sorted(mounted(node).items()):
        if name in bound:
            continue
        if name in shared:
            boot.mounts.append(shared[name])
        elif kinds.get(name) == "object":
            boot.directories.append(mount)
    return boot


def cloud_config(data: Mapping[str, Any], node: Mapping[str, Any], boot: BootPlan) -> pulumi.Output[str]:
    """The node's #cloud-config user data (rendered once every Output in it is known)."""
    ssh = data.get("ssh") or {}
    user, port = str(ssh.get("user", "root")), int(ssh.get("port", 22))
    key = cluster_key(data)
    document: dict[str, Any] = {
        "hostname": node["hostname"], "fqdn": node["hostname"], "preserve_hostname": False,
        "manage_etc_hosts": False, "ssh_pwauth": False, "disable_root": user != "root",
        "ssh_authorized_keys": [key],
    }
    if user != "root":
        document["users"] = ["default", {"name": user, "shell": "/bin/bash", "sudo": "ALL=(ALL) NOPASSWD:ALL",
                                         "ssh_authorized_keys": [key]}]
    runcmd: list[Any] = [["mkdir", "-p", d] for d in boot.directories]
    if port != 22:
        document["write_files"] = [{"path": "/etc/ssh/sshd_config.d/90-grid.conf", "permissions": "0644",
                                    "content": f"# grid: the cluster's SSH port\nPort {port}\n"}]
        runcmd.append(["systemctl", "restart", "ssh"])
    if boot.mounts:
        document["mounts"] = [list(m) for m in boot.mounts]
    for device, mount in boot.devices:
        runcmd.append(["sh", "-c", pulumi.Output.format(_FORMAT_AND_MOUNT, dev=device, mnt=mount)])
    if runcmd:
        document["runcmd"] = runcmd
    return pulumi.Output.from_input(document).apply(
        lambda doc: "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False))


# Wait for an attached volume, put a file system on it the first time, mount it for good (mount paths
# and device paths are restricted to shell-safe characters by the spec schema and the clouds' id formats).
_FORMAT_AND_MOUNT = (
    "for i in $(seq 300); do [ -e {dev} ] && break; sleep 2; done; "
    "blkid {dev} >/dev/null || mkfs.ext4 -q {dev}; mkdir -p {mnt}; "
    "grep -qs ' {mnt} ' /etc/fstab || echo '{dev} {mnt} ext4 defaults,nofail 0 2' >> /etc/fstab; "
    "mountpoint -q {mnt} || mount {mnt}")


def node_output(instance_id: pulumi.Input[str], private_ips: Mapping[str, pulumi.Input[str]]) -> dict[str, Any]:
    """One entry of the `nodes` stack output, in the local stack's shape (host keys are not known here)."""
    return {"id": instance_id, "host_key": "", "private_ips": dict(private_ips)}


@dataclass(frozen=True)
class Allowed:
    """One declared ingress rule for one source (program data `ingress`, grid.render.network.cloud_policy)."""

    fabric: str
    protocol: str  # tcp | udp | icmp
    ports: tuple[int, int] | None  # inclusive; None: every port (and always for icmp)
    cidr: str

    @property
    def key(self) -> str:
        """Stable part of a resource name: what the rule allows."""
        ports = "all" if self.ports is None else f"{self.ports[0]}-{self.ports[1]}"
        return f"{self.fabric}/{self.protocol}/{ports}/{self.cidr}"


def open_fabric_cidrs(data: Mapping[str, Any]) -> list[str]:
    """Subnets of the fabrics that declare no ingress: they keep accepting all traffic within the cluster."""
    filtered = set(data.get("ingress", {}))
    return sorted({str(f["cidr"]) for f in data["fabrics"] if f["name"] not in filtered})


def allowed(data: Mapping[str, Any]) -> list[Allowed]:
    """The declared ingress of the region's fabrics, one entry per (rule, port range, source), without repeats.
    Security groups hold sources, not destinations: a rule is allowed into every node of the region."""
    out: dict[str, Allowed] = {}
    for fabric, rules in sorted(dict(data.get("ingress", {})).items()):
        for rule in rules:
            ranges = [(int(r[0]), int(r[1])) for r in rule.get("ports", [])]
            spans: list[tuple[int, int] | None] = [None] if rule["protocol"] == "icmp" or not ranges else [*ranges]
            for span in spans:
                for cidr in rule["cidrs"]:
                    item = Allowed(str(fabric), str(rule["protocol"]), span, str(cidr))
                    out.setdefault(item.key, item)
    return list(out.values())
