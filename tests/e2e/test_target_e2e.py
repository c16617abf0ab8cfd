"""`--target` on a real one-region lab (pools p1 and p2, one node each): `grid up --target` changes only the
selected pool (podman's own record of the other container proves it untouched) and the next whole plan still
shows the rest; `grid check --target` and `grid drift --target` look at the selected node only; `grid destroy
--target` removes only its container; a pattern that matches nothing exits 1 naming it."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grid.stacks.local_provider import cgroup_limits
from support.cli import grid
from support.lab import remove_cluster
from support.specs import local_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNET = "198.19.24.0/24"  # inside the range reserved for these tests (198.19.16.0/20)


def _spec(path: Path, name: str, *, cpus: float, p1: int = 1) -> Path:
    pools = "".join(f"        - {{name: {pool}, count: {count}, fabrics: [mgmt], roles: [compute], "
                    f"resources: {{cpus: {cpus}, memory_gb: 0.5}}}}\n" for pool, count in (("p1", p1), ("p2", 1)))
    path.write_text(local_cluster(name, f"""    - name: r
      site: {{power_mw: 0.1}}
      fabrics:
        - {{name: mgmt, kind: ethernet, cidr: {SUBNET}}}
      pools:
{pools}""", "  configuration:\n    roles: [base]\n"))
    return path


def _inspect(container: str) -> dict[str, object]:
    out = subprocess.run(["podman", "inspect", container], capture_output=True, text=True, check=True).stdout
    found = json.loads(out)[0]
    # The limits the cgroup enforces (`podman update --cpus` changes them; inspect keeps the create-time ones).
    limits = cgroup_limits(str(found["State"].get("CgroupPath") or ""))
    return {"id": found["Id"], "created": found["Created"], "cpus": limits[0] if limits else None}


def _events(container: str, since: str) -> list[str]:
    out = subprocess.run(["podman", "events", "--stream=false", "--since", since, "--filter",
                          f"container={container}", "--format", "{{.Status}}"], capture_output=True, text=True,
                         check=False).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_target_touches_only_the_selected_part(tmp_path: Path) -> None:
    name = "tg" + uuid.uuid4().hex[:6]
    work = ["--workdir", str(tmp_path / "wd")]
    base = _spec(tmp_path / "base.yaml", name, cpus=0.5)
    changed = _spec(tmp_path / "changed.yaml", name, cpus=1.0)
    p1, p2 = f"grid-{name}-r-p1-0000", f"grid-{name}-r-p2-0000"
    try:
        up = grid("up", str(base), *work, "--yes", "--skip-check")
        assert up.code == 0, up.output
        before = _inspect(p2)
        assert before["cpus"] == 0.5, before
        since = datetime.now(UTC).isoformat()

        aimed = grid("up", str(changed), *work, "--yes", "--target", "r/p1/*", "--json")
        assert aimed.code == 0, aimed.output
        assert "Partial plan: --target r/p1/* (1 of 3 resources)" in aimed.stderr, aimed.stderr
        assert _inspect(p1)["cpus"] == 1.0  # updated in place
        assert _inspect(p2) == before  # same container, limits as they were
        assert _events(p2, since) == [], "podman saw the unselected node touched"
        history = json.loads(grid("state", "history", str(changed), *work, "--json").stdout)
        assert {c["address"] for c in history[-1]["changes"]} == {"r/p1/node-0000"}, history[-1]

        rest = grid("plan", str(changed), *work)
        assert rest.code == 0 and "r/p2/node-0000" in rest.stdout and "r/p1/node-0000" not in rest.stdout, \
            rest.output

        checked = grid("check", str(changed), *work, "--target", "r/p2/*", "--json")
        assert checked.code == 0, checked.output
        assert [n["address"] for n in json.loads(checked.stdout)["nodes"]] == ["r/p2/node-0000"]

        # Both nodes tampered with (stopped by hand): drift aimed at one reports that one only.
        subprocess.run(["podman", "stop", "-t", "0", p1, p2], capture_output=True, check=True)
        drift = grid("drift", str(changed), *work, "--target", "r/p1/node-0000", "--json")
        subprocess.run(["podman", "start", p1, p2], capture_output=True, check=True)
        assert drift.code == 0, drift.output
        drifted = {item["address"] for item in json.loads(drift.stdout)["items"]}
        assert drifted == {"r/p1/node-0000"}, drift.stdout

        nothing = grid("plan", str(changed), *work, "--target", "r/p9/*")
        assert nothing.code == 1 and "--target r/p9/*: matches no resource" in nothing.stderr, nothing.output

        # A second p1 node, then destroy aimed at it: only its container goes.
        grown = _spec(tmp_path / "grown.yaml", name, cpus=1.0, p1=2)
        assert grid("up", str(grown), *work, "--yes", "--skip-check", "--target", "r/p1/node-0001").code == 0
        kept = {c: _inspect(c)["id"] for c in (p1, p2)}
        gone = grid("destroy", str(grown), *work, "--yes", "--target", "r/p1/node-0001")
        assert gone.code == 0, gone.output
        assert subprocess.run(["podman", "container", "exists", f"grid-{name}-r-p1-0001"]).returncode == 1
        assert {c: _inspect(c)["id"] for c in (p1, p2)} == kept
        refused = grid("destroy", str(grown), *work, "--yes", "--target", "r/fabric/mgmt")
        assert refused.code == 1 and "r/fabric/mgmt: deleting it needs" in refused.stderr, refused.output
    finally:
        try:
            grid("destroy", str(base), *work, "--yes")
        finally:
            remove_cluster(name)
