"""One `grid agent` per hub on the lab: two regions, state partitioned by region in the test PostgreSQL, the spec in
a local bare git repo whose commits must be signed. East has an active agent and a standby, west one agent.

A signed push of +1 east node converges east, and west's hosts learn the new node; an unsigned commit and an
invalid spec are refused by every agent and change nothing; a container removed by hand is repaired within two
drift intervals; kill -9 of the active east agent → the standby takes over within the lease.

GRID_AGENTS_E2E_PREFIX and GRID_AGENTS_E2E_SUBNETS give the cluster's name prefix and its two /24s (a session
sharing the machine keeps to its own)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from support.agent_process import AgentProcess
from support.cli import grid
from support.gitrepo import Remote, allowed_signers, keypair
from support.lab import podman_inventory, remove_cluster
from support.specs import two_small_regions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# this test's, inside the range reserved for it
SUBNETS = tuple(os.environ.get("GRID_AGENTS_E2E_SUBNETS", "198.19.144.0/24,198.19.145.0/24").split(","))[:2]
PREFIX = os.environ.get("GRID_AGENTS_E2E_PREFIX", "agr-")
INTERVAL, DRIFT_INTERVAL, LEASE = 3.0, 6.0, 12.0
STEP = 240.0  # seconds a lab apply may take on a busy machine
SEEN = 2 * INTERVAL + 60  # a push is seen within two intervals, after the step under way (a drift check)


def spec_text(name: str, east: int, west: int) -> str:
    return two_small_regions(name, (SUBNETS[0], SUBNETS[1]), east, west)


def resolves(container: str, hostname: str) -> bool:
    """Whether the node finds `hostname` (through its region's name server: dns is the lab's default)."""
    return hostname in subprocess.run(["podman", "exec", container, "getent", "hosts", hostname],
                                      capture_output=True, text=True, check=False).stdout


def nodes(name: str) -> set[str]:
    return {c for c in podman_inventory(name)["containers"] if "-a-" in c or "-b-" in c}


def test_an_agent_per_region_converges_refuses_repairs_and_fails_over(tmp_path: Path, pg_url: str) -> None:
    name = PREFIX + uuid.uuid4().hex[:6]
    database, password = pg_url.split("@", 1)[1], pg_url.split("@", 1)[0].rsplit(":", 1)[1]
    state = pg_url.split("://", 1)[0] + "://" + pg_url.split("://", 1)[1].split(":", 1)[0] + "@" + database
    signer, stranger = keypair(tmp_path, "ops"), keypair(tmp_path, "stranger")
    signers = allowed_signers(tmp_path, signer)
    remote = Remote(tmp_path)
    first = remote.commit({"cluster.yaml": spec_text(name, 1, 1)}, key=signer)

    # The operator brings the cluster up once (partitioned: --region); agents get its key and passphrase as
    # secrets, as a systemd EnvironmentFile or a container's secret mount would give them.
    boot = tmp_path / "boot"
    env = {"PGPASSWORD": password}
    up = grid("up", str(remote.clone / "cluster.yaml"), "--workdir", str(boot), "--state", state,
              "--region", "east", "--region", "west", "--yes", env=env, timeout=600)
    assert up.code == 0, up.output
    secrets = {**env, "GRID_SSH_KEY_FILE": str(boot / "secrets" / "id_ed25519"),
               "PULUMI_CONFIG_PASSPHRASE_FILE": str(boot / "secrets" / "pulumi-passphrase")}

    def start(agent: str, region: str) -> AgentProcess:
        return AgentProcess(tmp_path / f"{agent}.log", [
            "--repo", str(remote.bare), "--path", "cluster.yaml", "--region", region, "--name", agent,
            "--workdir", str(tmp_path / agent), "--state", state, "--interval", str(INTERVAL),
            "--drift-interval", str(DRIFT_INTERVAL), "--jitter", "0", "--lease-seconds", str(LEASE),
            "--require-signed", "--allowed-signers", str(signers)], env=secrets)

    agents: dict[str, AgentProcess] = {}
    try:
        agents["east-1"] = start("east-1", "east")
        agents["east-1"].wait(lambda e: e["event"] == "active", SEEN, "east-1 active")
        agents["east-2"], agents["west-1"] = start("east-2", "east"), start("west-1", "west")
        for agent in ("east-1", "west-1"):
            done = agents[agent].wait(lambda e: e["event"] == "reconcile" and e["commit"] == first, STEP,
                                      f"{agent}'s first reconcile")
            assert done["result"] == "no-changes", done
        agents["east-2"].wait(lambda e: e["event"] == "standby", SEEN, "east-2 standing by")

        # A signed push: +1 east node → east converges, west's name server learns the new node.
        grown = remote.commit({"cluster.yaml": spec_text(name, 2, 1)}, key=signer)
        agents["east-1"].wait(lambda e: e["event"] == "reconcile" and e["commit"] == grown
                              and e["result"] == "applied", SEEN + STEP, "east applies +1 node")
        assert f"grid-{name}-east-a-0001" in nodes(name)
        deadline = time.monotonic() + 2 * INTERVAL + STEP
        while not resolves(f"grid-{name}-west-b-0000", "east-a-0001"):
            assert time.monotonic() < deadline, agents["west-1"].log.read_text()[-4000:]
            time.sleep(1)
        assert not [e for e in agents["east-2"].events() if e["event"] == "reconcile"], "the standby acted"

        # An unsigned commit and an invalid (signed) spec: every agent refuses, nothing changes.
        before = podman_inventory(name)
        unsigned = remote.commit({"cluster.yaml": spec_text(name, 3, 1)})
        for agent in agents.values():
            refused = agent.wait(lambda e: e["event"] == "commit-refused" and e["commit"] == unsigned, SEEN,
                                 "the unsigned commit refused")
            assert grown[:12] in refused["message"], refused
        invalid = remote.commit({"cluster.yaml": spec_text(name, 3, 1).replace("count: 3", "count: -3")},
                                key=signer)
        for agent in agents.values():
            agent.wait(lambda e: e["event"] == "spec-invalid" and e["commit"] == invalid, SEEN,
                       "the invalid spec refused")
        stranger_signed = remote.commit({"cluster.yaml": spec_text(name, 3, 1)}, key=stranger)
        agents["west-1"].wait(lambda e: e["event"] == "commit-refused" and e["commit"] == stranger_signed, SEEN,
                              "a commit signed by an unknown key refused")
        assert podman_inventory(name) == before

        # A container removed by hand: repaired by the active east agent within two drift intervals.
        victim = f"grid-{name}-east-a-0000"
        subprocess.run(["podman", "rm", "-f", "-t", "0", victim], check=True, capture_output=True)
        agents["east-1"].wait(lambda e: e["event"] == "drift" and e.get("result") == "drift-repaired",
                              2 * DRIFT_INTERVAL + STEP, "the removed container repaired")
        assert victim in nodes(name)

        # kill -9 of the active east agent: the standby takes over within the lease.
        agents["east-1"].kill()
        killed = time.monotonic()
        agents["east-2"].wait(lambda e: e["event"] == "active", LEASE + 2 * INTERVAL + 30, "east-2 takes over")
        took = time.monotonic() - killed
        assert took <= LEASE + 2 * INTERVAL + 30, took
        status = grid("agent", "status", str(remote.clone / "cluster.yaml"), "--state", state, "--json", env=env)
        assert status.code == 0, status.output
        roles = {r["agent"]: r["role"] for r in json.loads(status.stdout)["agents"]}
        assert roles.get("east-2") == "active" and roles.get("west-1") == "active", roles
        assert password not in status.output

        for agent in ("east-2", "west-1"):
            assert agents[agent].stop() == 0
            assert "Traceback" not in agents[agent].log.read_text()
    finally:
        for agent in agents.values():
            agent.kill()
        remote.commit({"cluster.yaml": spec_text(name, 2, 1)}, key=signer)
        grid("destroy", str(remote.clone / "cluster.yaml"), "--workdir", str(boot), "--state", state, "--yes",
             env=env, timeout=600)
        remove_cluster(name)
