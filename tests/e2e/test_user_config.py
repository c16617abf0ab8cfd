"""The user's own configuration on a running lab: a role from roles_path, scripts (once, every-apply), per-pool
sysctl, limits and role variables, checked on the nodes; a change to the role re-configures exactly the hosts
of the pool that plays it. Two pools of one node each (one bring-up, ~30 s)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import brought_up, grid
from support.specs import lab_spec

pytestmark = pytest.mark.e2e

TRAIN, LOGIN = "east/train/node-0000", "east/login/node-0000"
ROLE = """\
---
- name: Marker of the pool
  ansible.builtin.copy:
    content: "{{ marker_text }} VERSION\\n"
    dest: /etc/grid-marker
    mode: "0644"
"""


def _two_pools(data: dict[str, Any]) -> None:
    region = data["spec"]["regions"][0]
    data["spec"]["regions"] = [region]
    data["spec"]["links"] = []
    train = region["pools"][0]
    train.update(count=1, storage=[], resources={"cpus": 0.25, "memory_gb": 0.25})
    region["pools"] = [train, {"name": "login", "count": 1, "fabrics": ["mgmt"], "roles": ["login"],
                               "resources": {"cpus": 0.25, "memory_gb": 0.25}}]
    region["storage"] = []


def _configure(data: dict[str, Any]) -> None:
    config = data["spec"]["configuration"]
    config.update(roles_path="roles", limits={"nofile": {"soft": 4096, "hard": 8192}},
                  scripts=[{"run": "scripts/once.sh"}])
    train, login = data["spec"]["regions"][0]["pools"]
    train["configuration"] = {
        "roles": ["marker"], "sysctl": {"vm.swappiness": 10}, "limits": {"memlock": "unlimited"},
        "scripts": [{"run": "scripts/every.sh", "when": "every-apply"}],
        "role_vars": {"marker": {"marker_text": "train"}}}
    login["configuration"] = {"sysctl": {"vm.swappiness": 20}}


def _write_role(directory: Path, version: str) -> None:
    (directory / "roles/marker/tasks").mkdir(parents=True, exist_ok=True)
    (directory / "roles/marker/tasks/main.yml").write_text(ROLE.replace("VERSION", version))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    directory = tmp_path_factory.mktemp("user-config")
    _write_role(directory, "v1")
    (directory / "scripts").mkdir()
    (directory / "scripts/once.sh").write_text("#!/bin/sh\necho ran >> /var/tmp/once-runs\n")
    (directory / "scripts/every.sh").write_text("#!/bin/sh\necho ran >> /var/tmp/every-runs\n")
    spec, name = lab_spec(directory, shape=_two_pools, edit=_configure)
    with brought_up(spec, "--skip-check"):
        yield spec, name


def _on(name: str, address: str, command: str) -> str:
    container = f"grid-{name}-" + address.replace("/node-", "-").replace("/", "-")
    done = subprocess.run(["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          check=False, timeout=60)
    return done.stdout


def test_own_configuration_on_the_nodes_and_a_role_change_reaches_only_its_pool(
        cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    assert _on(name, TRAIN, "cat /etc/grid-marker") == "train v1\n"
    assert _on(name, LOGIN, "cat /etc/grid-marker 2>&1 || echo none").strip().endswith("none")

    train_limits = _on(name, TRAIN, "cat /etc/security/limits.d/90-grid.conf")
    login_limits = _on(name, LOGIN, "cat /etc/security/limits.d/90-grid.conf")
    assert "*    hard memlock unlimited" in train_limits and "root hard memlock unlimited" in train_limits
    assert "memlock" not in login_limits and "root soft nofile 4096" in login_limits
    # Only the file: lab nodes' sshd runs without PAM (images/node/sshd_config), so pam_limits reads it on
    # real machines' logins, not on the lab's.

    assert "vm.swappiness = 10" in _on(name, TRAIN, "cat /etc/sysctl.d/90-grid.conf")
    assert "vm.swappiness = 20" in _on(name, LOGIN, "cat /etc/sysctl.d/90-grid.conf")
    for address in (TRAIN, LOGIN):
        assert _on(name, address, "cat /var/tmp/once-runs") == "ran\n"
    assert _on(name, TRAIN, "cat /var/tmp/every-runs") == "ran\n"
    assert _on(name, LOGIN, "cat /var/tmp/every-runs 2>/dev/null") == ""

    _write_role(spec.parent, "v2")
    plan = grid("plan", str(spec), "--json")
    assert plan.code == 0, plan.output
    configured = {c["address"]: (c["scope"], c["reason"]) for c in json.loads(plan.stdout)["configuration"]}
    assert configured == {TRAIN: ("full", "role marker changed")}, configured
    text = grid("plan", str(spec))
    assert "role marker changed: 1 host(s)" in text.stdout, text.output
    up = grid("up", str(spec), "--yes", "--skip-check")
    assert up.code == 0, up.output
    assert _on(name, TRAIN, "cat /etc/grid-marker") == "train v2\n"
    assert _on(name, TRAIN, "cat /var/tmp/once-runs") == "ran\n"  # once: its content did not change
    assert _on(name, TRAIN, "cat /var/tmp/every-runs") == "ran\nran\n"
    assert _on(name, LOGIN, "cat /var/tmp/once-runs") == "ran\n"
    again = json.loads(grid("plan", str(spec), "--json").stdout)
    assert again["configuration"] == [], again["configuration"]
    drift = grid("drift", str(spec), "--json", "--detailed-exitcode")
    assert drift.code == 0, drift.output  # scripts and the user's role are no drift in check mode


def test_limits_dropped_from_the_spec_leave_the_nodes(cluster: tuple[Path, str]) -> None:
    # The spec as last applied had limits: this run (and only such a run) removes grid's limits.d file.
    spec, name = cluster
    data = yaml.safe_load(spec.read_text())
    data["spec"]["configuration"].pop("limits")
    data["spec"]["regions"][0]["pools"][0]["configuration"].pop("limits")
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    up = grid("up", str(spec), "--yes", "--skip-check")
    assert up.code == 0, up.output
    for address in (TRAIN, LOGIN):
        assert _on(name, address, "ls /etc/security/limits.d/90-grid.conf 2>&1").strip().endswith(
            "No such file or directory"), address
    site = (spec.parent / ".grid" / name / "rendered" / "ansible" / "site.yml").read_text()
    assert "remove_limits" in site  # rendered for the run that needed it ...
    again = grid("plan", str(spec), "--json")
    assert json.loads(again.stdout)["configuration"] == [], again.output  # ... and no host left to configure
