"""Storage mounts on the clouds, under Pulumi's mocks: one volume mounted twice (ro below a subdir, rw with an
option) becomes two fstab lines in the node's cloud-init; object storage without a capacity and a node-local
scratch directory build nothing but what they need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from retarget import write_spec
from stack_mocks import run_isolated

from support.cli import grid
from support.paths import EXAMPLES


def mounted_twice(data: dict[str, Any]) -> None:
    east = data["spec"]["regions"][0]
    east["storage"] = [
        {"name": "pfs", "kind": "nfs", "capacity_tib": 64, "mounts": [
            {"path": "/checkpoints", "options": ["noatime"]},
            {"path": "/datasets", "options": ["ro"], "subdir": "datasets"}]},
        {"name": "bucket", "kind": "object", "mount": "/bucket"},
        {"name": "scratch", "kind": "local-scratch", "mounts": [{"path": "/mnt/localssd", "mode": "1777"}]}]
    east["pools"][0]["storage"] = ["pfs", "bucket", "scratch"]


@pytest.mark.parametrize("source", ["lab-aws", "lab-openstack"])
def test_two_mounts_of_one_volume_become_two_fstab_lines(tmp_path: Path, source: str) -> None:
    spec, _ = write_spec(tmp_path, EXAMPLES / "targets" / f"{source}.yaml", mounted_twice)
    run = grid("render", str(spec), "-o", str(tmp_path / "rendered"))
    assert run.code == 0, run.output
    project = tmp_path / "rendered" / "pulumi" / "east"
    result = run_isolated(projects=[str(project)], config={}, catalog=None)
    nodes = json.loads((project / "resources.json").read_text())["nodes"]
    servers = [r for r in result["resources"] if r["type"].endswith((":Instance",)) and r["name"] in
               {n["address"] for n in nodes}]
    assert len(servers) == 2
    for server in servers:
        boot = yaml.safe_load(server["inputs"]["userData"])
        mounts = {m[1]: m for m in boot["mounts"]}
        assert set(mounts) == {"/checkpoints", "/datasets"}
        checkpoints, datasets = mounts["/checkpoints"], mounts["/datasets"]
        assert checkpoints[3].endswith(",noatime") and datasets[3].endswith(",ro")
        assert datasets[0] == checkpoints[0].rstrip("/") + "/datasets"
        assert ["mkdir", "-p", "/bucket"] in boot["runcmd"]
        assert "/mnt/localssd" not in json.dumps(boot)  # the storage-client role makes it, with its mode
    volumes = [r for r in result["resources"] if r["type"].endswith((":FileSystem", ":Share"))]
    assert len(volumes) == 1  # one volume for both mounts; none for scratch
