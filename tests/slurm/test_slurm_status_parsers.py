"""slurm_status: parsers of sinfo/squeue output captured from a real slurmctld (tests/slurm/data/README.md);
hostlist expansion checked against what `scontrol show hostnames` printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.render.hostlist import expand_hostlist, hostlist
from grid.slurm_status import Gres, jobs_by_host, parse_gres, parse_sinfo, parse_squeue, split_state

DATA = Path(__file__).parent / "data"


def sample(name: str) -> str:
    return (DATA / name).read_text()


# What `scontrol show hostnames EXPR` printed for each expression (Slurm 22.05.8).
SCONTROL_EXPANSIONS = {
    "sq-cap-n[0000-0001],sq-cap-i0000": ["sq-cap-n0000", "sq-cap-n0001", "sq-cap-i0000"],
    "lab-train-[0000-0002,0005],lab-ctl-0000": ["lab-train-0000", "lab-train-0001", "lab-train-0002",
                                                "lab-train-0005", "lab-ctl-0000"],
    "a[8-11]": ["a8", "a9", "a10", "a11"],
    "r[1-2]-n[01-02]": ["r1-n01", "r1-n02", "r2-n01", "r2-n02"],
    "x[098-101]": ["x098", "x099", "x100", "x101"],
    "plain": ["plain"],
}


@pytest.mark.parametrize("expression", sorted(SCONTROL_EXPANSIONS))
def test_expansion_is_what_scontrol_prints(expression: str) -> None:
    assert expand_hostlist(expression) == SCONTROL_EXPANSIONS[expression]


def test_expansion_undoes_compression() -> None:
    names = [f"lab-train-{i:04d}" for i in (0, 1, 2, 5, 9, 10)] + ["lab-ctl-0000", "login"]
    assert expand_hostlist(hostlist(names)) == names
    assert expand_hostlist("") == []


def test_a_broken_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="without"):
        expand_hostlist("a[1-2")
    with pytest.raises(ValueError, match="not a number"):
        expand_hostlist("a[x-2]")


def test_states_and_flags() -> None:
    assert split_state("down*") == ("down", ("not_responding",))
    assert split_state("IDLE~") == ("idle", ("powered_off",))
    assert split_state("drained") == ("drained", ())


def test_gres_lists() -> None:
    assert parse_gres("gpu:h100-sxm:2(IDX:0,1),npu:0") == (Gres("gpu", "h100-sxm", 2), Gres("npu", "", 0))
    assert parse_gres("gpu:h100:8(S:0-1)") == (Gres("gpu", "h100", 8),)
    assert parse_gres("(null)") == ()
    assert parse_gres("gpu") == (Gres("gpu", "", 1),)


def test_idle_nodes() -> None:
    nodes = {n.name: n for n in parse_sinfo(sample("sinfo-idle.txt"))}
    assert sorted(nodes) == ["sq-cap-i0000", "sq-cap-n0000", "sq-cap-n0001"]
    train = nodes["sq-cap-n0000"]
    assert (train.state, train.flags, train.reason, train.partitions) == ("idle", (), "", ("train",))
    assert train.configured("npu", "ascend-910b") == 8 and train.in_use("npu") == 0
    assert train.usable and not train.drained
    assert nodes["sq-cap-i0000"].gres == (Gres("gpu", "h100-sxm", 2),)


def test_busy_nodes_show_gres_in_use() -> None:
    nodes = {n.name: n for n in parse_sinfo(sample("sinfo-busy.txt"))}
    assert nodes["sq-cap-i0000"].state == "mixed"
    assert nodes["sq-cap-i0000"].in_use("gpu", "h100-sxm") == 1
    assert nodes["sq-cap-n0000"].state == "allocated"
    assert nodes["sq-cap-n0000"].in_use("npu", "ascend-910b") == 8  # an exclusive partition: the whole node
    assert nodes["sq-cap-n0000"].to_dict()["gres_used"] == ["npu:ascend-910b:8"]


def test_faults() -> None:
    nodes = {n.name: n for n in parse_sinfo(sample("sinfo-faults.txt"))}
    down = nodes["sq-cap-i0000"]
    assert (down.state, down.flags, down.reason) == ("down", ("not_responding",), "Not responding")
    assert not down.responding and not down.usable
    drained = nodes["sq-cap-n0000"]
    assert (drained.state, drained.reason) == ("drained", "grid: pool train shrinks")
    assert drained.drained and not drained.usable


def test_draining_node_keeps_its_job() -> None:
    nodes = {n.name: n for n in parse_sinfo(sample("sinfo-draining.txt"))}
    assert nodes["sq-cap-n0000"].state == "draining" and nodes["sq-cap-n0000"].drained
    jobs = parse_squeue(sample("squeue-draining.txt"))
    on = jobs_by_host(jobs, ["sq-cap-n0000", "sq-cap-n0002"])
    assert [j.name for j in on["sq-cap-n0000"]] == ["trainjob2"]
    assert on["sq-cap-n0002"] == []


def test_jobs() -> None:
    jobs = {j.id: j for j in parse_squeue(sample("squeue-busy.txt"))}
    assert jobs["1"].name == "gpu job|odd name"  # the name is last: a `|` in it stays
    assert (jobs["1"].state, jobs["1"].partition, jobs["1"].nodes) == ("running", "infer", ("sq-cap-i0000",))
    assert jobs["2"].nodes == ("sq-cap-n0000", "sq-cap-n0001")
    assert (jobs["3"].state, jobs["3"].nodes) == ("pending", ())
    assert jobs["2"].to_dict()["user"] == "root"


def test_a_line_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="sinfo printed"):
        parse_sinfo("NODELIST NODES PARTITION STATE\n")
    with pytest.raises(ValueError, match="squeue printed"):
        parse_squeue("JOBID PARTITION NAME\n")
