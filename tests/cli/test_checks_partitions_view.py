"""The checks view with Slurm's partitions: a line per partition with its problems, a count; JSON has them."""

from __future__ import annotations

import pytest

from grid.check import NodeReport
from grid.check_slurm import PartitionReport
from grid.cli.views.checks import ChecksView
from grid.operations import Checks


def checks() -> Checks:
    node = NodeReport("lab/train/node-0000", "lab-train-0000", {"ssh": True})
    train = PartitionReport("train", ("lab-train-0000", "lab-train-0001"), {"slurm:nodes": True, "slurm:srun": True})
    infer = PartitionReport("infer", ("lab-infer-0000",))
    infer.record("slurm:nodes", False, "lab-infer-0000: drained: operator: bad fan")
    return Checks("lab", (node,), (train, infer))


def test_text(capsys: pytest.CaptureFixture[str]) -> None:
    found = checks()
    view = ChecksView()
    view.node(found.nodes[0])
    for partition in found.partitions:
        view.partition(partition)
    view.summary(found)
    out = capsys.readouterr().out
    assert "Slurm jobs per partition:\n  ✓ train (2 node(s)): 2/2 checks\n  ✗ infer (1 node(s)): 0/1 checks\n" in out
    assert "      lab-infer-0000: drained: operator: bad fan" in out
    assert out.endswith("1/1 node(s) pass\n1/2 partition(s) pass\n")


def test_a_slow_partition_says_how_long_it_took(capsys: pytest.CaptureFixture[str]) -> None:
    view = ChecksView()
    view.partition(PartitionReport("train", ("lab-train-0000",), {"slurm:srun": True}, seconds=42.4))
    view.partition(PartitionReport("infer", ("lab-infer-0000",), {"slurm:srun": True}, seconds=3.0))
    out = capsys.readouterr().out
    assert "✓ train (1 node(s)): 1/1 checks in 42 s\n" in out and "✓ infer (1 node(s)): 1/1 checks\n" in out


def test_json_and_ok() -> None:
    found = checks()
    assert not found.ok
    document = found.to_dict()
    assert [p["name"] for p in document["partitions"]] == ["train", "infer"]
    assert document["partitions"][1] == {"name": "infer", "nodes": ["lab-infer-0000"], "ok": False,
                                         "checks": {"slurm:nodes": False},
                                         "problems": ["lab-infer-0000: drained: operator: bad fan"],
                                         "seconds": 0.0}
    assert "partitions" not in Checks("lab", found.nodes).to_dict()  # no scheduler: the document as before
