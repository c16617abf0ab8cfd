"""What a host has, read over one SSH session with read-only commands: CPUs, memory, accelerators, NICs,
mounts and OS facts.

The commands go in one script, in the format `grid check` uses (grid.health.runner.node_script: each output
base64-encoded on a line of its own, so nothing a tool prints can be mistaken for another's). Accelerators
are listed by the vendors' status tools `grid check` runs, read by its parsers (grid.health); nothing on the
host is written but the script's own temporary directory, removed when it ends.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from grid.health.judge import names_model
from grid.health.results import DeviceReading, UnreadableOutput
from grid.health.runner import UNREACHABLE, node_script, read_sections
from grid.health.suites import FAMILY_SUITES, VENDOR_FAMILIES, Probe, ProbeOutput, Role, Suite
from grid.physics.catalog import Catalog, default_catalog

FACT_TIMEOUT_S = 15
NETWORK_FS = {"nfs": "nfs", "nfs4": "nfs", "cifs": "nfs", "smb3": "nfs", "lustre": "parallel-fs",
              "gpfs": "parallel-fs", "beegfs": "parallel-fs", "cephfs": "parallel-fs", "ceph": "parallel-fs",
              "glusterfs": "parallel-fs", "fuse.glusterfs": "parallel-fs", "wekafs": "parallel-fs",
              "fuse.weka": "parallel-fs"}
"""Network file systems by fstype, and the storage kind the spec says for them."""
LOCAL_FS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "jfs", "reiserfs"})
"""Local file systems on devices: reported, not storage grid manages."""
_NOT_DATA = ("/etc/", "/run/", "/dev/", "/proc/", "/sys/", "/boot")  # files a container runtime binds, boot
_FACTS: tuple[tuple[str, str], ...] = (
    ("hostname", "cat /proc/sys/kernel/hostname"),
    ("cpus", "nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo"),
    ("cpu-model", "grep -m1 -i '^model name' /proc/cpuinfo"),
    ("meminfo", "grep -i '^MemTotal' /proc/meminfo"),
    ("addr", "ip -j addr show"),
    ("speeds", "for i in /sys/class/net/*; do echo \"${i##*/} $(cat \"$i/speed\" 2>/dev/null)\"; done"),
    ("findmnt", "findmnt -J -l -o TARGET,SOURCE,FSTYPE,OPTIONS"),
    ("mounts", "cat /proc/mounts"),
    ("df", "df -P -k"),
    ("os-release", "cat /etc/os-release"),
    ("kernel", "uname -r"),
)
_DEVICE_TOOLS: tuple[tuple[str, Probe], ...] = tuple(dict.fromkeys(
    (family, probe) for family, suites in FAMILY_SUITES.items() for probe in suites[Suite.QUICK]
    if probe.role in (Role.DEVICES, Role.NAMES)))
"""(family, probe) of every device-listing tool `grid check` knows, in its order (NVIDIA first)."""


class Remote(Protocol):
    def execute(self, address: str, command: str, *, timeout: float | None = None) -> tuple[int, str, str]: ...


@dataclass(frozen=True)
class Nic:
    name: str
    address: str
    prefix: int
    mtu: int
    link_type: str = "ether"  # ip's link_type: ether, infiniband, ...
    speed_mbps: int = 0  # 0: not known (virtual NICs say none)

    @property
    def cidr(self) -> str:
        import ipaddress

        return str(ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False))


@dataclass(frozen=True)
class Mount:
    target: str
    source: str
    fstype: str
    options: str = ""
    size_kb: int = 0  # 0: not known (df did not say)

    @property
    def network(self) -> bool:
        return self.fstype in NETWORK_FS


@dataclass(frozen=True)
class Accelerators:
    model: str  # catalog id
    count: int
    tool: str  # the tool that listed them
    names: tuple[str, ...]  # as the tool printed them
    guessed: bool = False  # the name matched a catalog family, not one id exactly


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    cpus: int
    memory_gb: float
    cpu_model: str = ""
    accelerators: Accelerators | None = None
    nics: tuple[Nic, ...] = ()
    mounts: tuple[Mount, ...] = ()  # network and local file systems on devices; pseudo ones left out
    os: str = ""
    kernel: str = ""
    notes: tuple[str, ...] = ()  # what could not be read, for the spec's comments


class DiscoveryFailed(Exception):
    """The host could not be read (SSH failed, or the script printed nothing usable)."""


def discovery_script(token: str) -> str:
    steps = [(key, Probe(key, command, str, Role.DISK, timeout_s=FACT_TIMEOUT_S), command) for key, command in _FACTS]
    steps += [(probe.name, probe, probe.command) for _, probe in _DEVICE_TOOLS]
    return node_script(steps, token)


def discover(remote: Remote, address: str, catalog: Catalog | None = None) -> HostFacts:
    """Run the discovery script on `address` (one SSH session) and read what it printed."""
    token = "grid-import-" + secrets.token_hex(6)
    script = discovery_script(token)
    deadline = FACT_TIMEOUT_S * len(_FACTS) + sum(p.timeout_s for _, p in _DEVICE_TOOLS) + 15
    code, stdout, stderr = remote.execute(address, script, timeout=deadline)
    if code == UNREACHABLE and token not in stdout:
        raise DiscoveryFailed((stderr.strip() or stdout.strip())[-300:] or "ssh failed")
    outputs = read_sections(stdout, token)
    if "hostname" not in outputs:
        raise DiscoveryFailed(f"the discovery script printed nothing usable (exit {code}): "
                              + (stderr.strip() or stdout.strip())[-200:])
    return read_facts(outputs, catalog or default_catalog())


def read_facts(outputs: dict[str, ProbeOutput], catalog: Catalog) -> HostFacts:
    """HostFacts from the script's outputs by key (pure: unit-tested with recorded outputs)."""
    notes: list[str] = []

    def text(key: str) -> str:
        found = outputs.get(key)
        return found.stdout if found is not None and found.exit_code == 0 else ""

    cpus = _int(text("cpus").strip())
    if not cpus:
        notes.append("CPU count not read")
    memory_kb = _int((text("meminfo").split() or ["", "0"])[1]) if text("meminfo") else 0
    if not memory_kb:
        notes.append("memory not read")
    nics = _nics(text("addr"), _speeds(text("speeds")))
    if not text("addr"):
        notes.append("`ip -j addr` gave nothing: NICs unknown")
    sizes = _df_sizes(outputs["df"].stdout if "df" in outputs else "")  # df exits 1 when one mount fails
    mounts = [dataclasses.replace(m, size_kb=sizes.get(m.target, 0))
              for m in (_findmnt(text("findmnt")) if text("findmnt") else _proc_mounts(text("mounts")))]
    os_release = dict(_os_release(text("os-release")))
    model = text("cpu-model").partition(":")[2].strip()
    return HostFacts(
        hostname=text("hostname").strip(), cpus=cpus, memory_gb=round(memory_kb / 1024 / 1024, 1),
        cpu_model=model, accelerators=accelerators_of(outputs, catalog), nics=nics,
        mounts=tuple(m for m in mounts if m.network or (m.fstype in LOCAL_FS and not m.target.startswith(_NOT_DATA))),
        os=os_release.get("PRETTY_NAME", os_release.get("NAME", "")), kernel=text("kernel").strip(),
        notes=tuple(notes))


# -- accelerators ---------------------------------------------------------------------------------------------

def accelerators_of(outputs: dict[str, ProbeOutput], catalog: Catalog) -> Accelerators | None:
    """The first tool (in grid check's order) whose devices name a model of its own vendor's family."""
    for family, probe in _DEVICE_TOOLS:
        if probe.role is not Role.DEVICES:
            continue
        devices = _devices(family, probe, outputs)
        names = tuple(d.name for d in devices if d.name)
        if not devices or not names:
            continue
        resolved = resolve_model(names[0], family, catalog)
        if resolved is not None:
            return Accelerators(resolved[0], len(devices), probe.command.split()[0], names, resolved[1])
    return None


def _devices(family: str, probe: Probe, outputs: dict[str, ProbeOutput]) -> tuple[DeviceReading, ...]:
    found = outputs.get(probe.name)
    if found is None or found.exit_code != 0 or not found.stdout.strip():
        return ()
    try:
        if family == "amd":  # names come from `amd-smi static`, read with the metrics
            names = next((outputs.get(p.name) for f, p in _DEVICE_TOOLS if f == family and p.role is Role.NAMES),
                         None)
            parsed = probe.parse(found.stdout, names.stdout if names is not None else "")
        else:
            parsed = probe.parse(found.stdout)
    except (UnreadableOutput, ValueError, KeyError, TypeError):
        return ()
    return tuple(parsed) if isinstance(parsed, tuple | list) else ()


def resolve_model(name: str, family: str, catalog: Catalog) -> tuple[str, bool] | None:
    """(catalog id, guessed) for a device name a `family` tool printed; None when no id of that family fits.
    Exact when the name is an id (`NVIDIA H100-SXM` → h100-sxm, `910B` → ascend-910b), else the first id
    of the family whose family word stands in the name (`NVIDIA H100 80GB HBM3` → h100-sxm, guessed)."""
    ids = [m for m in catalog.ids() if _family(catalog, m) == family]
    plain = re.sub(r"^(nvidia|amd instinct|amd|huawei|cambricon|hygon)\s+", "", name.strip().lower())
    plain = re.sub(r"\s+", "-", plain)
    for model in ids:
        if model == plain or model.endswith("-" + plain):
            return model, False
    matches = [m for m in ids if names_model(name, m)]
    return (matches[0], True) if matches else None


def _family(catalog: Catalog, model: str) -> str | None:
    entry = catalog.get(model)
    words = entry.vendor.split() if entry is not None else []
    return VENDOR_FAMILIES.get(words[0].lower()) if words else None


# -- NICs, mounts, OS -----------------------------------------------------------------------------------------

def _nics(text: str, speeds: dict[str, int]) -> tuple[Nic, ...]:
    try:
        links = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return ()
    out: list[Nic] = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("link_type") == "loopback":
            continue
        for info in link.get("addr_info") or []:
            if isinstance(info, dict) and info.get("family") == "inet" and info.get("scope", "global") == "global":
                out.append(Nic(str(link.get("ifname", "")), str(info.get("local", "")),
                               _int(str(info.get("prefixlen", 32))), _int(str(link.get("mtu", 1500))),
                               str(link.get("link_type", "ether")), speeds.get(str(link.get("ifname", "")), 0)))
    return tuple(out)


def _speeds(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if _int(value.strip()) > 0:
            found[name] = _int(value.strip())
    return found


def _findmnt(text: str) -> list[Mount]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        return []
    entries = data.get("filesystems", []) if isinstance(data, dict) else []
    return [Mount(str(e.get("target", "")), str(e.get("source", "")), str(e.get("fstype", "")),
                  str(e.get("options", ""))) for e in entries if isinstance(e, dict)]


def _proc_mounts(text: str) -> list[Mount]:
    out: list[Mount] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4:
            out.append(Mount(words[1].replace("\\040", " "), words[0], words[2], words[3]))
    return out


def _df_sizes(text: str) -> dict[str, int]:
    """{mount point: size in KiB} from `df -P -k` (POSIX format: the mount point is the last column)."""
    found: dict[str, int] = {}
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) >= 6 and words[1].isdigit():
            found[" ".join(words[5:])] = int(words[1])
    return found


def _os_release(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs.append((key.strip(), value.strip().strip('"')))
    return pairs


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
