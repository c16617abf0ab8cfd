"""grid.render.network and the `firewall` role's nftables.conf: no policy renders nothing new; a policy gives
merged port ranges, resolved sources and the same bytes every time (rendered with Ansible's own templating)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from grid.render import render_cluster
from grid.render.network import firewall_vars, nft_match, port_ranges
from grid.resources import expand
from grid.spec.network import IngressRule
from support.paths import LOCAL_LAB
from support.specs import cluster_from

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGridTestKeyOnlyForRenderingXXXXXXXXXXXXXXXXX grid-test"


def _policy(data: dict[str, Any]) -> None:
    data["spec"]["access"] = {"admin_cidrs": ["203.0.113.0/24"]}
    compute = data["spec"]["regions"][0]["fabrics"][0]
    compute["ingress"] = [{"ports": [8050, "8000-8100", 22], "from": ["mgmt", "pool:train", "198.51.100.0/24"]},
                          {"protocol": "icmp", "from": ["compute"]}]


def test_port_ranges_merge_and_sort() -> None:
    assert port_ranges([8050, "8000-8100", 22, "23-24", 8101]) == [(22, 24), (8000, 8101)]
    assert port_ranges([]) == []


def test_nft_match() -> None:
    rule = IngressRule.model_validate({"ports": ["9000-9100", 80], "protocol": "udp", "from": ["x"]})
    assert nft_match(rule) == "udp dport { 80, 9000-9100 }"
    assert nft_match(IngressRule.model_validate({"from": ["x"]})) == "meta l4proto tcp"
    assert nft_match(IngressRule.model_validate({"protocol": "icmp", "from": ["x"]})) == "meta l4proto icmp"


def test_no_policy_no_firewall_vars() -> None:
    assert firewall_vars(cluster_from(LOCAL_LAB)) == {}


def test_firewall_vars_resolve_sources() -> None:
    found = firewall_vars(cluster_from(LOCAL_LAB, _policy))["grid_firewall"]
    assert found["admin_cidrs"] == ["203.0.113.0/24"] and found["ssh_port"] == 22 and found["uses_pools"]
    assert list(found["fabrics"]) == ["east/compute"]  # only fabrics that declare ingress are filtered
    tcp, icmp = found["fabrics"]["east/compute"]["rules"]
    assert tcp == {"match": "tcp dport { 22, 8000-8100 }", "cidrs": ["198.18.1.0/24", "198.51.100.0/24"],
                   "pools": ["pool_east_train"]}
    assert icmp == {"match": "meta l4proto icmp", "cidrs": ["198.18.0.0/24"], "pools": []}


def _nftables_conf(files: dict[str, str], host: str) -> str:
    """The role's template rendered for `host` as the template module would (trim_blocks), by Ansible itself."""
    pytest.importorskip("ansible")
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    inventory = yaml.safe_load(files["ansible/inventory/hosts.yml"])
    host_vars: dict[str, Any] = {}
    groups: dict[str, list[str]] = {}

    def walk(name: str, group: dict[str, Any]) -> None:
        for hostname, values in (group.get("hosts") or {}).items():
            host_vars.setdefault(hostname, values or {})
            groups.setdefault(name, []).append(hostname)
        for child, sub in (group.get("children") or {}).items():
            walk(child, sub)

    walk("all", inventory["all"])
    variables = {**yaml.safe_load(files["ansible/inventory/group_vars/all.yml"]), **host_vars[host],
                 "groups": groups, "hostvars": host_vars, "firewall_controller": "198.18.0.1"}
    source = (resources.files("grid.templates") / "ansible/roles/firewall/templates/nftables.conf.j2").read_text()
    text: str = Templar(loader=DataLoader(), variables=variables).template(
        trust_as_template(source), overrides={"trim_blocks": True})
    return text


def test_nftables_conf_is_deterministic_and_says_the_policy() -> None:
    cluster = cluster_from(LOCAL_LAB, _policy)
    first = render_cluster(cluster, expand(cluster), admin_public_key=KEY)
    again = render_cluster(cluster, expand(cluster), admin_public_key=KEY)
    text = _nftables_conf(first, "east-train-0000")
    assert text == _nftables_conf(again, "east-train-0000")
    lines = [line.strip() for line in text.splitlines()]
    ssh = ["ip saddr 198.18.0.1 tcp dport 22 accept", "ip saddr 203.0.113.0/24 tcp dport 22 accept",
           "tcp dport 22 drop"]
    assert lines[lines.index(ssh[0]):lines.index(ssh[0]) + 3] == ssh
    match = "tcp dport { 22, 8000-8100 } accept"
    sources = [line.split("ip saddr ")[1].split()[0] for line in lines
               if line.startswith("ip daddr 198.18.0.0/24 ip saddr") and line.endswith(match)]
    assert sources == ["198.18.1.0/24", "198.51.100.0/24", "198.18.0.2", "198.18.1.2", "198.18.0.3", "198.18.1.3"]
    assert lines[-3:] == ["ip daddr 198.18.0.0/24 drop", "}", "}"]
    assert "198.18.1.0/24 drop" not in text  # mgmt declares no ingress: not filtered
    # west's node has no filtered fabric: only the SSH rules
    west = _nftables_conf(first, "west-infer-0000")
    assert "ip daddr" not in west and "tcp dport 22 drop" in west
