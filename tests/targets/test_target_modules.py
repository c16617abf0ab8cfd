"""One test per target module: its traits, its engine, its fixed hosts and its probe, through grid.targets."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from grid.drivers.pulumi import ProcessStackEngine
from grid.engines import EngineFailed
from grid.render.pulumi import region_program_input
from grid.resources import Kind, expand
from grid.spec.model import Cluster
from grid.state.model import State, empty_state
from grid.targets import EngineSetup, target_for
from grid.targets.cloud import HostKeyPinningEngine
from grid.targets.existing import ExistingHostsEngine, existing_nodes
from support.paths import EXAMPLES
from support.specs import cluster_from


def setup(cluster: Cluster, tmp_path: Path, state: State | None = None, **options: Any) -> EngineSetup:
    return EngineSetup(cluster=cluster, workdir=tmp_path, passphrase_file=tmp_path / "passphrase",
                       read_state=lambda: state or empty_state(cluster.name), **options)


def first_node_ips(cluster: Cluster) -> dict[str, str]:
    target = target_for(cluster)
    graph = expand(cluster, fixed_hosts=target.fixed_hosts(cluster))
    return dict(next(iter(graph.of_kind(Kind.NODE))).attrs["fabrics"])


def test_local_makes_pulumi_stacks_in_the_lab_range_and_probes_podman(tmp_path: Path) -> None:
    lab = cluster_from(EXAMPLES / "local-lab" / "cluster.yaml")
    target = target_for(lab)
    assert target.traits.creates_infrastructure and target.traits.lab_subnets_only and not target.traits.cloud
    assert target.fixed_hosts(lab) == {}
    engine = target.stacks(setup(lab, tmp_path))
    assert isinstance(engine, ProcessStackEngine)
    assert engine.backend_url == f"file://{tmp_path.resolve() / 'pulumi-backend'}"
    assert all(ip.endswith(".2") for ip in first_node_ips(lab).values())  # .1 is the gateway


def test_existing_hosts_come_from_the_spec_and_need_no_stacks(tmp_path: Path) -> None:
    spec = cluster_from(EXAMPLES / "targets" / "existing.yaml", edit=_listed_hosts("198.18.100.10", 22))
    target = target_for(spec)
    assert not target.traits.creates_infrastructure and target.traits.fixed_hosts
    assert target.fixed_hosts(spec) == existing_nodes(spec)
    assert {a: h.hostname for a, h in target.fixed_hosts(spec).items()} == {"dc1/gpu/node-0000": "gpu-a"}
    assert first_node_ips(spec)["mgmt"] == "198.18.100.10"  # the host's own address, on the connect fabric
    assert target.probe(spec, empty_state(spec.name), expand(spec), lineage="") is None
    assert isinstance(target.stacks(setup(spec, tmp_path)), ExistingHostsEngine)


def test_the_existing_engine_fails_a_region_whose_host_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = cluster_from(EXAMPLES / "targets" / "existing.yaml", edit=_listed_hosts("127.0.0.1", port))
    target = target_for(spec)
    engine = target.stacks(setup(spec, tmp_path, trust_new_hosts=True))
    assert engine is not None
    graph = expand(spec, fixed_hosts=target.fixed_hosts(spec))
    with pytest.raises(EngineFailed, match=rf"region dc1: unreachable: gpu-a \(127.0.0.1:{port}\)") as failed:
        engine.up("dc1", region_program_input(spec, graph, "dc1", authorized_key=""))
    assert failed.value.region == "dc1"


@pytest.mark.parametrize("name,first_host", [("aws", 4), ("openstack", 2)])
def test_clouds_pin_host_keys_around_pulumi_and_read_their_instance_types(name: str, first_host: int,
                                                                          tmp_path: Path) -> None:
    cloud = cluster_from(EXAMPLES / "targets" / f"lab-{name}.yaml")
    target = target_for(cloud)
    assert target.traits.cloud and target.traits.creates_infrastructure
    assert target.traits.instance_type_key == name
    assert target.fixed_hosts(cloud) == {}
    assert target.probe(cloud, empty_state(cloud.name), expand(cloud), lineage="") is None
    engine = target.stacks(setup(cloud, tmp_path, trust_new_hosts=True))
    assert isinstance(engine, HostKeyPinningEngine) and isinstance(engine.inner, ProcessStackEngine)
    assert engine.trust_new_hosts
    assert all(ip.endswith(f".{first_host}") for ip in first_node_ips(cloud).values())
    program = region_program_input(cloud, expand(cloud), cloud.spec.regions[0].name, authorized_key="")
    pool = cloud.spec.regions[0].pools[0]
    assert program["nodes"][0]["instance_type"] == dict(pool.instance_types)[name]


def _listed_hosts(address: str, port: int) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["targets"] = {"existing": {"hosts": [
            {"name": "gpu-a", "address": address, "port": port, "region": "dc1", "pool": "gpu"}]}}
        data["spec"]["regions"][0]["pools"][0]["count"] = 1
    return edit
