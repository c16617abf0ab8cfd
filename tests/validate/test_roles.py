"""validate/roles.py and pool_config.py: the user's roles, scripts and pool configuration, found at file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.diagnostics import Diagnostic
from grid.render.own import NO_OWN_FILES
from grid.spec import load_spec
from grid.spec.model import Configuration
from grid.spec.own import merged
from grid.validate import validate
from grid.validate.roles import own_files
from support.specs import where

SPEC = """\
apiVersion: grid/v1
kind: Cluster
metadata: {name: t}
spec:
  target: local
  regions:
    - name: east
      site: {power_mw: 1}
      fabrics:
        - {name: mgmt, cidr: 198.18.0.0/24}
      pools:
        - name: train
          count: 2
          fabrics: [mgmt]
          configuration:
            roles: [POOL_ROLE]
            scripts: [{run: scripts/pool.sh}]
  configuration:
    roles: [base, CLUSTER_ROLE]
ROLES_PATH    scripts: [{run: setup.sh, when: every-apply}]
"""


def write(tmp_path: Path, *, cluster_role: str = "tuning", pool_role: str = "tuning",
          roles_path: str | None = "roles") -> Path:
    text = (SPEC.replace("CLUSTER_ROLE", cluster_role).replace("POOL_ROLE", pool_role)
            .replace("ROLES_PATH", f"    roles_path: {roles_path}\n" if roles_path else ""))
    (tmp_path / "cluster.yaml").write_text(text)
    return tmp_path / "cluster.yaml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "roles/tuning/tasks").mkdir(parents=True)
    (tmp_path / "roles/tuning/tasks/main.yml").write_text("---\n- name: t\n  ansible.builtin.debug:\n")
    (tmp_path / "roles/tuning/files").mkdir()
    (tmp_path / "roles/tuning/files/a.conf").write_text("x = 1\n")
    (tmp_path / "roles/empty").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts/pool.sh").write_text("#!/bin/sh\ntrue\n")
    (tmp_path / "setup.sh").write_text("#!/bin/sh\ntrue\n")
    return tmp_path


def errors(spec: Path) -> list[Diagnostic]:
    loaded = load_spec(str(spec))
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return [d for d in validate(loaded).errors if d.code.startswith(("roles.", "safety.", "references."))]


def test_roles_and_scripts_are_read_once_and_sorted(tree: Path) -> None:
    loaded = load_spec(str(write(tree)))
    own, found = own_files(loaded)
    assert not found.has_errors, [d.summary for d in found]
    assert own.roles == {"tuning": (("files/a.conf", "x = 1\n"),
                                    ("tasks/main.yml", "---\n- name: t\n  ansible.builtin.debug:\n"))}
    assert set(own.scripts) == {"setup.sh", "scripts/pool.sh"}
    assert own.role_digests["tuning"].startswith("sha256:")


def test_unknown_role_without_roles_path_is_found_first(tree: Path) -> None:
    """The issue's `roles: [slurm]`: once an internal error in plan, now a finding at its line."""
    (found,) = errors(write(tree, cluster_role="slurm", pool_role="tuning", roles_path=None))[:1]
    assert found.code == "roles.unknown" and "unknown role 'slurm'" in found.summary
    assert where(found) == (19, 19)
    assert "base, fabric" in found.detail and "roles_path" in found.hint


def test_unknown_role_in_a_pool_names_the_roles_there(tree: Path) -> None:
    (found,) = errors(write(tree, pool_role="slurm"))
    assert found.code == "roles.unknown" and where(found) == (16, 21)
    assert "in roles: empty, tuning" in found.detail


def test_missing_folder_layout_and_binary_files(tree: Path) -> None:
    first = errors(write(tree, roles_path="nothere"))[0]
    assert (first.code, where(first)) == ("roles.path", (20, 17))
    (layout,) = errors(write(tree, pool_role="empty"))
    assert layout.code == "roles.layout" and "tasks/main.yml" in layout.summary
    (tree / "roles/tuning/files/blob.bin").write_bytes(b"\x89PNG\x00\xff")
    binary = [d for d in errors(write(tree)) if d.code == "roles.binary-file"]
    assert binary and "files/blob.bin" in binary[0].summary and where(binary[0]) == (19, 19)


def test_missing_script(tree: Path) -> None:
    (tree / "scripts/pool.sh").unlink()
    (found,) = errors(write(tree))
    assert found.code == "roles.missing-file" and "scripts/pool.sh" in found.summary
    assert where(found) == (17, 29)


def test_pool_users_and_sysctls_follow_the_cluster_rules(tree: Path) -> None:
    spec = write(tree)
    text = spec.read_text().replace(
        "            scripts: [{run: scripts/pool.sh}]\n",
        "            scripts: [{run: scripts/pool.sh}]\n            users: [{name: nobody}]\n"
        "            sysctl: {kernel.modprobe: /x}\n")
    spec.write_text(text)
    found = {(d.code, where(d)) for d in errors(spec)}
    assert found == {("safety.system-account", (18, 28)), ("safety.program-sysctl", (19, 39))}


def test_role_vars_are_plain_values_and_never_clash(tree: Path) -> None:
    spec = write(tree)
    spec.write_text(spec.read_text() + "    role_vars: {tuning: {motd: '{{ lookup(\"pipe\", \"id\") }}'}}\n")
    loaded = load_spec(str(spec))
    assert loaded.cluster is None and any("Jinja" in d.summary for d in loaded.diagnostics)
    (tree / "roles/other/tasks").mkdir(parents=True)
    (tree / "roles/other/tasks/main.yml").write_text("---\n")
    spec.write_text(write(tree, pool_role="other").read_text()
                    + "    role_vars: {tuning: {motd: a}, other: {motd: b}}\n")
    (clash,) = [d for d in validate(load_spec(str(spec))).errors]
    assert clash.code == "roles.vars-clash"


def test_merge_rules() -> None:
    cluster = Configuration.model_validate({
        "roles": ["base", "a"], "sysctl": {"x.y": 1, "x.z": 2}, "limits": {"nofile": 10, "memlock": 5},
        "users": [{"name": "al"}, {"name": "bo"}], "scripts": [{"run": "s.sh"}],
        "role_vars": {"a": {"v": 1, "w": 2}}})
    from grid.spec.model import PoolConfiguration
    pool = PoolConfiguration.model_validate({
        "roles": ["b", "a"], "sysctl": {"x.z": 3}, "limits": {"memlock": "unlimited"},
        "users": [{"name": "al", "sudo": True}, {"name": "cy"}], "scripts": [{"run": "s.sh", "when": "every-apply"},
                                                                          {"run": "t.sh"}],
        "role_vars": {"a": {"w": 9}}})
    got = merged(cluster, pool)
    assert got["roles"] == ["base", "a", "b"]
    assert got["sysctl"] == {"x.y": 1, "x.z": 3} and got["limits"] == {"nofile": 10, "memlock": "unlimited"}
    assert [(u.name, u.sudo) for u in got["users"]] == [("al", True), ("bo", False), ("cy", False)]
    assert [(s.run, s.when) for s in got["scripts"]] == [("s.sh", "every-apply"), ("t.sh", "once")]
    assert got["role_vars"] == {"a": {"v": 1, "w": 9}}
    assert merged(cluster, None)["roles"] == ["base", "a"]
    assert NO_OWN_FILES.roles == {}
