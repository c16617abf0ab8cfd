"""Rendering the user's roles, scripts, limits and pool configuration: deterministic, only where used, and a
playbook real Ansible syntax-checks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.render import render_cluster
from grid.render.ansible import render_ansible
from grid.render.own import OwnFiles
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.model import Cluster

REPO = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install ansible-core)")
    return found

OWN = OwnFiles(
    roles={"tuning": (("tasks/main.yml", "---\n- name: Marker\n  ansible.builtin.copy:\n"
                                         "    content: \"{{ tuning_text }}\"\n"
                                         "    dest: /etc/tuning\n    mode: \"0644\"\n"),
                      ("templates/t.j2", "{{ tuning_text }}\n"))},
    scripts={"scripts/hello.sh": "#!/bin/sh\necho hi\n"})


def spec(**edits: Any) -> Cluster:
    data: dict[str, Any] = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    data["spec"]["configuration"].update(roles_path="roles", limits={"nofile": {"soft": 65536, "hard": 1048576}})
    data["spec"]["regions"][1]["pools"][0]["configuration"] = {
        "roles": ["tuning"], "sysctl": {"vm.swappiness": 10}, "limits": {"memlock": "unlimited"},
        "scripts": [{"run": "scripts/hello.sh"}], "role_vars": {"tuning": {"tuning_text": "west"}}, **edits}
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return loaded.cluster


def test_own_files_render_deterministically_where_used() -> None:
    cluster = spec()
    files = render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=OWN)
    assert files == render_ansible(spec(), expand(spec()), admin_public_key=KEY, own=OWN)
    assert files["roles/tuning/tasks/main.yml"] == OWN.roles["tuning"][0][1]
    assert files["scripts/scripts/hello.sh"] == OWN.scripts["scripts/hello.sh"]
    east = yaml.safe_load(files["inventory/group_vars/pool_east_train.yml"])
    west = yaml.safe_load(files["inventory/group_vars/pool_west_infer.yml"])
    assert east == {"grid_own_roles": [], "grid_scripts": [], "grid_limits": [
        {"item": "nofile", "type": "soft", "value": 65536}, {"item": "nofile", "type": "hard", "value": 1048576}]}
    assert west["grid_own_roles"] == [{"name": "tuning", "digest": OWN.role_digests["tuning"]}]
    assert west["grid_scripts"] == [{"run": "scripts/hello.sh", "when": "once",
                                     "digest": OWN.script_digests["scripts/hello.sh"]}]
    assert {"item": "memlock", "type": "hard", "value": "unlimited"} in west["grid_limits"]
    assert west["grid_sysctl"] == {"net.core.rmem_max": 67108864, "net.core.wmem_max": 67108864,
                                   "vm.swappiness": 10}
    assert west["tuning_text"] == "west" and "grid_sysctl" not in east


def test_a_role_no_pool_uses_is_not_rendered() -> None:
    cluster = spec(roles=[], scripts=[], role_vars={})
    files = render_cluster(cluster, expand(cluster), admin_public_key=KEY, own=OWN)
    assert not any(path.startswith(("ansible/roles/tuning/", "ansible/scripts/")) for path in files)


def test_without_the_files_render_refuses_rather_than_guess() -> None:
    cluster = spec()
    with pytest.raises(ValueError, match="tuning"):
        render_ansible(cluster, expand(cluster), admin_public_key=KEY)


def test_rendered_playbook_with_own_roles_passes_syntax_check(tmp_path: Path) -> None:
    cluster = spec()
    for rel, text in render_ansible(cluster, expand(cluster), admin_public_key=KEY, own=OWN).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = subprocess.run([tool("ansible-playbook"), "--syntax-check", "site.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run([tool("ansible-inventory"), "-i", "inventory/hosts.yml", "--host", "west-infer-0000"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert '"tuning_text": "west"' in listed.stdout and '"vm.swappiness": 10' in listed.stdout
