"""Shared builders for the state tests: small realistic states and a 100k-node one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from grid.state import FileStateStore, HostRecord, ResourceRecord, State


def node_record(region: str, pool: str, index: int) -> ResourceRecord:
    address = f"{region}/{pool}/node-{index:05d}"
    return ResourceRecord(
        address=address, kind="node", region=region,
        attrs={"pool": pool, "index": index, "hostname": f"{region}-{pool}-{index:05d}",
               "container": f"grid-big-{region}-{pool}-{index:05d}", "image": "localhost/grid-node:latest",
               "accelerator": "h100", "accelerators": 8,
               "fabrics": {"compute": f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
                           "mgmt": f"10.200.{index // 256 % 256}.{index % 256}"},
               "storage": {"scratch": "/scratch"}, "roles": ["worker"], "cpus": 64, "memory_gb": 512},
        outputs={"container_id": hashlib.sha256(address.encode()).hexdigest()})


def make_state(nodes: int = 3, *, regions: int = 1, hosts: bool = True, cluster: str = "lab") -> State:
    """A state shaped like grid.resources.expand's output: region-major, nodes in index order."""
    resources: dict[str, ResourceRecord] = {}
    host_records: dict[str, HostRecord] = {}
    per_region = max(nodes // regions, 1)
    for i in range(nodes):
        record = node_record(f"r{i // per_region}", "gpu", i % per_region)
        resources[record.address] = record
        if hosts:
            host_records[record.address] = HostRecord(
                address=record.address, status="configured", node_digest="sha256:" + "b" * 64,
                cluster_digest="sha256:" + "a" * 64, updated_at="2026-11-29T06:19:13Z")
    return State(cluster=cluster, spec_digest="sha256:" + "c" * 64, resources=resources, hosts=host_records)


@pytest.fixture
def state_factory() -> Callable[..., State]:
    return make_state


@pytest.fixture
def store(tmp_path: Path) -> FileStateStore:
    workdir = tmp_path / "work"
    workdir.mkdir(mode=0o700)
    return FileStateStore(workdir)
