"""render_ansible: deterministic files that real Ansible parses, syntax-checks and lints clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.plan.digests import host_input_digests
from grid.render.ansible import render_ansible
from grid.resources import Kind, expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster, User

REPO = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"
LAB = (REPO / "examples/local-lab/cluster.yaml").read_text()


def cluster_of(text: str) -> Cluster:
    loaded = load_spec_text(text, "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def with_pool_count(cluster: Cluster, count: int) -> Cluster:
    region = cluster.spec.regions[0]
    pools = [region.pools[0].model_copy(update={"count": count}), *region.pools[1:]]
    regions = [region.model_copy(update={"pools": pools}), *cluster.spec.regions[1:]]
    return cluster.model_copy(update={"spec": cluster.spec.model_copy(update={"regions": regions})})


def with_configuration(cluster: Cluster, **update: Any) -> Cluster:
    configuration = cluster.spec.configuration.model_copy(update=update)
    spec = cluster.spec.model_copy(update={"configuration": configuration})
    return cluster.model_copy(update={"spec": spec})


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install ansible-core / ansible-lint)")
    return found


@pytest.fixture(scope="module")
def lab() -> Cluster:
    return cluster_of(LAB)


@pytest.fixture(scope="module")
def rendered(lab: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ansible")
    for rel, text in render_ansible(lab, expand(lab), admin_public_key=KEY).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    return out


def test_output_is_deterministic_and_complete(lab: Cluster) -> None:
    first = render_ansible(lab, expand(lab), admin_public_key=KEY)
    assert first == render_ansible(cluster_of(LAB), expand(cluster_of(LAB)), admin_public_key=KEY)
    assert list(first) == sorted(first)
    assert {"ansible.cfg", "site.yml", "inventory/hosts.yml", "inventory/group_vars/all.yml"} <= set(first)
    roles = REPO / "templates/ansible/roles"
    for path in roles.rglob("*"):
        if path.is_file() and path.relative_to(roles).parts[0] != "slurm":
            assert first[f"roles/{path.relative_to(roles)}"] == path.read_text()
    # The slurm role only for a spec with a scheduler: a change to it reaches no other cluster's hosts.
    assert not any(name.startswith("roles/slurm/") for name in first)
    cfg = first["ansible.cfg"]
    assert "forks = 16" in cfg and "pipelining = True" in cfg
    assert "host_key_checking" not in cfg and "strategy" not in cfg.split("[defaults]")[1].split("#")[0]
    assert "/work/" not in "".join(first.values())  # nothing machine-specific


def test_inventory_vars_and_groups(lab: Cluster) -> None:
    files = render_ansible(lab, expand(lab), admin_public_key=KEY)
    inventory = yaml.safe_load(files["inventory/hosts.yml"])["all"]["children"]
    host = inventory["region_east"]["children"]["pool_east_train"]["hosts"]["east-train-0001"]
    assert host == {
        "ansible_host": "198.18.1.3", "grid_address": "east/train/node-0001", "grid_region": "east",
        "grid_pool": "train", "grid_index": 1, "grid_accelerator": "ascend-910b", "grid_accelerators": 8,
        "grid_fabrics": [{"name": "compute", "ip": "198.18.0.3", "mtu": 9000, "cidr": "198.18.0.0/24"},
                         {"name": "mgmt", "ip": "198.18.1.3", "mtu": 1500, "cidr": "198.18.1.0/24"}],
        "grid_storage": [{"name": "pfs", "mount": "/shared"}], "grid_roles": ["compute"]}
    assert sorted(inventory["role_inference"]["hosts"]) == ["west-infer-0000", "west-infer-0001"]
    common = yaml.safe_load(files["inventory/group_vars/all.yml"])
    assert common["grid_cluster"] == "lab" and common["grid_admin_user"] == "gridadmin"
    assert common["grid_admin_pubkey"] == KEY and common["ansible_user"] == "root"
    assert common["grid_sysctl"] == {"net.core.rmem_max": 67108864, "net.core.wmem_max": 67108864}
    assert common["grid_hosts"] == [
        {"hostname": "east-train-0000", "ip": "198.18.1.2"},
        {"hostname": "east-train-0001", "ip": "198.18.1.3"},
        {"hostname": "west-infer-0000", "ip": "198.18.2.2"},
        {"hostname": "west-infer-0001", "ip": "198.18.2.3"}]
    assert common["ansible_python_interpreter"] == "/usr/bin/python3"  # named: discovery is a round trip
    site = {play["name"].split(" ")[0]: play for play in yaml.safe_load(files["site.yml"])}
    # No network policy, no own configuration: the firewall and own-config have nothing to do and are not
    # played at all (tests/render/test_site_plays.py).
    assert [r["role"] for r in site["Configure"]["roles"]] == ["base", "fabric", "storage-client"]
    assert site["Configure"]["become"] is False
    # The gate play comes first and, run by hand, matches no host; it never connects (an action plugin).
    assert next(iter(site)) == "Wait" and site["Wait"]["hosts"] == "{{ grid_gated | default('!all') }}"
    assert "grid_node_ready" in site["Wait"]["tasks"][0]
    assert "_requires_connection = False" in files["action_plugins/grid_node_ready.py"]


def test_python_on_the_nodes_can_be_discovered_or_named(lab: Cluster) -> None:
    def python_of(value: str) -> Any:
        defaults = lab.spec.defaults.model_copy(update={"python": value})
        cluster = lab.model_copy(update={"spec": lab.spec.model_copy(update={"defaults": defaults})})
        files = render_ansible(cluster, expand(cluster), admin_public_key=KEY)
        return yaml.safe_load(files["inventory/group_vars/all.yml"])["ansible_python_interpreter"]

    assert python_of("auto") == "auto_silent"
    assert python_of("/opt/python/bin/python3.12") == "/opt/python/bin/python3.12"
    text = (Path(__file__).parents[2] / "examples/local-lab/cluster.yaml").read_text()
    bad = text.replace("    ssh: {user: root}\n", "    ssh: {user: root}\n    python: python3\n", 1)
    loaded = load_spec_text(bad, "cluster.yaml")
    assert not loaded.ok
    found = [(d.source.line if d.source else 0, d.path) for d in loaded.diagnostics]
    assert found == [(12, ("spec", "defaults", "python"))], list(loaded.diagnostics)


def test_connect_fabric_choice(lab: Cluster) -> None:
    def hosts(**kwargs: Any) -> dict[str, str]:
        text = render_ansible(lab, expand(lab), admin_public_key=KEY, **kwargs)["inventory/hosts.yml"]
        groups = yaml.safe_load(text)["all"]["children"]
        return {name: h["ansible_host"] for region in ("region_east", "region_west")
                for pool in groups[region]["children"].values() for name, h in pool["hosts"].items()}

    assert hosts()["east-train-0000"] == "198.18.1.2"  # mgmt by default
    assert hosts(connect_fabric={"east": "compute"})["east-train-0000"] == "198.18.0.2"
    with pytest.raises(ValueError, match="not on connect fabric"):
        render_ansible(lab, expand(lab), admin_public_key=KEY, connect_fabric={"west": "compute"})
    no_mgmt = cluster_of(LAB.replace("name: mgmt, kind: ethernet, speed_gbps: 25, cidr: 198.18.1.0/24",
                                     "name: data, kind: ethernet, speed_gbps: 25, cidr: 198.18.1.0/24")
                         .replace("fabrics: [compute, mgmt]", "fabrics: [compute, data]"))
    text = render_ansible(no_mgmt, expand(no_mgmt), admin_public_key=KEY)["inventory/hosts.yml"]
    assert "ansible_host: 198.18.0.2" in text  # the pool's first fabric


def test_rejects_private_keys_and_unknown_roles(lab: Cluster) -> None:
    with pytest.raises(ValueError, match="private key"):
        render_ansible(lab, expand(lab), admin_public_key="-----BEGIN OPENSSH PRIVATE KEY-----")
    slurm = with_configuration(lab, roles=["base", "slurm"])
    with pytest.raises(ValueError, match="unknown configuration role"):
        render_ansible(slurm, expand(slurm), admin_public_key=KEY)


def test_digests_split_node_cluster_and_hosts_table_inputs(lab: Cluster) -> None:
    # About /etc/hosts: asked for (the lab's default, dns, splits them per server: tests/render/test_names.py).
    lab = with_configuration(lab, names="hosts_file")
    base = host_input_digests(lab, expand(lab), KEY)
    assert base == host_input_digests(lab, expand(lab), KEY)
    assert len({d.node for d in base.values()}) == 4
    assert len({d.cluster for d in base.values()}) == len({d.hosts for d in base.values()}) == 1

    users = with_configuration(lab, users=[User(name="alice", sudo=True)])
    changed = host_input_digests(users, expand(users), KEY)
    assert all(changed[a].node == base[a].node and changed[a].cluster != base[a].cluster
               and changed[a].hosts == base[a].hosts for a in base)

    grown = with_pool_count(lab, 3)  # a new node: the others only see a longer hosts table
    after = host_input_digests(grown, expand(grown), KEY)
    assert set(after) - set(base) == {"east/train/node-0002"}
    assert all(after[a].node == base[a].node and after[a].cluster == base[a].cluster
               and after[a].hosts != base[a].hosts for a in base)

    jumbo = LAB.replace("mtu: 1500, cidr: 198.18.2.0/24", "mtu: 9000, cidr: 198.18.2.0/24")
    mtu = with_configuration(cluster_of(jumbo), names="hosts_file")
    moved = host_input_digests(mtu, expand(mtu), KEY)
    assert {a for a in base if moved[a].node != base[a].node} == {"west/infer/node-0000", "west/infer/node-0001"}
    assert all(moved[a][1:] == base[a][1:] for a in base)


def test_cluster_digest_changes_with_every_account_and_key(lab: Cluster) -> None:
    """Keys and accounts are revoked by the cluster-wide run: a change to any of them must reach every host."""
    alice_a = with_configuration(lab, users=[User(name="alice", authorized_keys=["ssh-ed25519 AAAA alice-a"])])
    base = host_input_digests(alice_a, expand(alice_a), KEY)
    variants = {
        "key replaced": with_configuration(lab, users=[User(name="alice", authorized_keys=["ssh-ed25519 BBBB b"])]),
        "key added": with_configuration(lab, users=[User(name="alice", authorized_keys=[
            "ssh-ed25519 AAAA alice-a", "ssh-ed25519 BBBB b"])]),
        "user removed": with_configuration(lab, users=[]),
        "admin renamed": with_configuration(alice_a, admin_user="ops"),
    }
    for case, variant in variants.items():
        after = host_input_digests(variant, expand(variant), KEY)
        assert all(after[a].cluster != base[a].cluster and after[a].node == base[a].node for a in base), case
    rotated = host_input_digests(alice_a, expand(alice_a), KEY.replace("AAAAC3", "AAAAC4"))
    assert all(rotated[a].cluster != base[a].cluster for a in base), "admin key rotated"


def test_the_accounts_action_ships_and_runs_before_accounts_are_made(lab: Cluster) -> None:
    files = render_ansible(lab, expand(lab), admin_public_key=KEY)
    assert "action_plugins/grid_accounts.py" in files
    site = yaml.safe_load(files["roles/base/tasks/users.yml"])
    assert site[0]["grid_accounts"]["path"] == "{{ base_managed_users_file }}"


def test_renders_100_nodes_quickly(lab: Cluster) -> None:
    big = with_pool_count(lab, 100)
    graph = expand(big)
    started = time.perf_counter()
    files = render_ansible(big, graph, admin_public_key=KEY)
    host_input_digests(big, graph, KEY)
    assert time.perf_counter() - started < 2.0
    assert files["inventory/hosts.yml"].count("grid_address:") == 102


def test_inventory_parses_with_every_node(lab: Cluster, rendered: Path) -> None:
    inventory = str(rendered / "inventory/hosts.yml")
    listed = subprocess.run([tool("ansible-inventory"), "-i", inventory, "--list"],
                            capture_output=True, text=True, check=True, cwd=rendered)
    data = json.loads(listed.stdout)
    nodes = {r.attrs["hostname"]: r for r in expand(lab).of_kind(Kind.NODE)}
    assert set(data["_meta"]["hostvars"]) == set(nodes)
    for name, node in nodes.items():
        assert data["_meta"]["hostvars"][name]["grid_address"] == node.address
        assert data["_meta"]["hostvars"][name]["grid_cluster"] == "lab"  # group_vars/all.yml applies
    assert data["all"]["children"] == [
        "ungrouped", "region_east", "region_west", "role_compute", "role_inference"]
    assert data["region_east"]["children"] == ["pool_east_train"]
    assert "WARNING" not in listed.stderr, listed.stderr


def test_playbook_syntax_check(rendered: Path) -> None:
    result = subprocess.run([tool("ansible-playbook"), "--syntax-check", "site.yml"],
                            capture_output=True, text=True, cwd=rendered, env=_ansible_env(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_static_inventory(rendered: Path) -> None:
    example = REPO / "inventories/example/hosts.yml"
    listed = subprocess.run([tool("ansible-inventory"), "-i", str(example), "--list"],
                            capture_output=True, text=True, check=True)
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]
    required = {"ansible_host", "grid_address", "grid_region", "grid_pool", "grid_index", "grid_accelerator",
                "grid_accelerators", "grid_fabrics", "grid_storage", "grid_roles", "grid_cluster",
                "grid_admin_user", "grid_admin_pubkey", "grid_sysctl", "grid_users", "grid_hosts"}
    assert hostvars and all(required <= set(v) for v in hostvars.values())
    for path in (REPO / "inventories/example/group_vars/all").glob("*.yml"):
        role = path.stem.replace("_", "-")
        role_defaults = REPO / f"templates/ansible/roles/{role}/defaults/main.yml"
        if role_defaults.is_file():
            defaults = yaml.safe_load(role_defaults.read_text())
            assert yaml.safe_load(path.read_text()) == defaults, f"{path} drifted from {role}'s defaults"
    result = subprocess.run([tool("ansible-playbook"), "--syntax-check", "-i", str(example), "site.yml"],
                            capture_output=True, text=True, cwd=rendered, env=_ansible_env(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def rendered_slurm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Slurm example rendered: the slurm role, its play and its vars."""
    slurm = cluster_of((REPO / "examples" / "slurm" / "cluster.yaml").read_text())
    out = tmp_path_factory.mktemp("ansible-slurm")
    for rel, text in render_ansible(slurm, expand(slurm), admin_public_key=KEY).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    return out


@pytest.mark.parametrize("tree", ["rendered", "rendered_slurm"])
def test_rendered_dir_lints_clean(tree: str, request: pytest.FixtureRequest) -> None:
    rendered: Path = request.getfixturevalue(tree)
    lint = Path(sys.executable).parent / "ansible-lint"
    found = str(lint) if lint.is_file() else shutil.which("ansible-lint")
    if found is None:
        pytest.skip("ansible-lint is not installed (pip install ansible-lint, in the dev extra)")
    result = subprocess.run([found, "--offline", "--nocolor"], capture_output=True, text=True, cwd=rendered,
                            env=_ansible_env(rendered), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "production" in result.stderr + result.stdout


def _ansible_env(rendered: Path) -> dict[str, str]:
    import os

    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "ANSIBLE_CONFIG": str(rendered / "ansible.cfg")}
