"""Hosts as `grid import` finds them, made up for the unit tests (no SSH)."""

from __future__ import annotations

from grid.importing.discover import Accelerators, HostFacts, Mount, Nic
from grid.importing.layout import FoundHost
from grid.importing.sources import Candidate

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def found(name: str, address: str, *, accel: tuple[str, int] | None = ("h100-sxm", 8), cpus: int = 64,
          memory_gb: float = 1007.5, data_ip: str = "", mtu: int = 1500, nfs: bool = True, region: str = "site",
          pool: str = "") -> FoundHost:
    nics = [Nic("eth0", address, 24, mtu, speed_mbps=25000)]
    if data_ip:
        nics.append(Nic("ib0", data_ip, 24, 4092, "infiniband", 200000))
    mounts = [Mount("/", "/dev/sda1", "ext4")]
    if nfs:
        mounts.append(Mount("/shared", "10.9.0.5:/export/shared", "nfs4", "rw"))
    facts = HostFacts(hostname=name, cpus=cpus, memory_gb=memory_gb, cpu_model="Made-up CPU",
                      accelerators=Accelerators(accel[0], accel[1], "nvidia-smi", ("NVIDIA " + accel[0].upper(),))
                      if accel else None, nics=tuple(nics), mounts=tuple(mounts), os="Debian GNU/Linux 12",
                      kernel="6.1.0")
    return FoundHost(Candidate(name, address, region=region, pool=pool), facts, HOST_KEY)
