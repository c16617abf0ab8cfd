"""Revocation on a running local cluster: a grid-managed account has exactly the spec's keys, a key added by
hand is drift, and an account removed from the spec is removed from the nodes (with its keys and sudo) and
recorded in history. One lab (one node) for the whole story: each bring-up costs ~20 s."""

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

NODE = "east/train/node-0000"


def _one_node(data: dict[str, Any]) -> None:
    data["spec"]["regions"] = data["spec"]["regions"][:1]
    data["spec"]["regions"][0]["pools"][0]["count"] = 1
    data["spec"].pop("links", None)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two of alice's private keys, A and B."""
    directory = tmp_path_factory.mktemp("alice-keys")
    made: dict[str, Path] = {}
    for name in ("A", "B"):
        made[name] = directory / f"alice-{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"alice-{name}", "-f",
                        str(made[name])], check=True)
    return made


def _public(key: Path) -> str:
    return key.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Iterator[tuple[Path, str]]:
    def edit(data: dict[str, Any]) -> None:
        _one_node(data)
        data["spec"]["configuration"]["users"] = [
            {"name": "alice", "sudo": True, "authorized_keys": [_public(keys["A"])]}]

    spec, name = lab_spec(tmp_path_factory.mktemp("revocation"), edit=edit)
    with brought_up(spec, "--skip-check"):
        yield spec, name


def _set_users(spec: Path, users: list[dict[str, Any]]) -> None:
    data = yaml.safe_load(spec.read_text())
    data["spec"]["configuration"]["users"] = users
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


def _node_ip(spec: Path, name: str) -> str:
    state = json.loads((spec.parent / ".grid" / name / "state.json").read_text())["state"]
    return str(state["resources"][NODE]["attrs"]["fabrics"]["mgmt"])


def _container(name: str) -> str:
    return f"grid-{name}-" + NODE.replace("/node-", "-").replace("/", "-")


def _on_node(name: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", "exec", _container(name), "sh", "-c", command], capture_output=True,
                          text=True, check=False)


def _as_alice(spec: Path, name: str, key: Path, command: str) -> subprocess.CompletedProcess[str]:
    """`command` over SSH as alice with `key`, the node's host key pinned as grid pinned it."""
    known_hosts = spec.parent / ".grid" / name / "known_hosts"
    argv = ["ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20", f"alice@{_node_ip(spec, name)}", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _drift(spec: Path) -> tuple[int, dict[str, Any]]:
    run = grid("drift", str(spec), "--json", "--detailed-exitcode")
    assert run.code in (0, 2), run.output
    return run.code, json.loads(run.stdout)


def _drifted_tasks(report: dict[str, Any]) -> list[str]:
    return [task for item in report["items"] if item["address"] == NODE and item["kind"] == "configuration"
            for task in item["tasks"]]


def test_keys_and_accounts_are_revoked(cluster: tuple[Path, str], keys: dict[str, Path]) -> None:
    spec, name = cluster
    assert _as_alice(spec, name, keys["A"], "sudo -n id -u").stdout.strip() == "0"

    # Key A replaced by B in the spec: only B logs in.
    _set_users(spec, [{"name": "alice", "sudo": True, "authorized_keys": [_public(keys["B"])]}])
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    refused = _as_alice(spec, name, keys["A"], "true")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused
    assert _as_alice(spec, name, keys["B"], "sudo -n id -u").stdout.strip() == "0"
    code, report = _drift(spec)
    assert code == 0, report

    # A key added by hand to a managed account is drift, and `grid up` takes it away again.
    added = _on_node(name, f"echo '{_public(keys['A'])}' >> /home/alice/.ssh/authorized_keys")
    assert added.returncode == 0, added.stderr
    code, report = _drift(spec)
    assert code == 2 and "base : Authorized keys, exactly the spec's" in _drifted_tasks(report), report
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    assert _as_alice(spec, name, keys["A"], "true").returncode == 255

    # alice removed from the spec: a cluster-wide change; then she has no account, no key and no sudo.
    _set_users(spec, [])
    plan = json.loads(grid("plan", str(spec), "--json").stdout)
    assert {c["address"]: c["scope"] for c in plan["configuration"]} == {NODE: "cluster-wide"}, plan
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    gone = _as_alice(spec, name, keys["B"], "true")
    assert gone.returncode == 255 and "Permission denied" in gone.stderr, gone
    assert _on_node(name, "id alice").returncode != 0
    assert _on_node(name, "test -e /home/alice").returncode != 0
    assert "alice" not in _on_node(name, "cat /etc/sudoers.d/*").stdout
    history = grid("state", "history", str(spec))
    assert history.stdout.strip().splitlines()[-1].endswith("accounts removed: alice"), history.output
    code, report = _drift(spec)
    assert code == 0, report

    # An account grid still lists that the spec no longer has (a node that missed the removal) is drift.
    missed = _on_node(name, "useradd --create-home alice && echo alice >> /etc/grid/managed-users")
    assert missed.returncode == 0, missed.stderr
    code, report = _drift(spec)
    assert code == 2 and any(t.startswith("base : Accounts")
                             for t in _drifted_tasks(report)), report
    assert _on_node(name, "id alice").returncode == 0  # check mode removed nothing
    run = grid("up", str(spec), "--yes", "--skip-check")
    assert run.code == 0, run.output
    assert _on_node(name, "id alice").returncode != 0
    assert _on_node(name, "cat /etc/grid/managed-users").stdout.split() == ["gridadmin"]
