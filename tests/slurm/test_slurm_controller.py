"""drivers.slurm.SlurmController: the commands it sends to the controller and what it makes of the answers
(a scripted remote shell answering with output captured from a real slurmctld)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from grid.drivers.slurm import SlurmController, SlurmUnavailable, controller_of
from grid.resources import expand
from support.paths import EXAMPLES
from support.specs import cluster_from

DATA = Path(__file__).parent / "data"


class Scripted:
    def __init__(self, sinfo: str = "sinfo-idle.txt", squeue: str = "squeue-busy.txt") -> None:
        self.sinfo, self.squeue = (DATA / sinfo).read_text(), (DATA / squeue).read_text()
        self.asked: list[tuple[str, str, str]] = []
        self.fail: dict[str, tuple[int, str]] = {}

    def run(self, host: str, address: str, command: str) -> tuple[int, str]:
        self.asked.append((host, address, command))
        word = command.split()[0]
        if word in self.fail:
            return self.fail[word]
        if word == "sinfo":
            return 0, self.sinfo
        if word == "squeue":
            return 0, self.squeue
        return 0, ""


def test_nodes_jobs_and_jobs_on_hosts() -> None:
    remote = Scripted()
    slurm = SlurmController(remote, "sq-cap-ctl", "198.19.95.10")
    assert [n.name for n in slurm.nodes()] == ["sq-cap-i0000", "sq-cap-n0000", "sq-cap-n0001"]
    assert remote.asked[0][:2] == ("sq-cap-ctl", "198.19.95.10")
    assert shlex.split(remote.asked[0][2])[:4] == ["sinfo", "-h", "-N", "-O"]
    on = slurm.jobs_on(["sq-cap-n0001", "sq-cap-x"])
    assert [j.id for j in on["sq-cap-n0001"]] == ["2"] and on["sq-cap-x"] == []


def test_drain_and_resume() -> None:
    remote = Scripted(sinfo="sinfo-faults.txt")
    slurm = SlurmController(remote, "ctl", "10.0.0.1", sudo=True)
    slurm.drain(["sq-cap-n0000", "sq-cap-n0001"], "grid: pool train shrinks")
    assert shlex.split(remote.asked[-1][2]) == [
        "sudo", "-n", "scontrol", "update", "nodename=sq-cap-n[0000-0001]", "state=drain",
        "reason=grid: pool train shrinks"]
    slurm.drain([], "nothing")
    assert len(remote.asked) == 1
    slurm.resume(["sq-cap-n0000", "sq-cap-n0001", "sq-cap-i0000"])  # drained, idle, down*
    assert shlex.split(remote.asked[-1][2])[2:] == ["scontrol", "update", "nodename=sq-cap-n0000,sq-cap-i0000",
                                                    "state=resume"]
    with pytest.raises(SlurmUnavailable, match="does not know sq-cap-x"):
        slurm.resume(["sq-cap-x"])


def test_srun_gives_up_on_its_own() -> None:
    remote = Scripted()
    slurm = SlurmController(remote, "ctl", "10.0.0.1")
    slurm.srun("echo hi > /home/shared/x", partition="train", nodes=2, hostnames=["a1", "a2"],
               gres="npu:ascend-910b:8", wait=20, seconds=30)
    assert shlex.split(remote.asked[-1][2]) == [
        "timeout", "50", "srun", "--immediate=20", "-t", "1", "-N", "2", "--ntasks-per-node=1", "-p", "train",
        "-w", "a[1-2]", "--gres=npu:ascend-910b:8", "sh", "-c", "echo hi > /home/shared/x"]


def test_a_slurm_that_does_not_answer() -> None:
    remote = Scripted()
    remote.fail["sinfo"] = (1, "slurm_load_partitions: Unable to contact slurm controller (connect failure)\n")
    with pytest.raises(SlurmUnavailable, match="Unable to contact slurm controller") as raised:
        SlurmController(remote, "ctl", "10.0.0.1").nodes()
    assert "grid up" in raised.value.hint


def test_the_controller_of_the_example() -> None:
    cluster = cluster_from(EXAMPLES / "slurm" / "cluster.yaml")
    slurm = controller_of(cluster, expand(cluster), Scripted())
    assert slurm.hostname == "lab-ctl-0000" and slurm.address.startswith("198.18.17.")
