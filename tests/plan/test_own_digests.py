"""The user's roles, scripts, limits and pool configuration reach the digests of exactly the hosts that use them,
and the fast path stays the definition byte for byte with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from grid.plan import digests as D
from grid.render.ansible import collect_inputs
from grid.render.own import OwnFiles
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"
OWN = OwnFiles(roles={"tuning": (("tasks/main.yml", "---\n- name: x\n  ansible.builtin.debug:\n"),),
                      "login": (("defaults/main.yml", "---\nlogin_motd: hi\n"), ("tasks/main.yml", "---\n"))},
               scripts={"setup.sh": "#!/bin/sh\ntrue\n"})


def spec(**pool_config: Any) -> Cluster:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    data["spec"]["configuration"].update(roles=["base", "login"], roles_path="roles",
                                         limits={"nofile": 65536}, role_vars={"login": {"login_motd": "hello"}})
    east, _ = data["spec"]["regions"]
    east["pools"][0]["configuration"] = {"roles": ["tuning"], "limits": {"memlock": "unlimited"},
                                         "sysctl": {"vm.swappiness": 10},
                                         "scripts": [{"run": "setup.sh"}], **pool_config}
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def test_fast_documents_are_the_definition_with_own_configuration() -> None:
    cluster = spec()
    graph = expand(cluster)
    fast = D._fast_documents(cluster, graph, KEY, None, OWN)
    assert fast is not None
    assert fast == D._documents_by_definition(collect_inputs(cluster, graph, KEY, None, OWN))
    assert all('"pool_vars"' in own for _, own in fast.hosts)  # every pool has limits here


def changed(before: dict[str, D.HostDigests], after: dict[str, D.HostDigests]) -> set[str]:
    return {a for a in before if before[a] != after[a]}


def test_a_role_or_script_change_reaches_only_the_hosts_that_use_them() -> None:
    cluster = spec()
    graph = expand(cluster)
    base = D.host_input_digests(cluster, graph, KEY, own=OWN)
    east = {"east/train/node-0000", "east/train/node-0001"}
    tuned = OwnFiles(roles={**OWN.roles, "tuning": (("tasks/main.yml", "---\n# changed\n"),)}, scripts=OWN.scripts)
    assert changed(base, D.host_input_digests(cluster, graph, KEY, own=tuned)) == east
    script = OwnFiles(roles=OWN.roles, scripts={"setup.sh": "#!/bin/sh\nfalse\n"})
    assert changed(base, D.host_input_digests(cluster, graph, KEY, own=script)) == east
    login = OwnFiles(roles={**OWN.roles, "login": (("tasks/main.yml", "---\n"),)}, scripts=OWN.scripts)
    assert changed(base, D.host_input_digests(cluster, graph, KEY, own=login)) == set(base)  # the cluster's role
    for variant in (spec(sysctl={"vm.swappiness": 5}), spec(limits={"memlock": 1024})):
        after = D.host_input_digests(variant, expand(variant), KEY, own=OWN)
        assert changed(base, after) == east and all(after[a].cluster == base[a].cluster for a in base)


def test_clusters_without_own_configuration_digest_as_before() -> None:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None
    graph = expand(loaded.cluster)
    documents = D._documents_by_definition(collect_inputs(loaded.cluster, graph, KEY, None))
    assert not any('"pool_vars"' in own for _, own in documents.hosts)
