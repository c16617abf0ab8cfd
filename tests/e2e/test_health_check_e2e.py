"""`grid check --suite quick` on the real lab (issue 17): a 2-node Ascend pool whose nodes carry the stand-in
npu-smi/hccn_tool (the node image) and declare their NPUs through grid's node facts; real SSH, real parsers.
Healthy → exit 0; an NPU alarm on one node → exit 1 naming the node, the check, the device and the vendor's word,
recorded in `grid state history`; a link down → the link check names the device."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.resources import physical_name
from support.cli import brought_up, grid
from support.paths import EXAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBNETS = ("198.19.16.0/24", "198.19.17.0/24")  # this test's range (198.19.16.0/20), apart from other tests'
NODE = "lab/train/node-0001"


def write_spec(path: Path, name: str) -> Path:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "health" / "cluster.yaml").read_text())
    data["metadata"]["name"] = name
    region = data["spec"]["regions"][0]
    for fabric, cidr in zip(region["fabrics"], SUBNETS, strict=True):
        fabric["cidr"] = cidr
    region["pools"] = [pool for pool in region["pools"] if pool["name"] == "train"]
    train = region["pools"][0]
    train["count"] = 2
    train["accelerator"]["per_node"] = 4
    del train["update"]  # no roll here
    del data["spec"]["scheduler"]  # the quick suite needs no scheduler
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fault(name: str, address: str, line: str) -> None:
    done = subprocess.run(["podman", "exec", physical_name(name, address), "sh", "-c",
                           f"echo '{line}' > /etc/grid/faults"], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_quick_suite_finds_an_npu_alarm_and_a_link_down(tmp_path: Path) -> None:
    name = "ha-" + secrets.token_hex(3)
    spec = write_spec(tmp_path / "cluster.yaml", name)
    with brought_up(spec):
        healthy = grid("check", str(spec), "--suite", "quick")
        assert healthy.code == 0, healthy.output
        assert "2/2 node(s) pass" in healthy.stdout

        fault(name, NODE, "device 3 alarm")
        alarm = grid("check", str(spec), "--suite", "quick")
        assert alarm.code == 1, alarm.output
        line = next(li for li in alarm.stdout.splitlines() if "device.health" in li)
        assert NODE in line and "device 3" in line and "Alarm" in line, alarm.stdout
        assert "lab/train: 1 of 2 failing" in alarm.stdout and "replace node-0001" in alarm.stdout

        history = grid("state", "history", str(spec))
        assert history.code == 0, history.output
        assert "check --suite quick" in history.stdout and "health: quick suite, 1/2 node(s) passed" in history.stdout
        assert f"{NODE} device.health device 3: failed" in history.stdout
        entries = json.loads(grid("state", "history", str(spec), "--json").stdout)
        recorded = entries[-1]["health"]
        assert (recorded["suite"], recorded["nodes"], recorded["passed"]) == ("quick", 2, 1)
        assert entries[-1]["outcome"] == "failed"

        fault(name, NODE, "link 2 down")
        link = grid("check", str(spec), "--suite", "quick", "--json")
        assert link.code == 1, link.output
        document = json.loads(link.stdout)
        failed = [r for n in document["nodes"] for r in n["results"] if r["status"] == "failed"]
        assert [(r["node"], r["check"], r["device"]) for r in failed] == [(NODE, "link", "2")]
        assert document["failing"] == [NODE] and document["recorded"]
