"""Drift on a running local cluster: each tampering is seen by `grid drift` with the right address and
cause, repaired by `grid up`, after which `grid drift` is clean. Growing a pool touches only what it must."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from support.cli import brought_up, grid
from support.specs import lab_spec

pytestmark = pytest.mark.e2e


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    spec, name = lab_spec(tmp_path_factory.mktemp("drift"))
    with brought_up(spec, "--skip-check"):
        yield spec, name


def drift(spec: Path) -> tuple[int, dict]:
    run = grid("drift", str(spec), "--json", "--detailed-exitcode")
    assert run.code in (0, 2), run.output
    return run.code, json.loads(run.stdout)


def last_applied(spec: Path) -> dict:
    """The newest entry of `grid state history`: what the last apply changed and why."""
    history = grid("state", "history", str(spec), "--json")
    assert history.code == 0, history.output
    entries: list[dict] = json.loads(history.stdout)
    return max(entries, key=lambda entry: entry["serial"])


def container(name: str, address: str) -> str:
    return f"grid-{name}-" + address.replace("/node-", "-").replace("/", "-")


Tamper = Callable[[str], None]
CASES: dict[str, tuple[Tamper, str, str]] = {
    # case: (tampering given the cluster name, address expected in the drift report, kind)
    "container removed": (lambda n: podman("rm", "-f", "-t", "0", container(n, "east/train/node-0001")),
                          "east/train/node-0001", "resource"),
    "node stopped": (lambda n: podman("stop", "-t", "0", container(n, "west/infer/node-0000")),
                     "west/infer/node-0000", "resource"),
    "fabric network removed": (lambda n: podman("network", "rm", "-f", f"grid-{n}-west-mgmt"),
                               "west/fabric/mgmt", "resource"),
    "node taken off a network": (lambda n: podman("network", "disconnect", f"grid-{n}-east-compute",
                                                  container(n, "east/train/node-0000")),
                                 "east/train/node-0000", "resource"),
    "sysctl file edited": (lambda n: podman("exec", container(n, "east/train/node-0000"), "sh", "-c",
                                            "echo 'net.core.rmem_max = 1' > /etc/sysctl.d/90-grid.conf"),
                           "east/train/node-0000", "configuration"),
    "cluster key removed": (lambda n: podman("exec", container(n, "east/train/node-0001"), "sh", "-c",
                                             ": > /home/gridadmin/.ssh/authorized_keys"),
                            "east/train/node-0001", "configuration"),
    "facts file deleted": (lambda n: podman("exec", container(n, "west/infer/node-0001"), "rm",
                                            "/etc/grid/node.json"),
                           "west/infer/node-0001", "configuration"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_detected_and_repaired(cluster: tuple[Path, str], case: str) -> None:
    spec, name = cluster
    tamper, address, kind = CASES[case]
    tamper(name)
    code, report = drift(spec)
    assert code == 2, report
    found = {(item["address"], item["kind"]) for item in report["items"]}
    assert (address, kind) in found, f"{case}: expected {address} ({kind}) in {found}"
    assert report["drifted"] is True
    run = grid("up", str(spec), "--yes")
    assert run.code == 0, run.output
    repaired = last_applied(spec)
    assert address in {c["address"] for c in repaired["changes"] if c["cause"] == "drift"}, repaired
    code, report = drift(spec)
    assert code == 0, f"{case}: still drifted after grid up: {report}"


def test_adding_two_nodes_creates_only_them_and_updates_cluster_wide_pieces(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    data = yaml.safe_load(spec.read_text())
    data["spec"]["regions"][0]["pools"][0]["count"] = 4
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = json.loads(grid("plan", str(spec), "--json").stdout)
    pending = {c["address"]: c["action"] for c in plan["changes"] if c["action"] != "no-op"}
    assert pending == {"east/train/node-0002": "create", "east/train/node-0003": "create"}
    scopes = {c["address"]: c["scope"] for c in plan["configuration"]}
    assert scopes["east/train/node-0002"] == scopes["east/train/node-0003"] == "full"
    others = {a: s for a, s in scopes.items() if a not in ("east/train/node-0002", "east/train/node-0003")}
    # the lab resolves by dns (its default): only each region's name server learns the records, no other host
    assert others == {"east/train/node-0000": "hosts", "west/infer/node-0000": "hosts"}, scopes
    run = grid("up", str(spec), "--yes")
    assert run.code == 0, run.output
    assert "full configuration on 2 host(s)" in run.stdout
    assert f"hosts table only on {len(others)} host(s)" in run.stdout
    for address in ("east/train/node-0001", "west/infer/node-0000", "west/infer/node-0001"):
        found = subprocess.run(["podman", "exec", container(name, address), "getent", "hosts", "east-train-0002",
                                "east-train-0003"], capture_output=True, text=True, check=False).stdout
        assert "east-train-0002" in found and "east-train-0003" in found, (address, found)
    state = json.loads((spec.parent / ".grid" / name / "state.json").read_text())["state"]
    assert {"east/train/node-0002", "east/train/node-0003"} <= set(state["resources"])
    assert all(h["status"] == "configured" for h in state["hosts"].values())
    grown = last_applied(spec)
    created = {c["address"]: c["cause"] for c in grown["changes"] if c["action"] == "create"}
    assert created == {"east/train/node-0002": "spec", "east/train/node-0003": "spec"}, grown
