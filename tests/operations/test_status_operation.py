"""grid status: the status built from a state, the example's expansion and what Slurm said (the sinfo/squeue
samples of a real slurmctld, renamed onto the example's nodes); its text lines and JSON; a cluster not up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from grid.cli.views.status import status_lines
from grid.operations.status import SlurmSeen, Status, status_of
from grid.resources import expand
from grid.slurm_status import parse_sinfo, parse_squeue
from grid.state.model import ChangeRecord, HistoryEntry, HostRecord, State
from support.cli import invoke
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from

EXAMPLE = EXAMPLES / "slurm" / "cluster.yaml"
DATA = Path(__file__).parents[1] / "slurm" / "data"
# The captured cluster's nodes as the example's: its two npu nodes are train nodes, its gpu node an infer node.
RENAMED = {"sq-cap-n0000": "lab-train-0000", "sq-cap-n0001": "lab-train-0001", "sq-cap-i0000": "lab-infer-0000",
           "sq-cap-n[0000-0001]": "lab-train-[0000-0001]"}


def captured(name: str) -> str:
    text = (DATA / name).read_text()
    for old, new in sorted(RENAMED.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    return text


def state_with_history(state: State) -> State:
    host = next(iter(a for a, r in state.resources.items() if r.kind == "node" and a == "lab/train/node-0001"))
    return state.model_copy(update={
        "history": [HistoryEntry(serial=3, at="2026-12-05T07:10:00Z", command="up", user="ana",
                                 changes=[ChangeRecord(address=host, action="create")])],
        "hosts": {host: HostRecord(address=host, status="drifted", drift=["Slurm daemons: slurmd down"])}})


def busy_status() -> Status:
    cluster = cluster_from(EXAMPLE)
    graph = expand(cluster)
    seen = SlurmSeen("lab-ctl-0000", parse_sinfo(captured("sinfo-busy.txt")),
                     parse_squeue(captured("squeue-busy.txt")))
    return status_of(cluster, state_with_history(applied_state(graph)), 3, graph, seen)


def test_partitions_jobs_capacity_and_drift() -> None:
    found = busy_status()
    assert found.nodes == 6 and found.serial == 3
    assert found.last_apply is not None and (found.last_apply.user, found.last_apply.changes) == ("ana", 1)
    scheduler = found.scheduler
    assert scheduler is not None and not scheduler.error
    train, infer = scheduler.partitions
    assert (train.name, train.default) == ("train", True)
    assert [(n.hostname, n.state, n.jobs) for n in train.nodes] == [
        ("lab-train-0000", "allocated", 1), ("lab-train-0001", "allocated", 1),
        ("lab-train-0002", "unknown to slurm", 0)]  # the sample had two train nodes; the spec has three
    assert infer.nodes[0].state == "mixed"
    assert (scheduler.running, scheduler.pending) == (2, 1)
    assert [c.to_dict() for c in found.capacity] == [
        {"region": "lab", "total": 3 * 8 + 2 * 2, "allocated": 8 + 8 + 1, "models": ["ascend-910b", "h100-sxm"]}]
    assert [d.status for d in found.drift] == ["drifted"]


def test_text_is_one_screen() -> None:
    text = "\n".join(line for line, _ in status_lines(busy_status(), spec_path="cluster.yaml"))
    assert "Cluster slurm-lab: 6 node(s), state serial 3" in text
    assert "last apply: serial 3, 2026-12-05T07:10:00Z, `grid up` by ana: applied, 1 change(s)" in text
    assert "partition train (default): 3 node(s)" in text
    assert "allocated            2  lab-train-[0000-0001]" in text
    assert "unknown to slurm     1  lab-train-0002" in text
    assert "jobs: 2 running, 1 pending" in text
    assert "gpu job|odd name" in text
    assert "lab: 17/28 (ascend-910b, h100-sxm)" in text
    assert "Slurm daemons: slurmd down" in text
    assert len(text.splitlines()) < 30


def test_json_document() -> None:
    document = json.loads(json.dumps(busy_status().to_dict()))
    assert document["scheduler"]["jobs"]["running"] == 2
    assert document["scheduler"]["jobs"]["shown"][1]["nodes"] == "lab-train-[0000-0001]"
    assert document["scheduler"]["partitions"][1]["nodes"][0] == {
        "hostname": "lab-infer-0000", "state": "mixed", "flags": [], "reason": "", "jobs": 1}
    assert document["capacity"][0]["allocated"] == 17 and document["drift"][0]["status"] == "drifted"


def test_faults_show_state_flags_and_reasons() -> None:
    cluster = cluster_from(EXAMPLE)
    graph = expand(cluster)
    seen = SlurmSeen("lab-ctl-0000", parse_sinfo(captured("sinfo-faults.txt")),
                     parse_squeue(captured("squeue-faults.txt")))
    found = status_of(cluster, applied_state(graph), 1, graph, seen)
    text = "\n".join(line for line, _ in status_lines(found, spec_path="c.yaml"))
    assert "down (not_responding)   1  lab-infer-0000 — Not responding" in text
    assert "drained              1  lab-train-0000 — grid: pool train shrinks" in text
    assert "jobs: 0 running, 2 pending" in text


def test_slurm_that_does_not_answer_and_no_scheduler() -> None:
    cluster = cluster_from(EXAMPLE)
    graph = expand(cluster)
    state = applied_state(graph)
    found = status_of(cluster, state, 1, graph, SlurmSeen("lab-ctl-0000", error="Slurm on lab-ctl-0000 did not "
                                                                                "answer `sinfo`: refused"))
    text = "\n".join(line for line, _ in status_lines(found, spec_path="c.yaml"))
    assert "Slurm (controller lab-ctl-0000): no answer" in text and "lab: ?/28" in text
    assert found.to_dict()["capacity"][0]["allocated"] is None
    plain = status_of(cluster, state, 1, graph, None)
    assert plain.scheduler is None and plain.to_dict()["scheduler"] is None
    assert "last apply: none recorded" in "\n".join(line for line, _ in status_lines(plain, spec_path="c.yaml"))


def test_a_cluster_not_up_is_said_plainly(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLE, spec)
    done = invoke("status", str(spec), "--workdir", str(tmp_path / "wd"))
    assert done.code == 1
    assert "cluster slurm-lab is not up" in done.stderr and "grid up" in done.stderr
    assert "Traceback" not in done.output
