"""`grid up --region`: a two-region local cluster with its state partitioned by region in PostgreSQL. Two region
runs at once neither wait for each other nor touch each other's partition; what one leaves to the other
(its hosts must learn the new nodes) is shown and recorded, and done by that region's next run.

GRID_REGION_SCOPE_E2E_PREFIX and GRID_REGION_SCOPE_E2E_SUBNETS give the cluster's name prefix and its two /24s (a
session sharing the machine keeps to its own)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from grid.state import PostgresStateStore
from support.cli import grid, grid_env, start
from support.lab import remove_cluster
from support.paths import GRID
from support.specs import two_small_regions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# this test's, inside the range reserved for it
SUBNETS = tuple(os.environ.get("GRID_REGION_SCOPE_E2E_SUBNETS", "198.19.18.0/24,198.19.19.0/24").split(","))[:2]
PREFIX = os.environ.get("GRID_REGION_SCOPE_E2E_PREFIX", "pt-")


def _spec(directory: Path, name: str, east: int, west: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cluster.yaml"
    path.write_text(two_small_regions(name, (SUBNETS[0], SUBNETS[1]), east, west))
    return path


def _timed(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([GRID, *args], env=grid_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_two_regions_run_at_once_and_settle_their_pending_work(tmp_path: Path, pg_url: str) -> None:
    name = PREFIX + uuid.uuid4().hex[:6]
    env = {"GRID_STATE": pg_url}
    work = ["--workdir", str(tmp_path / "wd")]
    base, west_change = _spec(tmp_path / "base", name, 1, 1), _spec(tmp_path / "v1", name, 1, 2)
    both = _spec(tmp_path / "v2", name, 2, 2)
    try:
        up = grid("up", str(base), *work, "--yes", env=env)
        assert up.code == 0, up.output
        refused = grid("up", str(both), *work, "--region", "east", "--yes", env=env)
        assert refused.code == 1 and "grid state migrate --partition" in refused.stderr
        unknown = grid("plan", str(both), *work, "--region", "north", env=env)
        assert unknown.code == 1 and "east, west" in unknown.stderr
        migrated = grid("state", "migrate", "--partition", str(base), *work, env=env)
        assert migrated.code == 0 and "partitioned by region" in migrated.stdout, migrated.output

        # Two region runs at once: west (an earlier commit: +1 west node), east (+1 east node, sees west's too).
        started = time.monotonic()
        west = _timed("up", str(west_change), *work, "--region", "west", "--yes", env=env)
        east = _timed("up", str(both), *work, "--region", "east", "--yes", env=env)
        west_out, _ = west.communicate(timeout=300)
        west_wall = time.monotonic() - started
        east_out, _ = east.communicate(timeout=300)
        wall = time.monotonic() - started
        assert west.returncode == 0, west_out
        assert east.returncode == 0, east_out
        assert "locked" not in west_out + east_out
        assert "pending for west" in east_out
        # Neither waited for the other's lock: together they take about as long as one (2 shared cores: loosely).
        assert wall < 1.7 * max(west_wall, wall - west_wall, 1.0) or wall < 60, (wall, west_wall)

        planned = grid("plan", str(both), *work, "--region", "west", env=env)
        assert planned.code == 0, planned.output
        assert "hosts table only" in planned.stdout and "west/b/node-0000" in planned.stdout
        assert "east/a" not in planned.stdout.split("Capacity")[0]
        pending = PostgresStateStore(pg_url, f"{name}@_cluster").read()
        assert pending is not None and "west" in pending.state.pending

        up_west = grid("up", str(both), *work, "--region", "west", "--yes", env=env)
        assert up_west.code == 0, up_west.output
        # west's name server (dns, the lab's default) now answers for east's new node
        found = subprocess.run(["podman", "exec", f"grid-{name}-west-b-0001", "getent", "hosts", "east-a-0001"],
                               capture_output=True, text=True, check=False).stdout
        assert "east-a-0001" in found
        cleared = PostgresStateStore(pg_url, f"{name}@_cluster").read()
        assert cleared is not None and "west" not in cleared.state.pending

        # A killed east run leaves west's partition as it was; the next east run completes.
        west_before = PostgresStateStore(pg_url, f"{name}@west").read()
        three = _spec(tmp_path / "v3", name, 3, 2)
        # Killed (SIGKILL of the run's process group) once its node exists, before it is configured.
        killed = start("up", str(three), *work, "--region", "east", "--yes",
                       env={**env, "GRID_KILL_AT": "ansible.start:1"})
        code, output = killed.wait(300)
        assert code != 0, output
        west_after = PostgresStateStore(pg_url, f"{name}@west").read()
        assert west_before is not None and west_after is not None
        assert (west_after.serial, west_after.checksum) == (west_before.serial, west_before.checksum)
        again = grid("up", str(three), *work, "--region", "east", "--yes", env=env)
        assert again.code == 0, again.output
        assert "No changes" not in again.stdout, again.stdout  # the killed run's configuration is completed
        settled = grid("plan", str(three), *work, "--region", "east", env=env)
        assert settled.code == 0 and "No changes" in settled.stdout, settled.output
    finally:
        grid("destroy", str(base), *work, "--yes", env=env)
        remove_cluster(name)
