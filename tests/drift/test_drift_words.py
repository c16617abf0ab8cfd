"""What a drifted task found, in words: the slurm role's tasks in check mode, and the report's findings."""

from __future__ import annotations

from grid.drift import drift_report
from grid.drift_words import findings
from grid.plan import make_plan
from grid.plan.diff import LiveHost
from grid.resources import expand
from grid.spec import spec_digest
from support.paths import LOCAL_LAB
from support.specs import applied_state, cluster_from

OUT = ("slurm : Out of service in Slurm, not by grid: lab-train-0001 DRAIN in Slurm (reason: 'bad disk', not "
       "grid's); lab-train-0002 DOWN in Slurm (reason: 'x, y', not grid's)")


def test_each_slurm_case_reads_as_what_an_operator_would_say() -> None:
    assert findings(("slurm : Slurmd running",), "lab-train-0000") == ("slurmd down on lab-train-0000",)
    assert findings(("slurm : Slurmctld running", "slurm : Munged running"), "lab-ctl-0000") == (
        "slurmctld down on lab-ctl-0000", "munged down on lab-ctl-0000")
    assert findings(("slurm : Slurm's files differ from grid's: slurm.conf",), "lab-ctl-0000") == (
        "slurm.conf edited on lab-ctl-0000 (differs from what grid renders)",)
    assert findings(("slurm : Slurm action left undone: restart",), "n") == (
        "Slurm restart left undone on n by an interrupted run",)
    assert findings(("slurm : Munge key",), "n") == ("munge key on n is not the cluster's (replaced by hand)",)
    assert findings(("slurm : Slurm's files differ from grid's: gres.conf, topology.conf",), "n") == (
        "gres.conf edited on n (differs from what grid renders)",
        "topology.conf edited on n (differs from what grid renders)")


def test_nodes_out_of_service_are_one_finding_each() -> None:
    assert findings((OUT,), "lab-ctl-0000") == ("lab-train-0001 DRAIN in Slurm (reason: 'bad disk', not grid's)",
                                                "lab-train-0002 DOWN in Slurm (reason: 'x, y', not grid's)")


def test_other_tasks_are_named_as_they_are() -> None:
    assert findings(("base : sysctl", "Slurmd running"), "n") == ("task changed: base : sysctl",
                                                                  "task changed: Slurmd running")


def test_the_report_carries_the_findings_with_the_hosts_name() -> None:
    cluster = cluster_from(LOCAL_LAB)
    state = applied_state(expand(cluster))
    plan = make_plan(expand(cluster, state.allocations()), state, target="local", spec_digest=spec_digest(cluster),
                     live={})
    node = next(a for a, r in state.resources.items() if r.kind == "node")
    report = drift_report(plan, state, {node: LiveHost(drifted_tasks=("slurm : Slurmd running",))})
    hostname = state.resources[node].attrs["hostname"]
    (item,) = report.items
    assert item.findings == (f"slurmd down on {hostname}",)
    assert report.to_dict()["items"][0]["findings"] == [f"slurmd down on {hostname}"]
