"""check_slurm: the per-partition Slurm checks against a fake Slurm answering as the example's cluster would
(hostnames from srun, one shared /home/shared, GRES from the spec); faults replace its answers."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

from grid.check_slurm import PartitionReport, check_partitions, unanswered
from grid.render.hostlist import expand_hostlist
from grid.render.slurm import slurm_nodes
from grid.resources import Kind, ResourceGraph, expand
from grid.slurm_status import Gres, SlurmNodeState
from grid.spec.model import Cluster
from support.paths import EXAMPLES
from support.specs import cluster_from

EXAMPLE = EXAMPLES / "slurm" / "cluster.yaml"


class FakeSlurm:
    """Nodes of the spec idle in their partitions; srun runs `hostname`, writes and reads of one shared file
    system, as the allocated nodes would. `states`, `gres` and `refuse` change what it says."""

    def __init__(self, cluster: Cluster, graph: ResourceGraph) -> None:
        self.partition_of = {n.hostname: ("train" if n.pool[1] == "train" else "infer")
                             for n in slurm_nodes(cluster, graph)}
        self.gres = {n.hostname: (Gres(*n.gres),) if n.gres else () for n in slurm_nodes(cluster, graph)}
        self.states: dict[str, tuple[str, tuple[str, ...], str]] = {}
        self.refuse: dict[str, tuple[int, str]] = {}  # partition -> srun's answer
        self.blind: set[str] = set()  # hosts that do not see the shared file
        self.files: dict[str, str] = {}
        self.submitted: list[tuple[str, str, int, tuple[str, ...], str]] = []
        self.asked = 0

    def nodes(self) -> list[SlurmNodeState]:
        self.asked += 1
        return [SlurmNodeState(host, *self.states.get(host, ("idle", (), "")), (part,), self.gres[host])
                for host, part in self.partition_of.items()]

    def srun(self, command: str, *, partition: str, nodes: int, hostnames: Sequence[str] = (),
             gres: str = "") -> tuple[int, str]:
        self.submitted.append((command, partition, nodes, tuple(hostnames), gres))
        if partition in self.refuse:
            return self.refuse[partition]
        hosts = list(hostnames) or [h for h, p in self.partition_of.items() if p == partition][:nodes]
        if gres:
            name, kind, count = gres.split(":")
            if any(self.gres[h] != (Gres(name, kind, int(count)),) for h in hosts):
                return 1, "srun: error: Unable to allocate resources: Requested node configuration is not available"
        if command == "hostname":
            return 0, "".join(f"{h}\n" for h in reversed(hosts))
        if written := re.match(r"echo (\w+) > (\S+)$", command):
            self.files[shlex.split(written[2])[0]] = written[1]
            return 0, ""
        if removed := re.match(r"rm -f (\S+)$", command):
            self.files.pop(shlex.split(removed[1])[0], None)
            return 0, ""
        path = shlex.split(re.search(r"cat (\S+)", command)[1])[0]  # type: ignore[index]
        lines = []
        for host in hosts:  # each node runs the whole command in turn: a file one removes is gone for the next
            lines.append(f"{host} {self.files.get(path, 'missing') if host not in self.blind else 'missing'}\n")
            if "rm -f" in command:
                self.files.pop(path, None)
        return 0, "".join(lines)


def cluster_and_slurm() -> tuple[Cluster, ResourceGraph, set[str], FakeSlurm]:
    cluster = cluster_from(EXAMPLE)
    graph = expand(cluster)
    return cluster, graph, {n.address for n in graph.of_kind(Kind.NODE)}, FakeSlurm(cluster, graph)


def reports(cluster: Cluster, graph: ResourceGraph, existing: set[str], slurm: Any) -> dict[str, PartitionReport]:
    return {r.name: r for r in check_partitions(cluster, graph, existing, slurm, settle_seconds=0)}


def test_a_healthy_cluster_passes_every_partition() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    found = reports(cluster, graph, existing, slurm)
    assert list(found) == ["train", "infer"]
    train = found["train"]
    assert train.ok, train.problems
    assert set(train.checks) == {"slurm:nodes", "slurm:srun", "slurm:storage:home",
                                 "slurm:gres:npu:ascend-910b"}
    assert train.hostnames == ("lab-train-0000", "lab-train-0001", "lab-train-0002")
    assert found["infer"].ok and "slurm:gres:gpu:h100-sxm" in found["infer"].checks
    assert slurm.files == {}  # the probe files are removed
    jobs = [(c.split()[0], p, n, h, g) for c, p, n, h, g in slurm.submitted if p == "train"]
    assert ("hostname", "train", 3, (), "") in jobs
    assert ("hostname", "train", 3, train.hostnames, "npu:ascend-910b:8") in jobs  # GRES per node, all nodes
    assert train.to_dict()["ok"] is True and train.to_dict()["nodes"] == list(train.hostnames)


def test_without_a_scheduler_there_is_nothing_to_check() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    plain = cluster.model_copy(update={"spec": cluster.spec.model_copy(update={"scheduler": None})})
    assert check_partitions(plain, graph, existing, slurm) == []


def test_a_drained_node_is_reported_and_no_job_waits_for_it() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.states["lab-train-0001"] = ("drained", (), "operator: bad fan")
    slurm.states["lab-infer-0000"] = ("down", ("not_responding",), "Not responding")
    found = reports(cluster, graph, existing, slurm)
    assert "lab-train-0001: drained: operator: bad fan" in found["train"].problems
    assert "lab-infer-0000: down (not_responding): Not responding" in found["infer"].problems
    assert not found["train"].ok and not found["infer"].ok
    assert slurm.submitted == []


def test_a_node_still_registering_is_waited_for() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.states["lab-train-0000"] = ("unknown", ("not_responding",), "")
    slept: list[float] = []

    def registered(seconds: float) -> None:
        slept.append(seconds)
        slurm.states.clear()

    found = check_partitions(cluster, graph, existing, slurm, settle_seconds=10, sleep=registered)
    assert all(r.ok for r in found) and slept == [2.0] and slurm.asked == 2


def test_a_busy_partition_reports_what_srun_said() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.refuse["infer"] = (1, "srun: job 7 queued and waiting for resources\n"
                                "srun: error: Unable to allocate resources: Requested nodes are busy\n")
    found = reports(cluster, graph, existing, slurm)
    assert found["train"].ok
    assert found["infer"].problems == ["srun -N2 -p infer hostname: srun: error: Unable to allocate resources: "
                                       "Requested nodes are busy (jobs hold its nodes: `grid status SPEC` shows "
                                       "them)"]
    assert [s for s in slurm.submitted if s[1] == "infer"] == [("hostname", "infer", 2, (), "")]  # no more jobs


def test_a_stuck_job_is_ended_and_said_so() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.refuse["train"] = (124, "")
    found = reports(cluster, graph, existing, slurm)
    assert "did not finish in time" in found["train"].problems[0]


def test_srun_error_line_is_preferred_to_its_last_words() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.refuse["infer"] = (1, "srun: error: Task launch for StepId=12.0 failed on node lab-infer-0001: "
                                "Communication connection failure\nsrun: Job step aborted\n")
    found = reports(cluster, graph, existing, slurm)
    assert found["infer"].problems[0].endswith("failed on node lab-infer-0001: Communication connection failure")


def test_a_node_that_does_not_see_the_shared_file() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.blind.add("lab-train-0002")
    found = reports(cluster, graph, existing, slurm)
    assert found["train"].checks["slurm:storage:home"] is False
    assert found["train"].problems == ["home: a file a job wrote on lab-train-0000 is not seen by jobs on "
                                       "lab-train-0002"]


def test_gres_that_are_not_the_specs() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    slurm.gres["lab-infer-0001"] = (Gres("gpu", "h100-sxm", 1),)
    found = reports(cluster, graph, existing, slurm)
    problems = found["infer"].problems
    assert "lab-infer-0001: Slurm has 1 gpu:h100-sxm, the spec says 2" in problems
    assert any("--gres=gpu:h100-sxm:2 on 2 node(s): srun: error" in p for p in problems)


def test_a_node_slurm_does_not_know_and_a_node_not_made() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    del slurm.partition_of["lab-train-0002"]
    missing = next(n.address for n in graph.of_kind(Kind.NODE) if n.attrs["hostname"] == "lab-infer-0001")
    found = reports(cluster, graph, existing - {missing}, slurm)
    assert any("lab-train-0002: Slurm does not know it" in p for p in found["train"].problems)
    assert found["infer"].hostnames == ("lab-infer-0000",) and found["infer"].ok


def test_hostlists_of_the_jobs_expand_to_the_partition() -> None:
    cluster, graph, existing, slurm = cluster_and_slurm()
    found = reports(cluster, graph, existing, slurm)
    assert expand_hostlist(",".join(found["train"].hostnames)) == list(found["train"].hostnames)


def test_a_slurm_that_does_not_answer_fails_every_partition() -> None:
    cluster, graph, existing, _ = cluster_and_slurm()
    found = {r.name: r for r in unanswered(cluster, graph, existing, "Slurm on lab-ctl-0000 did not answer")}
    assert found["train"].hostnames == ("lab-train-0000", "lab-train-0001", "lab-train-0002")
    assert found["infer"].problems == ["Slurm on lab-ctl-0000 did not answer"] and not found["infer"].ok
