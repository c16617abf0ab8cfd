"""host_input_digests' fast path gives byte for byte the documents of the digest's definition.

The definition (`_documents_by_definition`): per host json.dumps({"hostname", "vars", "groups"},
sort_keys=True) of the inventory's host vars and groups; all.yml's vars dumped the same way.
`_fast_documents` fills per-pool templates instead; any graph it cannot take returns None.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.plan import digests as D
from grid.render.ansible import collect_inputs
from grid.resources import Kind, Resource, ResourceGraph, expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def lab() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    return data


def cluster_of(data: dict[str, Any]) -> Cluster:
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def variants() -> dict[str, dict[str, Any]]:
    out = {"lab": lab(), "national": yaml.safe_load((REPO / "examples/national/cluster.yaml").read_text())}
    odd = lab()
    east, west = odd["spec"]["regions"]
    east["pools"][0].update(count=5, fabrics=["mgmt", "compute"], roles=["compute", "inference", "compute"])
    east["pools"].append({**copy.deepcopy(east["pools"][0]), "name": "cpu", "count": 3, "accelerator": None,
                          "fabrics": ["compute"], "storage": [], "roles": ["inference"]})
    west["fabrics"][0]["name"] = "data"
    west["pools"][0]["fabrics"] = ["data"]
    odd["spec"]["configuration"].update(users=[{"name": "bob", "sudo": True}, {"name": "al"}],
                                        sysctl={"net.core.rmem_max": 1, "vm.swappiness": "10 pct"})
    odd["spec"]["defaults"]["ssh"] = {"user": "debian", "port": 2222}
    out["odd"] = odd
    empty = lab()
    for region in empty["spec"]["regions"]:
        region["pools"][0]["count"] = 0
    out["no-nodes"] = empty
    return out


@pytest.mark.parametrize("name", sorted(variants()))
@pytest.mark.parametrize("key", ["", KEY])
def test_fast_documents_are_the_definition(name: str, key: str) -> None:
    cluster = cluster_of(variants()[name])
    graph = expand(cluster)
    fast = D._fast_documents(cluster, graph, key, None)
    assert fast is not None
    assert fast == D._documents_by_definition(collect_inputs(cluster, graph, key, None))


def test_fast_documents_with_a_connect_fabric_and_sticky_addresses() -> None:
    cluster = cluster_of(variants()["odd"])
    prior = {r.address: {n: ip for n, ip in r.attrs["fabrics"].items()} for r in expand(cluster).of_kind(Kind.NODE)}
    prior = dict(reversed(list(prior.items())))  # reservation order differs from the graph's
    graph = expand(cluster, prior)
    connect = {"east": "compute", "west": "data"}
    fast = D._fast_documents(cluster, graph, KEY, connect)
    assert fast is not None and fast == D._documents_by_definition(collect_inputs(cluster, graph, KEY, connect))


def with_node(graph: ResourceGraph, address: str, **attrs: Any) -> ResourceGraph:
    resources = tuple(Resource(r.address, r.kind, r.region, {**r.attrs, **attrs}) if r.address == address else r
                      for r in graph)
    return ResourceGraph(graph.cluster, resources)


def odd_graphs() -> dict[str, tuple[ResourceGraph, dict[str, str] | None]]:
    cluster = cluster_of(lab())
    graph = expand(cluster)
    first = "east/train/node-0000"
    return {
        "float accelerators": (with_node(graph, first, accelerators=8.0), None),
        "bool index": (with_node(graph, first, index=True), None),
        "unhashable storage": (with_node(graph, first, storage={"pfs": ["/shared"]}), None),
        "duplicate hostname": (with_node(graph, first, hostname="east-train-0001"), None),
        "missing IP": (with_node(graph, first, fabrics={"compute": "", "mgmt": "198.18.1.2"}), None),
        "unknown fabric": (with_node(graph, first, fabrics={"nope": "198.18.1.2"}), None),
        "no fabric": (with_node(graph, first, fabrics={}), None),
        "not on connect fabric": (graph, {"east": "nope"}),
        "placeholder-like role": (with_node(graph, first, roles=["\0grid:hostname\0"]), None),
        "colliding role groups": (with_node(graph, first, roles=["a-b", "a_b"]), None),
    }


@pytest.mark.parametrize("case", sorted(odd_graphs()))
def test_other_graphs_take_the_definition(case: str) -> None:
    cluster = cluster_of(lab())
    graph, connect = odd_graphs()[case]
    assert D._fast_documents(cluster, graph, KEY, connect) is None
    try:
        expected: object = D._documents_by_definition(collect_inputs(cluster, graph, KEY, connect))
    except (ValueError, TypeError, KeyError) as exc:
        expected = (type(exc), str(exc))
    try:
        got: object = D.host_input_digests(cluster, graph, KEY, connect_fabric=connect)
    except (ValueError, TypeError, KeyError) as exc:
        got = (type(exc), str(exc))
    if isinstance(expected, tuple):
        assert got == expected  # the same error as before
    else:
        assert isinstance(got, dict) and set(got) == {a for a, _ in expected.hosts}  # type: ignore[attr-defined]


def test_digests_change_only_with_their_inputs() -> None:
    data = lab()
    data["spec"]["configuration"]["names"] = "hosts_file"  # every host's table grows (dns: tests/render/test_names)
    cluster = cluster_of(data)
    before = D.host_input_digests(cluster, expand(cluster), KEY)
    grown = copy.deepcopy(data)
    grown["spec"]["regions"][0]["pools"][0]["count"] = 3
    after = D.host_input_digests(cluster_of(grown), expand(cluster_of(grown)), KEY)
    assert set(after) - set(before) == {"east/train/node-0002"}
    for address, (node, shared, table) in before.items():
        assert after[address].node == node  # own inputs unchanged
        assert after[address].cluster == shared  # users, keys, sysctls unchanged
        assert after[address].hosts != table  # the hosts table grew


@pytest.mark.parametrize("name", sorted(variants()))
def test_digests_made_while_hashed_are_the_definitions(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """host_input_digests hashes the fast path's documents as they are made (not held in a list): the digests,
    and their order, are the ones the definition's documents give."""
    cluster = cluster_of(variants()[name])
    graph = expand(cluster)
    fast = D.host_input_digests(cluster, graph, KEY)
    monkeypatch.setattr(D, "_fast_parts", lambda *args, **kwargs: None)  # the definition, as for odd graphs
    assert list(fast.items()) == list(D.host_input_digests(cluster, graph, KEY).items())


def test_fast_parts_make_each_document_when_read() -> None:
    cluster = cluster_of(lab())
    parts = D._fast_parts(cluster, expand(cluster), KEY, None)
    assert parts is not None and not isinstance(parts.hosts, list)
    assert list(parts.hosts) == D._fast_documents(cluster, expand(cluster), KEY, None).hosts  # type: ignore[union-attr]
    assert list(parts.hosts) == []  # read once: host_input_digests reads it once
