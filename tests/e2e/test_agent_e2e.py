"""`grid agent run` on the lab (one region, file state, a local bare git repo): it brings a cluster up from
nothing and stops on SIGTERM with exit 0; `plan-approval` applies only the committed plan; `drift-only` changes
nothing. Following pushes, refusing bad commits, repairing drift and failing over per region:
test_agents_per_region_e2e.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from support.agent_process import AgentProcess
from support.cli import grid
from support.gitrepo import Remote
from support.lab import podman_inventory, remove_cluster
from support.paths import LOCAL_LAB

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INTERVAL, DRIFT_INTERVAL = 3.0, 5.0
STEP = 240.0  # seconds a lab apply may take on a busy machine (the first brings up images and nodes)


def spec_text(name: str, count: int) -> str:
    data = yaml.safe_load(LOCAL_LAB.read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    data["spec"]["regions"], data["spec"]["links"] = [region], []
    region["pools"] = region["pools"][:1]
    region["pools"][0]["count"] = count
    for fabric, octet in zip(region["fabrics"], (152, 153), strict=False):  # its own, of 198.19.144.0/20
        fabric["cidr"] = f"198.19.{octet}.0/24"
    return yaml.safe_dump(data, sort_keys=False)


def start_agent(tmp: Path, remote: Remote, workdir: Path, policy: str = "apply") -> AgentProcess:
    return AgentProcess(tmp / f"agent-{policy}.log", [
        "--repo", str(remote.bare), "--path", "cluster.yaml", "--name", "ag-e2e", "--workdir", str(workdir),
        "--interval", str(INTERVAL), "--drift-interval", str(DRIFT_INTERVAL), "--jitter", "0",
        "--lease-seconds", "15", "--policy", policy])


def clean_up(tmp: Path, name: str, workdir: Path) -> None:
    spec = tmp / "cluster.yaml"
    spec.write_text(spec_text(name, 2))
    try:
        grid("destroy", str(spec), "--workdir", str(workdir), "--yes", timeout=600)
    finally:
        remove_cluster(name)
        shutil.rmtree(workdir, ignore_errors=True)


def nodes(name: str) -> set[str]:
    return {c for c in podman_inventory(name)["containers"] if "-train-" in c}


def test_agent_brings_a_cluster_up_from_the_repo_and_stops_on_sigterm(tmp_path: Path) -> None:
    name = "ag-" + uuid.uuid4().hex[:6]
    remote, workdir = Remote(tmp_path), Path(f"/tmp/{name}-wd")
    first = remote.commit({"cluster.yaml": spec_text(name, 1)})
    agent = start_agent(tmp_path, remote, workdir)
    try:
        agent.wait(lambda e: e["event"] == "reconcile" and e["commit"] == first and e["result"] == "applied",
                   STEP, "the first bring-up")
        assert len(nodes(name)) == 1

        status = grid("agent", "status", "--cluster", name, "--workdir", str(workdir), "--json")
        assert status.code == 0, status.stderr
        [record] = json.loads(status.stdout)["agents"]
        assert record["agent"] == "ag-e2e" and record["role"] == "active" and record["commit"] == first

        assert agent.stop() == 0
        assert agent.events()[-1]["event"] == "stopped"
        assert "Traceback" not in agent.log.read_text()
    finally:
        agent.kill()
        clean_up(tmp_path, name, workdir)


def test_plan_approval_applies_only_the_committed_plan_and_drift_only_changes_nothing(tmp_path: Path) -> None:
    name = "ag-" + uuid.uuid4().hex[:6]
    remote, workdir = Remote(tmp_path), Path(f"/tmp/{name}-wd")
    first = remote.commit({"cluster.yaml": spec_text(name, 1)})
    agent = start_agent(tmp_path, remote, workdir, "plan-approval")
    try:
        waiting = agent.wait(lambda e: e["event"] == "reconcile" and e["commit"] == first, STEP, "a first answer")
        assert waiting["result"] == "waiting-approval" and "--out cluster.yaml.plan" in waiting["message"]
        assert nodes(name) == set()

        planned = grid("plan", str(remote.clone / "cluster.yaml"), "--workdir", str(workdir),
                       "--out", str(remote.clone / "cluster.yaml.plan"))
        assert planned.code == 0, planned.stderr
        approved = remote.commit({})
        agent.wait(lambda e: e["event"] == "reconcile" and e["commit"] == approved and e["result"] == "applied",
                   STEP, "the approved plan applied")
        assert len(nodes(name)) == 1
        assert agent.stop() == 0
    finally:
        agent.kill()

    watcher = start_agent(tmp_path, remote, workdir, "drift-only")
    try:
        grown = remote.commit({"cluster.yaml": spec_text(name, 2)})
        pending = watcher.wait(lambda e: e["event"] == "reconcile" and e["commit"] == grown, STEP, "a report")
        assert pending["result"] == "changes-pending" and "nothing changed" in pending["message"]
        victim = sorted(nodes(name))[0]
        subprocess.run(["podman", "rm", "-f", "-t", "0", victim], check=True, capture_output=True)
        drifted = watcher.wait(lambda e: e["event"] == "drift" and e.get("result") == "drift",
                               2 * DRIFT_INTERVAL + STEP, "the removed container reported")
        assert victim.rsplit("-", 1)[-1] in drifted["message"] or "drifted" in drifted["message"]
        assert nodes(name) == set()  # reported, not repaired
        assert watcher.stop() == 0
    finally:
        watcher.kill()
        clean_up(tmp_path, name, workdir)
