"""`grid import --local` on a real lab: a cluster whose state and work directory are lost is recovered from what
podman holds — with the spec still at hand, and with a spec recovered from the containers — such that `grid plan`
is empty, `grid drift` clean, `grid up` a no-op, every container the same one; a container removed by hand is
exactly what the next plan creates; an existing state is never overwritten. The lab is destroyed through the
imported state and Pulumi stacks (nothing left behind)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support.cli import grid
from support.lab import leftovers, remove_cluster, running_containers
from support.specs import local_cluster, used_subnets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ipaddress.IPv4Network("198.19.64.0/20")  # this test's own range of the lab's 198.18.0.0/15

REGIONS = """\
    - name: east
      site: {{power_mw: 0.5, pue: 1.2, cooling: liquid, rack_kw_max: 80}}
      fabrics:
        - {{name: mgmt, kind: ethernet, speed_gbps: 25, mtu: 1500, cidr: {cidr}}}
      storage:
        - {{name: pfs, kind: nfs, capacity_tib: 4, mount: /shared}}
      pools:
        - name: train
          count: 2
          accelerator: {{model: h100-sxm, per_node: 2}}
          nodes_per_rack: 2
          fabrics: [mgmt]
          storage: [pfs]
          resources: {{cpus: 0.5, memory_gb: 0.5}}
"""


@dataclass(frozen=True)
class Lab:
    name: str
    spec: Path
    workdir: Path
    ids: dict[str, str]  # container id by node address, as first brought up


def free_subnet() -> ipaddress.IPv4Network:
    used = used_subnets()
    return next(s for s in SUBNETS.subnets(new_prefix=24) if not any(s.overlaps(u) for u in used))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    name = f"il{uuid.uuid4().hex[:6]}"
    folder = tmp_path_factory.mktemp("import-local")
    spec = folder / "cluster.yaml"
    spec.write_text(local_cluster(name, REGIONS.format(cidr=free_subnet())))
    workdir = Path(f"/tmp/{name}-wd")
    try:
        up = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
        assert up.code == 0, up.output
        yield Lab(name, spec, workdir, running_containers(name))
        down = grid("destroy", str(spec), "--workdir", str(workdir), "--yes")
        assert down.code == 0, down.output
        assert leftovers(name) == [], "destroy through the imported state left objects behind"
    finally:
        remove_cluster(name)
        shutil.rmtree(workdir, ignore_errors=True)


def lose_everything(lab: Lab) -> None:
    """The state, the Pulumi backend, the cluster's SSH key: the whole work directory, gone."""
    shutil.rmtree(lab.workdir)


def assert_converged(lab: Lab, spec: Path) -> None:
    plan = grid("plan", str(spec), "--workdir", str(lab.workdir), "--detailed-exitcode")
    assert plan.code == 0 and "No changes" in plan.stdout, plan.output
    drift = grid("drift", str(spec), "--workdir", str(lab.workdir), "--detailed-exitcode")
    assert drift.code == 0 and "No drift" in drift.stdout, drift.output
    assert running_containers(lab.name) == lab.ids  # nothing recreated


def test_import_with_the_spec_at_hand(lab: Lab) -> None:
    lose_everything(lab)
    imported = grid("import", "--local", lab.name, "--spec", str(lab.spec), "--workdir", str(lab.workdir))
    assert imported.code == 0, imported.output
    assert "adopted 4 resource(s)" in imported.stdout and "Pulumi stacks written: east" in imported.stdout
    assert_converged(lab, lab.spec)
    up = grid("up", str(lab.spec), "--workdir", str(lab.workdir), "--yes")
    assert up.code == 0 and "No changes" in up.stdout, up.output
    assert running_containers(lab.name) == lab.ids


def test_an_existing_state_is_never_overwritten(lab: Lab) -> None:
    again = grid("import", "--local", lab.name, "--spec", str(lab.spec), "--workdir", str(lab.workdir))
    assert again.code == 1 and "never overwrites" in again.stderr, again.output


def test_import_recovers_a_spec_from_podman(lab: Lab, tmp_path: Path) -> None:
    lose_everything(lab)
    out = tmp_path / "recovered.yaml"
    imported = grid("import", "--local", lab.name, "--out", str(out), "--workdir", str(lab.workdir))
    assert imported.code == 0, imported.output
    recovered = yaml.safe_load(out.read_text())
    pool = recovered["spec"]["regions"][0]["pools"][0]
    assert (pool["count"], pool["accelerator"], pool["fabrics"], pool["storage"]) == (
        2, {"model": "h100-sxm", "per_node": 2}, ["mgmt"], ["pfs"])
    assert "# GUESSED" in out.read_text()
    assert grid("validate", str(out)).code == 0
    assert_converged(lab, out)


def test_a_container_removed_by_hand_is_what_the_plan_creates(lab: Lab) -> None:
    container = f"grid-{lab.name}-east-train-0001"
    subprocess.run(["podman", "rm", "-f", "-t", "0", container], check=True, capture_output=True)
    lose_everything(lab)
    imported = grid("import", "--local", lab.name, "--spec", str(lab.spec), "--workdir", str(lab.workdir))
    assert imported.code == 0, imported.output
    assert "missing: east/train/node-0001" in imported.stdout
    plan = grid("plan", str(lab.spec), "--workdir", str(lab.workdir), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "1 to create, 0 to update, 0 to replace, 0 to delete" in plan.stdout, plan.output
    assert "east/train/node-0001" in plan.stdout
    up = grid("up", str(lab.spec), "--workdir", str(lab.workdir), "--yes", "--skip-check")
    assert up.code == 0, up.output
    now = running_containers(lab.name)
    assert now["east/train/node-0000"] == lab.ids["east/train/node-0000"]  # the others untouched
    assert set(now) == set(lab.ids)
