"""Spec makers: lab clusters that never collide, and the diagnostics of a spec text.

A lab spec gets a unique cluster name (`t` + 7 hex digits, which `lab.remove_leftover_test_clusters`
recognises) and, for every fabric, a /24 of 198.18.128.0/17 that neither podman nor the host's routes use,
reserved for this process by a file naming its pid (tests running at once, here or in other sessions,
never pick the same one). A reservation only has to cover the time until podman holds the network (then
`used_subnets` sees it): one of a dead process, or older than RESERVED_SECONDS, is taken over, so that a
long test session does not run out of the 127 subnets.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import os
import random
import re
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from grid.diagnostics import Diagnostic
from grid.render.templating import canonical_json
from grid.resources import Kind, ResourceGraph
from grid.spec import load_spec_text
from grid.spec.model import Cluster
from grid.state.model import ResourceRecord, State

from .paths import LOCAL_LAB

Edit = Callable[[dict[str, Any]], None]

TEST_CLUSTER = re.compile(r"^t[0-9a-f]{7}$")  # the names lab_spec gives
LAB_SUBNETS = tuple(ipaddress.IPv4Network(f"198.18.{octet}.0/24") for octet in range(128, 255))
RESERVATIONS = Path(tempfile.gettempdir()) / "grid-test-subnets"
RESERVED_SECONDS = 1800
_reserving = threading.Lock()


# -- free subnets ----------------------------------------------------------------------------------------

def used_subnets() -> set[ipaddress.IPv4Network]:
    """Subnets podman's networks hold, and those routed on the host (podman refuses those too)."""
    used: set[ipaddress.IPv4Network] = set()
    try:
        routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show"], capture_output=True, text=True,
                                           check=True).stdout)
        for route in routes:
            with contextlib.suppress(ValueError):
                used.add(ipaddress.IPv4Network(route.get("dst", ""), strict=False))
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        pass
    try:
        names = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return used
    for name in names:
        out = subprocess.run(["podman", "network", "inspect", name, "--format",
                              "{{range .Subnets}}{{.Subnet}} {{end}}"], capture_output=True, text=True, check=False)
        for subnet in out.stdout.split():
            with contextlib.suppress(ValueError):
                used.add(ipaddress.IPv4Network(subnet))
    return used


def _reserve(subnet: ipaddress.IPv4Network) -> bool:
    """Claim `subnet` for this test process (a file naming our pid; one of a dead pid is taken over)."""
    RESERVATIONS.mkdir(exist_ok=True)
    path = RESERVATIONS / str(subnet).replace("/", "_")
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                owner, age = int(path.read_text() or 0), time.time() - path.stat().st_mtime
            except (OSError, ValueError):
                owner, age = 0, 0.0
            alive = owner == os.getpid() or (owner and Path(f"/proc/{owner}").exists())
            if alive and age < RESERVED_SECONDS:
                return False
            path.unlink(missing_ok=True)  # its process is gone, or its network long made (or never)
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def free_lab_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """`count` /24s of 198.18.128.0/17, picked at random among the unused ones and reserved for this process."""
    with _reserving:
        used = used_subnets()
        free = [net for net in LAB_SUBNETS if not any(net.overlaps(u) for u in used)]
        random.shuffle(free)
        picked: list[ipaddress.IPv4Network] = []
        for net in free:
            if len(picked) == count:
                break
            if _reserve(net):
                picked.append(net)
    assert len(picked) == count, f"only {len(picked)} free /24s of 198.18.128.0/17 for {count} test networks"
    return picked


# -- lab specs -------------------------------------------------------------------------------------------

def lab_spec(directory: Path, *, source: Path = LOCAL_LAB, edit: Edit | None = None,
             shape: Edit | None = None) -> tuple[Path, str]:
    """A copy of `source` as `directory`/cluster.yaml with a unique cluster name and every fabric on a free,
    reserved /24; `shape` cuts the spec before subnets are given (fewer regions: fewer subnets), `edit` changes
    it after. Returns the spec's path and the cluster's name."""
    data = yaml.safe_load(source.read_text())
    name = "t" + uuid.uuid4().hex[:7]
    data["metadata"]["name"] = name
    if shape is not None:
        shape(data)
    fabrics = [fabric for region in data["spec"]["regions"] for fabric in region["fabrics"]]
    for fabric, subnet in zip(fabrics, free_lab_subnets(len(fabrics)), strict=True):
        fabric["cidr"] = str(subnet)
    if edit is not None:
        edit(data)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, name


def one_small_region(data: dict[str, Any]) -> None:
    """A `shape`: the first region alone, with its first pool of 2 nodes and no links."""
    region = data["spec"]["regions"][0]
    data["spec"]["regions"] = [region]
    data["spec"]["links"] = []
    region["pools"] = region["pools"][:1]
    region["pools"][0]["count"] = 2


def small_lab(directory: Path, edit: Edit | None = None) -> tuple[Path, str]:
    """The lab spec cut to one region with one pool of 2 nodes (see lab_spec)."""
    return lab_spec(directory, shape=one_small_region, edit=edit)


# -- a spec text's diagnostics ---------------------------------------------------------------------------

SPEC_HEAD = "apiVersion: grid/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  target: local\n"
"""The lines every small test spec starts with (a local cluster `t`); its `spec:` keys follow."""
LOCAL_SPEC_HEAD = SPEC_HEAD + "  regions:\n"
EAST_FABRICS = """\
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.18.0.0/24}
        - {name: compute, kind: roce, mtu: 9000, cidr: 198.18.1.0/24}
"""  # the start of a region `east` in a spec text after LOCAL_SPEC_HEAD: its pools and storage follow

def findings(text: str, code_prefix: str) -> list[Diagnostic]:
    """The validation findings of spec `text` (which must load) whose code starts with `code_prefix`."""
    from grid.validate import validate

    loaded = load_spec_text(text, "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return [d for d in validate(loaded) if d.code.startswith(code_prefix)]


def where(diag: Diagnostic) -> tuple[int, int]:
    """A finding's line and column in the spec text."""
    assert diag.source is not None
    return diag.source.line, diag.source.col


# -- clusters and states in memory -----------------------------------------------------------------------

def cluster_from(source: Path | dict[str, Any], edit: Edit | None = None) -> Cluster:
    """The validated-model Cluster of a spec file or its data (which must load), after `edit` of a copy."""
    data = yaml.safe_load(source.read_text()) if isinstance(source, Path) else copy.deepcopy(source)
    if edit is not None:
        edit(data)
    loaded = load_spec_text(yaml.safe_dump(data, sort_keys=False), "cluster.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def applied_state(graph: ResourceGraph, *, host_key: str = "ssh-ed25519 AAAA") -> State:
    """The state after an apply of `graph` (each node with `host_key`), as read back from its file."""
    state = State(cluster=graph.cluster, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs),
                                  outputs={"host_key": host_key} if r.kind is Kind.NODE else {})
        for r in graph})
    return State.model_validate(json.loads(canonical_json(state.model_dump())))


def two_small_regions(name: str, subnets: tuple[str, str], east: int, west: int) -> str:
    """A local cluster of two regions joined by a link: east (pool a, `east` nodes) and west (pool b, `west`
    nodes), one ethernet fabric each on `subnets`, the base role only (the region runs and agents' tests)."""
    pool = "fabrics: [mgmt], roles: [compute], resources: {cpus: 0.5, memory_gb: 0.5}"
    regions = "".join(f"""    - name: {region}
      site: {{power_mw: 0.1}}
      fabrics:
        - {{name: mgmt, kind: ethernet, cidr: {cidr}}}
      pools:
        - {{name: {pool_name}, count: {count}, {pool}}}
""" for region, cidr, pool_name, count in (("east", subnets[0], "a", east), ("west", subnets[1], "b", west)))
    return local_cluster(name, regions, """  links:
    - {between: [east, west], bandwidth_gbps: 100, latency_ms: 20}
  configuration:
    roles: [base]
""")


def local_cluster(name: str, regions: str, rest: str = "") -> str:
    """A spec of target local (SSH as root) with `regions` (YAML list items indented 4) and `rest` (more keys of
    `spec`, indented 2) — what the e2e tests' small labs share."""
    return f"""apiVersion: grid/v1
kind: Cluster
metadata: {{name: {name}}}
spec:
  target: local
  defaults:
    ssh: {{user: root}}
  regions:
{regions}{rest}"""
