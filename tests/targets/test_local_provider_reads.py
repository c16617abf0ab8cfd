"""The local provider's reads in one Pulumi operation share one podman listing (grid.stacks.local_reads).

A fake `podman` on PATH serves a small world of containers, networks and volumes and logs every call.
A read with the shared listing must say exactly what a read on its own says — for a present, stopped,
missing, replaced, detached, half-removed or relimited node, a missing network or volume, an object
without the cluster's label — while 64 node reads cost 2 podman calls instead of 64. A listing never
outlives a change made through the provider, its few seconds, or the provider's own process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from grid.stacks import local_provider as provider
from grid.stacks import local_reads

FAKE_PODMAN = r'''#!PYTHON
import json, os, sys
args = sys.argv[1:]
world = json.loads(open(os.environ["FAKE_WORLD"]).read())
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")

def labelled(labels, args):
    selector = args[args.index("--filter") + 1].removeprefix("label=")
    key, _, value = selector.partition("=")
    return labels.get(key) == value

if args[:2] in (["network", "exists"], ["volume", "exists"], ["container", "exists"]):
    sys.exit(0 if args[2] in world[args[0] + "s"] else 1)
if args[0] in ("network", "volume") and args[1] == "ls":
    print("\n".join(n for n, labels in world[args[0] + "s"].items() if labelled(labels, args)))
    sys.exit(0)
if args[0] == "ps":
    print("\n".join(n for n, c in world["containers"].items() if labelled(c["Config"]["Labels"], args)))
    sys.exit(0)
if args[:2] == ["container", "inspect"]:
    found = [world["containers"][n] for n in args[2:] if n in world["containers"]]
    print(json.dumps(found))
    missing = [n for n in args[2:] if n not in world["containers"]]
    if missing:
        print(f"Error: inspecting object: no such container {missing[0]}", file=sys.stderr)
        sys.exit(125)
    sys.exit(0)
if args[:2] == ["rm", "--ignore"]:
    for name in args[2:]:
        world["containers"].pop(name, None)
    open(os.environ["FAKE_WORLD"], "w").write(json.dumps(world))
    sys.exit(0)
print("fake podman: unexpected " + " ".join(args), file=sys.stderr)
sys.exit(2)
'''

CLUSTER = "rf-t"
NETS = ["grid-rf-t-east-compute"]


def container(index: int, *, running: bool = True, status: str = "running", cluster: str = CLUSTER,
              ips: dict[str, str] | None = None) -> dict[str, Any]:
    name = f"grid-rf-t-east-train-{index:04d}"
    nets = {net: {"IPAddress": ip} for net, ip in (ips if ips is not None else {NETS[0]: f"198.19.80.{index + 10}"}
                                                     ).items()}
    return {"Id": f"id-{index}", "Name": name, "ImageName": "localhost/grid-node:latest",
            "State": {"Status": status, "Running": running, "CgroupPath": ""},
            "Config": {"Hostname": f"east-train-{index:04d}",
                       "Labels": {"grid.cluster": cluster, "grid.address": f"east/train/node-{index:04d}"}},
            "NetworkSettings": {"Networks": nets}}


def node_props(index: int) -> dict[str, Any]:
    return {"cluster": CLUSTER, "address": f"east/train/node-{index:04d}",
            "container": f"grid-rf-t-east-train-{index:04d}", "cpus": None, "memory_gb": None,
            "networks": [{"network": NETS[0], "ip": f"198.19.80.{index + 10}"}]}


class Fake:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        bin_dir = root / "bin"
        bin_dir.mkdir()
        script = bin_dir / "podman"
        script.write_text(FAKE_PODMAN.replace("PYTHON", sys.executable))
        script.chmod(0o755)
        self.world_file, self.log = root / "world.json", root / "calls.log"
        self.log.write_text("")
        monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
        monkeypatch.setenv("FAKE_WORLD", str(self.world_file))
        monkeypatch.setenv("FAKE_LOG", str(self.log))
        self.world: dict[str, Any] = {"containers": {}, "networks": {}, "volumes": {}}

    def save(self) -> None:
        self.world_file.write_text(json.dumps(self.world))

    def add(self, item: dict[str, Any]) -> None:
        self.world["containers"][item["Name"]] = item
        self.save()

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    monkeypatch.delenv(local_reads.BATCH_ENV, raising=False)
    local_reads._snapshots.clear()
    return Fake(tmp_path, monkeypatch)


def read_all(ids_props: list[tuple[str, dict[str, Any]]], kind: Any = provider.NodeProvider) -> list[Any]:
    return [(r.id, r.outs) for r in (kind().read(id_, props) for id_, props in ids_props)]


def both_ways(fake: Fake, monkeypatch: pytest.MonkeyPatch, ids_props: list[tuple[str, dict[str, Any]]],
              kind: Any = provider.NodeProvider) -> tuple[list[Any], list[Any]]:
    monkeypatch.delenv(local_reads.BATCH_ENV, raising=False)
    alone = read_all(ids_props, kind)
    monkeypatch.setenv(local_reads.BATCH_ENV, "1")
    local_reads._snapshots.clear()
    return alone, read_all(ids_props, kind)


def test_shared_reads_say_what_single_reads_say_for_every_kind_of_node(
        fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(container(0))  # present
    fake.add(container(1, running=False, status="exited", ips={}))  # stopped by hand
    fake.add(container(3) | {"Id": "id-new"})  # replaced by hand: another container of that name
    fake.add(container(4, ips={}))  # running, taken off its network
    fake.add(container(5, status="removing"))  # a killed `podman rm` left it half-removed
    fake.add(container(6, cluster="someone-else"))  # the name, without this cluster's label
    cases = [(f"id-{i}", node_props(i)) for i in range(7)]  # node 2: removed
    alone, shared = both_ways(fake, monkeypatch, cases)
    assert shared == alone
    assert [id_ for id_, _ in alone] == ["id-0", "id-1", "", "", "id-4", "", "id-6"]
    assert alone[1][1]["running"] is False and alone[4][1]["detached"] == NETS


def test_64_node_reads_cost_two_podman_calls(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(64):
        fake.add(container(index))
    cases = [(f"id-{i}", node_props(i)) for i in range(64)]
    fake.log.write_text("")
    alone, shared = both_ways(fake, monkeypatch, cases)
    calls = fake.calls()
    assert shared == alone
    assert len(calls) == 64 + 2, calls[64:]
    assert calls[64][0] == "ps" and calls[65][:2] == ["container", "inspect"] and len(calls[65]) == 66


def test_networks_and_volumes_read_alike(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.world["networks"] = {"n-ours": {"grid.cluster": CLUSTER}, "n-unlabelled": {}}
    fake.world["volumes"] = {"v-ours": {"grid.cluster": CLUSTER}}
    fake.save()
    for kind, names in ((provider.NetworkProvider, ["n-ours", "n-unlabelled", "n-gone"]),
                        (provider.VolumeProvider, ["v-ours", "v-gone"])):
        cases = [(name, {"cluster": CLUSTER, "address": f"east/{name}"}) for name in names]
        alone, shared = both_ways(fake, monkeypatch, cases, kind)
        assert shared == alone
        assert [id_ for id_, _ in alone] == [n if n.endswith(("ours", "unlabelled")) else "" for n in names]


def test_a_delete_through_the_provider_drops_the_listing(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(local_reads.BATCH_ENV, "1")
    fake.add(container(0))
    fake.add(container(1))
    node = provider.NodeProvider()
    assert node.read("id-0", node_props(0)).id == "id-0"
    node.delete("id-0", node_props(0))
    assert node.read("id-0", node_props(0)).id == ""


def test_a_listing_expires_and_is_not_used_outside_the_provider_process(
        fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add(container(0))
    monkeypatch.setenv(local_reads.BATCH_ENV, "1")
    node = provider.NodeProvider()
    assert node.read("id-0", node_props(0)).id == "id-0"
    fake.world["containers"].clear()
    fake.save()  # removed behind the provider's back (`podman rm -f` by hand)
    assert node.read("id-0", node_props(0)).id == "id-0"  # within the same operation: the shared listing
    monkeypatch.setattr(local_reads, "SNAPSHOT_SECONDS", 0.0)
    assert node.read("id-0", node_props(0)).id == ""
    monkeypatch.setattr(local_reads, "SNAPSHOT_SECONDS", 10.0)
    fake.add(container(0))
    monkeypatch.delenv(local_reads.BATCH_ENV)  # grid's own process, tests: always asks podman
    assert node.read("id-0", node_props(0)).id == "id-0"


def test_the_provider_host_turns_sharing_on_for_its_process_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from grid.stacks import provider_host

    assert provider_host.BATCH_READS_ENV == local_reads.BATCH_ENV
    seen: dict[str, str | None] = {}
    environment = {k: v for k, v in os.environ.items() if k != local_reads.BATCH_ENV}
    monkeypatch.setattr(os, "environ", environment)  # the test process's own stays as it was
    monkeypatch.setattr(provider_host.runpy, "run_module",
                        lambda *a, **k: seen.setdefault("env", os.environ.get(local_reads.BATCH_ENV)))
    provider_host.main(["-u", "-m", "pulumi.dynamic"])
    assert seen["env"] == "1"
    environment[local_reads.BATCH_ENV] = "0"  # grid run with it off, to compare
    seen.clear()
    provider_host.main(["-u", "-m", "pulumi.dynamic"])
    assert seen["env"] == "0"


def test_reads_while_a_change_runs_go_on_their_own(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(local_reads.BATCH_ENV, "1")
    fake.add(container(0))
    fake.add(container(1))
    node = provider.NodeProvider()
    with local_reads.changing():  # another resource's create in the same provider process
        assert node.read("id-0", node_props(0)).id == "id-0"
        fake.world["containers"].pop("grid-rf-t-east-train-0000")
        fake.save()
        assert node.read("id-0", node_props(0)).id == ""
    assert [call[:2] for call in fake.calls()] == [["container", "inspect"]] * 2
