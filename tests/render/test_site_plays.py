"""site.yml lists only what has work: no firewall without a network policy, own-config only for the hosts of
pools with limits, roles or scripts, removals only when the spec last applied left something to remove. Every
task listed costs each host a turn on the controller, skipped or not: the bench lab's full play stays small."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.plan.digests import host_input_digests
from grid.render.ansible import render_ansible
from grid.render.leftovers import EVERY_LEFTOVER, NO_LEFTOVERS, Leftovers, leftovers_of
from grid.render.own import OwnFiles
from grid.resources import expand
from grid.spec.model import Cluster
from grid.state.model import HostRecord, State
from support.paths import LOCAL_LAB
from support.specs import cluster_from

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"
OWN = OwnFiles(roles={"tuning": (("tasks/main.yml", "---\n- name: Tuned\n  ansible.builtin.debug:\n"
                                                    "    msg: tuned\n"),)})
MAX_FULL_PLAY_TASKS = 21
"""Tasks per host of the bench lab's full play (bench/bringup.py: no policy, no own configuration)."""


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install ansible-core)")
    return found


def _policy(data: dict[str, Any]) -> None:
    data["spec"]["access"] = {"admin_cidrs": ["203.0.113.0/24"]}
    data["spec"]["regions"][0]["fabrics"][0]["ingress"] = [{"ports": [8080], "from": ["mgmt"]}]


def _hosts_file(data: dict[str, Any]) -> None:
    data["spec"]["configuration"]["names"] = "hosts_file"


def _west_tuned(data: dict[str, Any]) -> None:
    """West's pool plays the user's role; east's only changes a sysctl (nothing for own-config to do)."""
    data["spec"]["configuration"]["roles_path"] = "roles"
    data["spec"]["regions"][0]["pools"][0]["configuration"] = {"sysctl": {"vm.swappiness": 10}}
    data["spec"]["regions"][1]["pools"][0]["configuration"] = {"roles": ["tuning"]}


def _site(cluster: Cluster, leftovers: Leftovers = NO_LEFTOVERS, own: OwnFiles = OWN) -> dict[str, Any]:
    files = render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=own, leftovers=leftovers)
    return {play["name"].split(" ")[0]: play for play in yaml.safe_load(files["site.yml"])}


def _imported(play: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, tasks file) of each task importing or including a role's tasks."""
    found = [t.get("ansible.builtin.import_role") or t["ansible.builtin.include_role"] for t in play.get("tasks", [])]
    return [(role["name"], role.get("tasks_from", "main")) for role in found]


def _write(files: dict[str, str], out: Path) -> Path:
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    return out


def test_without_policy_or_own_configuration_only_grids_roles_are_played() -> None:
    site = _site(cluster_from(LOCAL_LAB))
    assert list(site) == ["Wait", "Configure", "Cluster-wide", "Hosts"]
    assert [r["role"] for r in site["Configure"]["roles"]] == ["base", "fabric", "storage-client"]
    # the name service: dns is the lab's default (grid.render.names)
    assert _imported(site["Configure"]) == [("base", "names")] and "pre_tasks" not in site["Configure"]
    assert _imported(site["Cluster-wide"]) == [("base", "cluster_wide"), ("base", "names")]
    # a node that came or went: each region's server only (its records), the others skip it in one turn
    assert _imported(site["Hosts"]) == [("base", "names_server")]
    assert site["Hosts"]["tasks"][0]["when"] == "inventory_hostname == grid_name_servers[grid_region].hostname"
    hosts_file = _site(cluster_from(LOCAL_LAB, _hosts_file))
    assert "tasks" not in hosts_file["Configure"] and "pre_tasks" not in hosts_file["Configure"]
    assert _imported(hosts_file["Cluster-wide"]) == [("base", "cluster_wide")]
    assert _imported(hosts_file["Hosts"]) == [("base", "hosts_table")]


def test_a_spec_naming_firewall_changes_nothing() -> None:
    named = cluster_from(LOCAL_LAB, lambda d: d["spec"]["configuration"].update(
        roles=["base", "firewall", "fabric", "storage-client"]))
    assert _site(named) == _site(cluster_from(LOCAL_LAB))


def test_a_policy_plays_the_firewall_and_its_removal_only_when_one_was_applied() -> None:
    site = _site(cluster_from(LOCAL_LAB, _policy))
    assert [r["role"] for r in site["Configure"]["roles"]][-1] == "firewall"
    assert _imported(site["Configure"]) == [("base", "names")]
    assert _imported(site["Cluster-wide"]) == [("base", "cluster_wide"), ("base", "names"), ("firewall", "main")]
    assert _site(cluster_from(LOCAL_LAB, _policy), EVERY_LEFTOVER)["Cluster-wide"] == site["Cluster-wide"]
    dropped = _site(cluster_from(LOCAL_LAB), Leftovers(network_policy=True))
    assert [r["role"] for r in dropped["Configure"]["roles"]] == ["base", "fabric", "storage-client"]
    assert _imported(dropped["Configure"]) == [("base", "names"), ("firewall", "remove")]
    assert _imported(dropped["Cluster-wide"]) == [("base", "cluster_wide"), ("base", "names"), ("firewall", "remove")]


def test_own_configuration_plays_only_on_pools_that_have_some(tmp_path: Path) -> None:
    cluster = cluster_from(LOCAL_LAB, _west_tuned)
    files = render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=OWN)
    site = {play["name"].split(" ")[0]: play for play in yaml.safe_load(files["site.yml"])}
    assert list(site) == ["Wait", "Configure", "Own", "Cluster-wide", "Hosts"]
    assert site["Own"]["hosts"] == "{{ grid_full | default('all') }},&grid_own_config"
    assert [r["role"] for r in site["Own"]["roles"]] == ["own-config"]
    inventory = yaml.safe_load(files["inventory/hosts.yml"])["all"]["children"]
    assert inventory["grid_own_config"] == {"children": {"pool_west_infer": None}}
    out = _write(files, tmp_path)
    # Ansible resolves the play's hosts as meant: the full scope's hosts that are in the group, no others.
    for full, expected in (("all", {"west-infer-0000", "west-infer-0001"}),
                           ("east-train-0000,west-infer-0001", {"west-infer-0001"}), ("!all", set())):
        listed = subprocess.run([tool("ansible-playbook"), "--list-hosts", "site.yml", "-e", f"grid_full={full}"],
                                cwd=out, capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        block = listed.stdout.split("play #3", 1)[1].split("play #4", 1)[0]
        assert {w for w in block.split() if w.startswith(("east-", "west-"))} == expected, block


def test_directories_are_made_only_where_a_pool_has_some() -> None:
    scratch = cluster_from(LOCAL_LAB, lambda d: d["spec"]["regions"][0]["storage"].append(
        {"name": "scratch", "kind": "local-scratch", "mounts": [{"path": "/mnt/localssd", "mode": "1777"}]}) or
        d["spec"]["regions"][0]["pools"][0]["storage"].append("scratch"))
    site = _site(scratch)
    assert [(t["ansible.builtin.import_role"]["name"], t["ansible.builtin.import_role"]["tasks_from"])
            for t in site["Configure"]["pre_tasks"]] == [("storage-client", "directories")]
    files = render_ansible(scratch, expand(scratch), admin_public_key=KEY)
    hosts = yaml.safe_load(files["inventory/hosts.yml"])["all"]["children"]
    assert "grid_directories" in hosts["region_east"]["children"]["pool_east_train"]["hosts"]["east-train-0000"]


def test_limits_are_removed_only_after_a_spec_that_had_them_and_where_a_pool_has_none() -> None:
    assert _imported(_site(cluster_from(LOCAL_LAB))["Configure"]) == [("base", "names")]
    site = _site(cluster_from(LOCAL_LAB), Leftovers(limits=True))
    assert _imported(site["Configure"]) == [("base", "names"), ("own-config", "remove_limits")]
    everywhere = cluster_from(LOCAL_LAB, lambda d: d["spec"]["configuration"].update(limits={"memlock": "unlimited"}))
    assert _imported(_site(everywhere, Leftovers(limits=True))["Configure"]) == [("base", "names")]


def test_every_variant_passes_syntax_check(tmp_path: Path) -> None:
    def both(data: dict[str, Any]) -> None:
        _policy(data)
        _west_tuned(data)
        data["spec"]["regions"][1]["pools"][0]["configuration"]["scripts"] = [{"run": "hello.sh"}]

    own = OwnFiles(roles=OWN.roles, scripts={"hello.sh": "#!/bin/sh\necho hi\n"})
    cases = {"policy-own": (cluster_from(LOCAL_LAB, both), NO_LEFTOVERS),
             "removals": (cluster_from(LOCAL_LAB, _west_tuned), EVERY_LEFTOVER)}
    for name, (cluster, leftovers) in cases.items():
        out = _write(render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=own, leftovers=leftovers),
                     tmp_path / name)
        checked = subprocess.run([tool("ansible-playbook"), "--syntax-check", "site.yml"], cwd=out,
                                 capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_bench_labs_full_play_has_at_most_21_tasks_per_host(tmp_path: Path) -> None:
    cluster = cluster_from(LOCAL_LAB)
    out = _write(render_ansible(cluster, expand(cluster), admin_public_key=KEY), tmp_path)
    listed = subprocess.run([tool("ansible-playbook"), "--list-tasks", "site.yml", "-e", "grid_full=all"], cwd=out,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    full = listed.stdout.split("play #2", 1)[1].split("play #3", 1)[0]
    tasks = [line for line in full.splitlines()[2:] if "TAGS:" in line]
    assert len(tasks) <= MAX_FULL_PLAY_TASKS, "\n".join(tasks)


def test_a_policy_reaches_the_cluster_digest_only_and_own_configuration_its_pools() -> None:
    plain, policed = cluster_from(LOCAL_LAB), cluster_from(LOCAL_LAB, _policy)
    before = host_input_digests(plain, expand(plain), KEY)
    after = host_input_digests(policed, expand(policed), KEY)
    assert all(after[a].node == before[a].node and after[a].cluster != before[a].cluster for a in before)
    # West's own configuration adds a play to site.yml; east's hosts, which it does not reach, keep their digests.
    west = cluster_from(LOCAL_LAB, lambda d: d["spec"]["regions"][1]["pools"][0].update(
        configuration={"roles": ["tuning"]}))
    own = host_input_digests(west, expand(west), KEY, own=OWN)
    assert {a for a in before if own[a] != before[a]} == {a for a in before if a.startswith("west/")}


def _state(applied: dict[str, Any] | None, status: str = "configured") -> State:
    host = HostRecord(address="east/train/node-0000", status=status)  # type: ignore[arg-type]
    return State(cluster="lab", hosts={host.address: host}, applied_spec=applied)


def test_leftovers_of_the_state() -> None:
    plain = json.loads(cluster_from(LOCAL_LAB).model_dump_json())
    policed = json.loads(cluster_from(LOCAL_LAB, _policy).model_dump_json())
    limited = json.loads(cluster_from(LOCAL_LAB, lambda d: d["spec"]["regions"][1]["pools"][0].update(
        configuration={"limits": {"memlock": "unlimited"}})).model_dump_json())
    assert leftovers_of(State(cluster="lab")) == NO_LEFTOVERS  # nothing made yet
    assert leftovers_of(_state(plain)) == Leftovers(names=True)  # dns, the lab's default
    assert leftovers_of(_state(policed)) == Leftovers(network_policy=True, names=True)
    assert leftovers_of(_state(limited)) == Leftovers(limits=True, names=True)
    hosts_file = json.loads(cluster_from(LOCAL_LAB, _hosts_file).model_dump_json())
    assert leftovers_of(_state(hosts_file)) == NO_LEFTOVERS
    assert leftovers_of(_state(None)) == EVERY_LEFTOVER  # hosts, but no run recorded as applied
    assert leftovers_of(_state(plain, "failed")) == EVERY_LEFTOVER  # a run that did not finish


def _modules(tasks_file: Path) -> set[str]:
    """The action of every task of a role's tasks file (the key that is not a task keyword)."""
    keywords = {"name", "tags", "when", "register", "changed_when", "failed_when", "check_mode", "loop",
                "loop_control", "notify", "no_log", "become", "vars", "args"}
    return {key for task in yaml.safe_load(tasks_file.read_text()) or [] for key in task if key not in keywords}


def test_a_site_of_grids_shell_actions_only_says_so_and_any_other_does_not(tmp_path: Path) -> None:
    """grid's driver runs a site.yml marked `# grid-strategy: linear` without mitogen (grid.drivers.ansible.
    shell_only): the mark must be true of every task the lab plays, and absent where a role runs Python modules."""
    from grid.drivers.ansible import SHELL_ONLY_MARK, shell_only

    def marked(cluster: Cluster, leftovers: Leftovers = NO_LEFTOVERS) -> bool:
        files = render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=OWN, leftovers=leftovers)
        out = _write(files, tmp_path / str(len(list(tmp_path.iterdir()))))
        assert shell_only(out) == (SHELL_ONLY_MARK in files["site.yml"].splitlines())
        return shell_only(out)

    assert marked(cluster_from(LOCAL_LAB)) and marked(cluster_from(LOCAL_LAB, _hosts_file))
    assert not marked(cluster_from(LOCAL_LAB, _policy))  # the firewall's nft commands and checks
    assert not marked(cluster_from(LOCAL_LAB, _west_tuned))  # the user's role
    assert not marked(cluster_from(LOCAL_LAB, _hosts_file), Leftovers(names=True))  # the name service's removal
    roles = Path(__file__).resolve().parents[2] / "templates" / "ansible" / "roles"
    played = [roles / "base/tasks" / f for f in ("main.yml", "cluster_wide.yml", "hosts_table.yml", "users.yml",
                                                  "names.yml", "names_server.yml")]
    played += [roles / "fabric/tasks/main.yml", roles / "storage-client/tasks/main.yml"]
    actions = set().union(*(_modules(path) for path in played))
    imports = {"ansible.builtin.import_tasks", "ansible.builtin.include_tasks"}
    assert {a for a in actions - imports if not a.startswith("grid_")} == set()  # no Python module on the host
