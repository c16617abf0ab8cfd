"""A test cluster as podman and grid's files hold it: its inventory, the invariants checked after a run
(everything in podman is in state and vice versa, the state verifies, Pulumi agrees, every host is
configured), and removal of what a test or benchmark left behind (test clusters only, never anything else).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from grid.state import codec

from .specs import TEST_CLUSTER

KINDS = ("containers", "networks", "volumes")
_LIST = {"containers": ["podman", "ps", "-a"], "networks": ["podman", "network", "ls"],
         "volumes": ["podman", "volume", "ls"]}
_REMOVE = {"containers": ["podman", "rm", "-f", "-t", "0"], "networks": ["podman", "network", "rm", "-f"],
           "volumes": ["podman", "volume", "rm", "-f"]}


def workdir(spec: Path, name: str) -> Path:
    """The default work directory of cluster `name` (next to its spec)."""
    return spec.parent / ".grid" / name


def podman_inventory(cluster: str, *, check: bool = True) -> dict[str, set[str]]:
    """Names of the cluster's containers, networks and volumes, by its podman label."""
    selector = f"label=grid.cluster={cluster}"
    found: dict[str, set[str]] = {}
    for kind in KINDS:
        name = "{{.Names}}" if kind == "containers" else "{{.Name}}"
        out = subprocess.run([*_LIST[kind], "--filter", selector, "--format", name], capture_output=True, text=True,
                             check=check)
        found[kind] = set(out.stdout.split())
    return found


def leftovers(cluster: str) -> list[str]:
    """Whatever podman still holds of `cluster` (never raises)."""
    return sorted(name for names in podman_inventory(cluster, check=False).values() for name in names)


def remove_cluster(cluster: str) -> None:
    """Remove every container, network and volume labelled as `cluster`'s (best effort, never raises)."""
    for kind, names in podman_inventory(cluster, check=False).items():
        if names:
            subprocess.run([*_REMOVE[kind], *sorted(names)], capture_output=True, check=False)


def remove_leftover_test_clusters() -> list[str]:
    """Remove podman containers, networks and volumes of test clusters (names lab_spec gives only)."""
    removed: list[str] = []
    for kind in KINDS:
        name = "{{.Names}}" if kind == "containers" else "{{.Name}}"
        try:
            out = subprocess.run([*_LIST[kind], "--format", name + "|{{.Labels}}"], capture_output=True,
                                 text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return removed
        names = [line.split("|", 1)[0] for line in out.splitlines()
                 if "|" in line and TEST_CLUSTER.match(_cluster_label(line.split("|", 1)[1]))]
        if names:
            subprocess.run([*_REMOVE[kind], *names], capture_output=True, check=False)
            removed += names
    return removed


def _cluster_label(labels: str) -> str:
    match = re.search(r"grid\.cluster[:=]([A-Za-z0-9-]+)", labels)
    return match.group(1) if match else ""


def running_containers(name: str) -> dict[str, str]:
    """Container ID by grid address, of the cluster's running containers."""
    out = subprocess.run(["podman", "ps", "--filter", f"label=grid.cluster={name}", "--format",
                          '{{.ID}} {{index .Labels "grid.address"}}'], capture_output=True, text=True, check=True)
    return {address: cid for cid, address in (line.split() for line in out.stdout.splitlines() if line.strip())}


# -- the invariants --------------------------------------------------------------------------------------

def verified_state(work: Path) -> dict[str, Any]:
    """The state envelope after checking its checksum (raises StateCorrupted otherwise)."""
    raw = (work / "state.json").read_bytes()
    codec.decode(raw, "state.json")  # checksum, format version and schema
    envelope: dict[str, Any] = json.loads(raw)
    return envelope


def state_inventory(envelope: dict[str, Any]) -> dict[str, set[str]]:
    resources = envelope["state"]["resources"].values()
    return {
        "containers": {r["attrs"]["container"] for r in resources if r["kind"] == "node"},
        "networks": {r["attrs"]["network"] for r in resources if r["kind"] == "fabric"},
        "volumes": {r["attrs"]["volume"] for r in resources if r["kind"] == "volume"},
    }


def pulumi_checkpoints(work: Path) -> dict[str, dict[str, Any]]:
    """Each region stack's latest checkpoint in the DIY backend."""
    found = {}
    for path in (work / "pulumi-backend" / ".pulumi" / "stacks").glob("*/*.json"):
        found[path.stem] = json.loads(path.read_text())["checkpoint"].get("latest") or {}
    return found


def consistency_problems(spec: Path, name: str, work: Path | None = None) -> list[str]:
    """Everything podman has for the cluster is in state and vice versa; the state checksum verifies;
    Pulumi's checkpoints hold no pending operation and the same resources as grid's state; every host
    is configured. `work`: the run's --workdir, when not the default next to the spec."""
    work = work or workdir(spec, name)
    problems: list[str] = []
    try:
        envelope = verified_state(work)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the caller collects problems
        return [f"state does not verify: {exc}"]
    live, recorded = podman_inventory(name), state_inventory(envelope)
    for kind in live:
        if live[kind] - recorded[kind]:
            problems.append(f"orphaned {kind} (in podman, not in state): {sorted(live[kind] - recorded[kind])}")
        if recorded[kind] - live[kind]:
            problems.append(f"{kind} in state but not in podman: {sorted(recorded[kind] - live[kind])}")
    addresses = {a for a, r in envelope["state"]["resources"].items() if r["kind"] != "link"}
    in_pulumi: set[str] = set()
    for region, latest in pulumi_checkpoints(work).items():
        if latest.get("pending_operations"):
            problems.append(f"pulumi stack {region} has pending operations: {latest['pending_operations']}")
        in_pulumi |= {r["urn"].rsplit("::", 1)[-1] for r in latest.get("resources") or []
                      if r.get("custom") and not r["type"].startswith("pulumi:")}
    if in_pulumi != addresses:
        problems.append(f"pulumi and grid disagree: only in pulumi {sorted(in_pulumi - addresses)}, "
                        f"only in state {sorted(addresses - in_pulumi)}")
    hosts = envelope["state"]["hosts"]
    nodes = {a for a, r in envelope["state"]["resources"].items() if r["kind"] == "node"}
    unconfigured = sorted(a for a in nodes if hosts.get(a, {}).get("status") != "configured")
    if unconfigured:
        problems.append(f"hosts not configured: {unconfigured}")
    return problems


def unplanned_by_engine(before: dict[str, str], after: dict[str, str], result: str) -> list[str]:
    """The plan is the contract: a running node the engine replaced or removed must be one its plan showed
    being created, replaced or deleted (`changes` of the grid-result/v1 document)."""
    try:
        changes = {c["address"]: c["action"] for c in json.loads(result).get("changes", [])}
    except ValueError:
        return [f"the recovery printed no result document: {result[-500:]}"]
    return [f"{address}: replaced or removed by the engine, but its plan said {changes.get(address, 'no change')}"
            for address, cid in sorted(before.items())
            if after.get(address) != cid and changes.get(address) not in ("create", "replace", "delete")]
