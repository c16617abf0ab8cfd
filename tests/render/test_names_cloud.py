"""`names: dns` on a cloud that builds a private zone (aws, alicloud): the region's stack answers for the names
(tests/targets/test_cloud_private_names.py), so no node serves them and a node that comes or goes changes no
other host; the default there, as on the lab, unless the cluster runs Slurm; an error on the other clouds."""

from __future__ import annotations

import pytest
import yaml

from grid.plan import make_plan
from grid.plan.digests import host_input_digests
from grid.plan.model import Action
from grid.render.ansible import render_ansible
from grid.render.leftovers import leftovers_of
from grid.render.names import expected_digests, hosts_block_entries, names_mode, server_addresses
from grid.resources import Kind, expand
from grid.spec import load_spec_text, spec_digest
from grid.spec.model import Cluster
from grid.state.model import HostRecord, ResourceRecord, State
from grid.validate.target import name_service
from support.paths import EXAMPLES

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def cloud(names: str | None = None, east: int = 2, target: str = "aws", slurm: bool = False) -> Cluster:
    data = yaml.safe_load((EXAMPLES / "targets" / f"lab-{target}.yaml").read_text())
    if names is not None:
        data["spec"]["configuration"]["names"] = names
    data["spec"]["regions"][0]["pools"][0]["count"] = east
    if slurm:
        data["spec"]["scheduler"] = {"kind": "slurm", "controller": {"pool": "infer"},
                                     "partitions": [{"name": "train", "pools": ["train"]}]}
    loaded = load_spec_text(yaml.safe_dump(data), "cluster.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def _applied(spec: Cluster) -> State:
    graph = expand(spec)
    hosts = {a: HostRecord(address=a, status="configured", node_digest=d[0], cluster_digest=d[1], hosts_digest=d[2])
             for a, d in host_input_digests(spec, graph, KEY).items()}
    return State(cluster=spec.name, applied_spec=spec.model_dump(mode="json"), hosts=hosts, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs))
        for r in graph})


@pytest.mark.parametrize("target", ["aws", "alicloud"])
def test_the_clouds_with_a_private_zone_resolve_by_dns_unless_asked_or_running_slurm(target: str) -> None:
    assert names_mode(cloud(target=target)) == "dns"
    assert names_mode(cloud("hosts_file", target=target)) == "hosts_file"
    assert names_mode(cloud(target=target, slurm=True)) == "hosts_file"
    assert not list(name_service(cloud("dns", target=target)))
    fabrics = expand(cloud(target=target)).of_kind(Kind.FABRIC)
    assert {f.region: f.attrs["dns_zone"] for f in fabrics} == {
        "east": f"east.lab-{target}.grid.internal", "west": f"west.lab-{target}.grid.internal"}
    assert not any("dns_zone" in f.attrs for f in expand(cloud("hosts_file", target=target)).of_kind(Kind.FABRIC))


def test_the_other_clouds_keep_the_hosts_file_and_refuse_dns_at_the_line() -> None:
    data = yaml.safe_load((EXAMPLES / "targets" / "lab-openstack.yaml").read_text())
    assert names_mode(load_spec_text(yaml.safe_dump(data), "c.yaml").cluster) == "hosts_file"  # type: ignore[arg-type]
    data["spec"].setdefault("configuration", {})["names"] = "dns"
    spec = load_spec_text(yaml.safe_dump(data), "c.yaml").cluster
    assert spec is not None
    found = list(name_service(spec))
    assert [d.code for d in found] == ["target.names"]
    assert "alicloud, aws, existing, local" in found[0].summary and "hosts_file" in found[0].hint


def test_no_node_serves_names_and_each_keeps_only_its_own_line() -> None:
    spec = cloud()
    graph = expand(spec)
    assert server_addresses(spec, graph) == set()
    files = render_ansible(spec, graph, admin_public_key=KEY)
    all_vars = yaml.safe_load(files["inventory/group_vars/all.yml"])
    assert all_vars["grid_names"] == "zone" and "grid_name_servers" not in all_vars
    assert "tasks_from: names" not in files["site.yml"]  # no dnsmasq, no resolv.conf of grid's: the cloud's DHCP
    assert hosts_block_entries(all_vars, "west-infer-0001", "198.18.2.3") == [
        {"ip": "198.18.2.3", "hostname": "west-infer-0001"}]
    assert expected_digests(all_vars, "east-train-0000", "east") == {}  # drift probes no name-service file


def test_one_more_node_changes_the_new_node_alone_where_the_hosts_file_changes_every_host() -> None:
    for names in ("dns", "hosts_file"):
        state = _applied(cloud(names, east=2))
        grown = cloud(names, east=3)
        graph = expand(grown, state.allocations())
        plan = make_plan(graph, state, target="aws", spec_digest=spec_digest(grown),
                         host_digests=host_input_digests(grown, graph, KEY))
        assert [(c.address, c.action) for c in plan.changes if c.action is not Action.NOOP] == [
            ("east/train/node-0002", Action.CREATE)]  # its record is made with it, in its region's stack
        touched = {(h.address, h.scope) for h in plan.config}
        if names == "dns":
            assert touched == {("east/train/node-0002", "full")}
        else:
            assert len(touched) == 5 and ("east/train/node-0000", "hosts") in touched


def test_switching_updates_the_fabrics_in_place_and_leaves_nothing_on_the_nodes_to_remove() -> None:
    hosts_file, dns = _applied(cloud("hosts_file")), _applied(cloud())
    graph = expand(cloud(), hosts_file.allocations())
    plan = make_plan(graph, hosts_file, target="aws", spec_digest=spec_digest(cloud()),
                     host_digests=host_input_digests(cloud(), graph, KEY))
    changed = {c.address: c.action for c in plan.changes if c.action is not Action.NOOP}
    assert changed == {f.address: Action.UPDATE for f in graph.of_kind(Kind.FABRIC)}  # the zone beside the network
    assert {h.scope for h in plan.config} == {"cluster-wide"} and len(plan.config) == 4  # /etc/hosts: own line
    assert {h.reason for h in plan.config} == {
        "cluster-wide inputs changed; name resolution: hosts_file -> dns (private zone)"}
    graph = expand(cloud("hosts_file"), dns.allocations())
    back = make_plan(graph, dns, target="aws", spec_digest=spec_digest(cloud("hosts_file")),
                     host_digests=host_input_digests(cloud("hosts_file"), graph, KEY))
    assert {h.reason for h in back.config} == {
        "cluster-wide inputs changed; name resolution: dns (private zone) -> hosts_file"}
    assert not leftovers_of(dns).names  # grid wrote no resolv.conf and ran no dnsmasq: names_removed never runs
    files = render_ansible(cloud("hosts_file"), expand(cloud("hosts_file")), admin_public_key=KEY,
                           leftovers=leftovers_of(dns))
    assert "names_removed" not in files["site.yml"]


def test_fast_digests_equal_the_definition_in_a_private_zone() -> None:
    from grid.plan import digests
    from grid.render.ansible import collect_inputs

    spec = cloud(east=4)
    graph = expand(spec)
    fast = digests._fast_documents(spec, graph, KEY, None)
    assert fast is not None
    assert fast == digests._documents_by_definition(collect_inputs(spec, graph, KEY, None))
