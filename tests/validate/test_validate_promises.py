"""Validate promises what plan keeps: any spec `grid validate` accepts expands, plans and renders.

Specs are drawn over the whole schema (targets local/aws/openstack/existing, names that collide only
after `-`→`_`, small and overlapping subnets, storage, pools, links, sysctls, users, existing hosts), from
small vocabularies so that collisions are frequent. Where validate finds no error, planning against an
empty state (grid.workspace.plan) and rendering (grid.render.render_cluster) must raise nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grid.diagnostics import Diagnostics
from grid.spec import LoadedSpec, load_spec_text
from grid.state.model import empty_state
from grid.targets import target_for
from grid.validate import validate
from grid.workspace import Workspace, plan, render
from support.fakes import MemoryStateStore

REGIONS = ("east", "west", "a", "a-b", "b")
FABRICS = ("mgmt", "compute", "data")
STORAGE = ("pfs", "data", "scratch")
POOLS = ("train", "infer", "b-c", "gpu")
ROLES = ("compute", "inference", "kube-node", "kube_node", "login")
MODELS = ("h100-sxm", "h200", "mi300x", "not-a-gpu")
MOUNTS = ("/shared", "/data", "/scratch", "/mnt/a", "/srv/x")
OPTIONS = ("ro", "rw", "noatime", "nosuid", "vers=4.1")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq9bY8rXqvJ0sVsKq1cJ8u4tQd4dRrQ4eFq0Ykq0a1b test"


class _Draw:
    """Choices of one spec: careful (mostly valid: distinct names, known references, free subnets) or sloppy
    (any value of the vocabularies), so that about half of the drawn specs validate and the rest probe the
    validators with collisions, exhaustion and overlaps."""

    def __init__(self, draw: st.DrawFn, sloppy: bool) -> None:
        self.draw, self.sloppy = draw, sloppy
        self.octets = iter(draw(st.lists(st.integers(0, 250), min_size=12, max_size=12, unique=True)))

    def __call__(self, careful: st.SearchStrategy[Any], sloppy: st.SearchStrategy[Any] | None = None) -> Any:
        if self.sloppy and sloppy is not None and self.draw(st.booleans()):
            return self.draw(sloppy)
        return self.draw(careful)

    def names(self, vocabulary: tuple[str, ...], most: int, least: int = 0) -> list[str]:
        return list(self(st.lists(st.sampled_from(vocabulary), min_size=least, max_size=most, unique=True),
                         st.lists(st.sampled_from(vocabulary), min_size=least, max_size=most)))

    def mount_sets(self) -> list[list[str]]:
        """Mount points of the storages of a region: one or two each, none used twice (sloppy: maybe)."""
        paths = self.names(MOUNTS, 4, least=4)
        sizes = self.draw(st.lists(st.integers(1, 2), min_size=2, max_size=2))
        return [paths[:sizes[0]], paths[sizes[0]:sizes[0] + sizes[1]]]

    def cidr(self) -> str:
        """A /24 (or /29) of its own; sloppy: now and then a tiny or overlapping subnet, or one off the lab range."""
        octet = next(self.octets)
        own = st.sampled_from((f"198.18.{octet}.0/24", f"198.18.{octet}.0/24", f"198.18.{octet}.0/29"))
        return str(self(own, st.one_of(
            st.tuples(st.integers(0, 3), st.sampled_from((26, 28, 29, 30))).map(lambda t: f"198.18.{t[0]}.0/{t[1]}"),
            st.sampled_from(("10.0.0.0/24", "198.18.0.0/16", "198.19.0.0/30")))))


def _pool(pick: _Draw, name: str, fabrics: list[str], storage: list[str], target: str) -> dict[str, Any]:
    draw = pick.draw
    entry: dict[str, Any] = {
        "name": name, "count": pick(st.integers(0, 4), st.sampled_from((70, 300))),
        "fabrics": pick(st.lists(st.sampled_from(fabrics), min_size=0 if target == "existing" else 1, max_size=2,
                                 unique=True) if fabrics
                        else st.just([]), st.lists(st.sampled_from((*fabrics, "mgmt")), max_size=2)),
        "storage": pick(st.lists(st.sampled_from(storage), max_size=2, unique=True) if storage else st.just([]),
                        st.lists(st.sampled_from((*storage, "pfs")), max_size=2)),
        "roles": draw(st.lists(st.sampled_from(ROLES), max_size=2)),
        "nodes_per_rack": pick(st.sampled_from((1, 4)), st.just(64)),
        "instance_types": pick(st.just({"aws": "p5.48xlarge", "openstack": "gpu.8xh100"}),
                               st.sampled_from(({"aws": "c7g.8xlarge"}, {}))),
    }
    if draw(st.booleans()):
        entry["accelerator"] = {"model": pick(st.sampled_from(MODELS[:-1]), st.just(MODELS[-1])),
                                "per_node": draw(st.integers(0, 8))}
    if draw(st.booleans()):
        entry["resources"] = {"cpus": 0.25, "memory_gb": 0.25}
    if draw(st.booleans()):
        entry["configuration"] = {
            "sysctl": draw(st.dictionaries(st.sampled_from(("net.core.rmem_max", "vm.swappiness")),
                                           st.integers(0, 10**6), max_size=2)),
            "limits": draw(st.dictionaries(st.sampled_from(("memlock", "nofile")), st.one_of(
                st.just("unlimited"), st.integers(1024, 10**6),
                st.builds(lambda s, h: {"soft": s, "hard": h}, st.just(65536), st.just(1048576))), max_size=2)),
            "users": [{"name": name} for name in pick.names(("dave", "erin", "alice"), 1)],
        }
    return entry


def _storage(pick: _Draw, name: str, paths: list[str]) -> dict[str, Any]:
    draw = pick.draw
    kind = draw(st.sampled_from(("parallel-fs", "nfs", "block", "object", "local-scratch")))
    entry: dict[str, Any] = {"name": name, "kind": kind, "protect": draw(st.booleans())}
    if kind in ("parallel-fs", "nfs", "block") or pick(st.just(False), st.booleans()):
        entry["capacity_tib"] = draw(st.sampled_from((1, 64)))
    shared = kind in ("parallel-fs", "nfs")
    if not pick.sloppy and kind == "block":
        paths = paths[:1]  # a block volume is one file system on one node: one mount
    if len(paths) == 1 and draw(st.booleans()):
        entry["mount"] = paths[0]
        return entry
    mounts = []
    for path in paths:
        mount: dict[str, Any] = {"path": path}
        if draw(st.booleans()):
            mount["options"] = draw(st.lists(st.sampled_from(OPTIONS), max_size=2, unique=True))
        if draw(st.booleans()) and (pick.sloppy or "ro" not in mount.get("options", ())):
            mount["mode"] = draw(st.sampled_from(("1777", "0755")))
        if draw(st.booleans()) and (pick.sloppy or shared):
            mount["subdir"] = pick(st.sampled_from(("ckpt", "a/b")), st.just("ckpt/.."))
        mounts.append(mount)
    entry["mounts"] = mounts
    return entry


def _ingress(pick: _Draw, fabrics: list[str]) -> dict[str, Any]:
    draw = pick.draw
    protocol = draw(st.sampled_from(("tcp", "udp", "icmp")))
    rule: dict[str, Any] = {"protocol": protocol,
                            "from": pick(st.lists(st.sampled_from((*fabrics, "198.51.100.0/24")), min_size=1,
                                                  max_size=2, unique=True),
                                         st.lists(st.sampled_from(("pool:train", "pool:nope", "10.0.0.0/8",
                                                                   "nowhere")), min_size=1, max_size=2))}
    if protocol != "icmp":
        rule["ports"] = pick(st.lists(st.sampled_from((22, 443, "8000-8100")), max_size=2, unique=True),
                             st.lists(st.sampled_from((0, "9-1", 70000)), max_size=1))
    return rule


def _region(pick: _Draw, name: str, target: str) -> dict[str, Any]:
    draw = pick.draw
    fabrics: list[dict[str, Any]] = [{"name": f, "kind": draw(st.sampled_from(("ethernet", "roce", "infiniband"))),
                "mtu": draw(st.sampled_from((1500, 9000, 9001))), "cidr": pick.cidr(),
                **({"topology": {"kind": draw(st.sampled_from(("fat-tree", "rail-optimized")))}}
                   if draw(st.booleans()) else {})}
               for f in pick.names(FABRICS, 3, least=1)]
    storage = [_storage(pick, s, mounts) for s, mounts in zip(pick.names(STORAGE, 2), pick.mount_sets(), strict=False)]
    for fabric in fabrics:
        if draw(st.booleans()):
            fabric["ingress"] = [_ingress(pick, [f["name"] for f in fabrics])
                                 for _ in range(draw(st.integers(0, 2)))]
    pools = [_pool(pick, pool, [f["name"] for f in fabrics], [s["name"] for s in storage], target)
             for pool in pick.names(POOLS, 3)]
    site = {"power_mw": pick(st.just(1000), st.just(0.01)), "rack_kw_max": pick(st.just(500), st.just(10)),
            "cooling": pick(st.just("liquid"), st.just("air"))}
    if draw(st.booleans()):
        site["grid_carbon_g_per_kwh"] = 500
    return {"name": name, "site": site, "fabrics": fabrics, "storage": storage, "pools": pools}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    pick = _Draw(draw, sloppy=draw(st.booleans()))
    target = draw(st.sampled_from(("local", "aws", "openstack", "existing")))
    names = pick.names(REGIONS, 3, least=1)
    regions = [_region(pick, name, target) for name in names]
    pools = [(r["name"], p["name"]) for r in regions for p in r["pools"]] or [("east", "train")]
    hosts = [{"name": pick(st.just(f"h{i}"), st.sampled_from(("h1", "east-train-0001"))),
              "address": pick(st.just(f"198.18.251.{i + 2}"), st.sampled_from(("198.18.0.2", "198.18.0.3"))),
              "region": region, "pool": pool}
             for i, (region, pool) in enumerate(draw(st.lists(st.sampled_from(pools), min_size=1, max_size=6)))]
    users = [{"name": name, "sudo": draw(st.booleans()), "authorized_keys": draw(st.sampled_from(([], [KEY])))}
             for name in pick.names(("alice", "bob", "carol", "gridadmin")[:4 if pick.sloppy else 3], 2)]
    sysctl = draw(st.dictionaries(st.sampled_from(("net.core.rmem_max", "vm.swappiness", "kernel.pid_max")),
                                  st.one_of(st.integers(0, 10**8), st.sampled_from(("1", "4096 87380")))))
    links = pick(st.lists(st.permutations(names).map(lambda n: tuple(n[:2])), max_size=2, unique=True),
                 st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=2))
    return {
        "apiVersion": "grid/v1", "kind": "Cluster", "metadata": {"name": draw(st.sampled_from(("c", "lab-x")))},
        "spec": {
            "target": target,
            "targets": {"aws": {"region": "eu-central-1"}, "existing": {"hosts": hosts}},
            "defaults": {"ssh": {"user": draw(st.sampled_from(("root", "admin")))}},
            "regions": regions,
            **({"access": {"admin_cidrs": pick(st.just(["203.0.113.0/24"]), st.just(["203.0.113.1/24"]))}}
               if draw(st.booleans()) else {}),
            "links": [{"between": list(pair), "bandwidth_gbps": 100} for pair in links if len(pair) == 2],
            "configuration": {"roles": draw(st.lists(st.sampled_from(("base", "fabric", "storage-client")),
                                                     max_size=3)),
                              "sysctl": sysctl, "users": users},
        },
    }


def plan_and_render(loaded: LoadedSpec, workdir: Path) -> None:
    """What `grid plan` and `grid render` do with a valid spec, in memory against an empty state."""
    assert loaded.cluster is not None
    cluster = loaded.cluster
    ws = Workspace(workdir / "cluster.yaml", loaded, cluster, Diagnostics(), workdir, MemoryStateStore(),
                   target_for(cluster))
    state = empty_state(cluster.name)
    plan(ws, envelope=None, state=state)
    render(ws, state)


@pytest.mark.usefixtures("draws_independent_of_loaded_modules")
def test_every_spec_validate_accepts_plans_and_renders(tmp_path: Path) -> None:
    accepted: list[int] = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs())
    def promise(data: dict[str, Any]) -> None:
        text = yaml.safe_dump(data, sort_keys=False)
        loaded = load_spec_text(text, "cluster.yaml")
        if loaded.cluster is None or validate(loaded).has_errors:
            return
        accepted.append(1)
        try:
            plan_and_render(loaded, tmp_path)
        except Exception as exc:
            raise AssertionError(f"validate accepted a spec that plan/render cannot take:\n{text}") from exc

    promise()
    assert len(accepted) >= 40, f"only {len(accepted)} of the drawn specs validated: the strategy needs tuning"
