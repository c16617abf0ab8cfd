"""grid.render.slurm_changes: what a change to Slurm's rendered configuration costs, as the plan will say it."""

from __future__ import annotations

from typing import Any

from grid.render.slurm import render_slurm
from grid.render.slurm_changes import SlurmAction, SlurmChange, classify
from grid.resources import Kind, expand
from support.paths import EXAMPLES
from support.specs import cluster_from

EXAMPLE = EXAMPLES / "slurm" / "cluster.yaml"
PRIOR = {node.address: dict(node.attrs["fabrics"])
         for node in expand(cluster_from(EXAMPLE)).of_kind(Kind.NODE)}


def rendered(edit: Any = None) -> dict[str, str]:
    """The files after `edit`, node addresses kept as state keeps them (grid.resources.expand's `prior`)."""
    cluster = cluster_from(EXAMPLE, edit)
    return render_slurm(cluster, expand(cluster, PRIOR))


def actions(changes: tuple[SlurmChange, ...]) -> list[SlurmAction]:
    return [change.action for change in changes]


def scheduler(**values: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["scheduler"].update(values)
    return edit


def pool_count(index: int, count: int) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["regions"][0]["pools"][index]["count"] = count
    return edit


BASE = rendered()


def test_nothing_changed_and_a_first_install_need_nothing() -> None:
    assert classify(BASE, rendered()) == ()
    assert classify({}, BASE) == ()


def test_a_partition_change_is_a_reconfigure_without_job_impact() -> None:
    partitions = [{"name": "train", "pools": ["train"], "default": True, "max_time": "2-00:00:00"},
                  {"name": "infer", "pools": ["infer"], "max_time": "04:00:00"}]
    (change,) = classify(BASE, rendered(scheduler(partitions=partitions)))
    assert change.action is SlurmAction.RECONFIGURE and change.reason == "partitions changed: train"
    assert str(change) == "reconfigure: no job impact (partitions changed: train)"


def test_adding_nodes_on_bookworm_restarts_slurmctld_and_every_slurmd() -> None:
    changes = classify(BASE, rendered(pool_count(1, 5)))
    assert actions(changes) == [SlurmAction.RESTART_SLURMCTLD, SlurmAction.RESTART_SLURMD]
    assert changes[0].reason == "nodes added: lab-train-0003, lab-train-0004 (Slurm 22.05 reads nodes only at start)"
    assert "running jobs continue" in changes[0].impact and "running jobs continue" in changes[1].impact


def test_adding_nodes_from_24_11_is_a_reconfigure() -> None:
    (change,) = classify(BASE, rendered(pool_count(1, 5)), version=(24, 11))
    assert change.action is SlurmAction.RECONFIGURE
    assert change.reason.startswith("nodes added: lab-train-0003, lab-train-0004; partitions changed: train")


def test_removing_nodes_names_them_and_counts_the_rest() -> None:
    changes = classify(rendered(pool_count(1, 8)), BASE)
    assert changes[0].reason.startswith("nodes removed: lab-train-0003, lab-train-0004, lab-train-0005 and 2 more")


def test_a_site_setting_needs_what_slurm_conf_5_says() -> None:
    def site(values: dict[str, Any]) -> dict[str, str]:
        return rendered(scheduler(slurm_conf={"SchedulerType": "sched/backfill", "MinJobAge": 300, **values}))
    assert actions(classify(BASE, site({"MinJobAge": 600}))) == [SlurmAction.RECONFIGURE]
    assert actions(classify(BASE, site({"MaxJobCount": 20000}))) == [SlurmAction.RESTART_SLURMCTLD]
    assert actions(classify(BASE, site({"SelectType": "select/linear"}))) == [
        SlurmAction.RESTART_SLURMCTLD, SlurmAction.RESTART_SLURMD]
    assert actions(classify(BASE, site({"JobSubmitPlugins": "lua"}))) == [  # a plugin: loaded at start
        SlurmAction.RESTART_SLURMCTLD, SlurmAction.RESTART_SLURMD]
    (change,) = classify(BASE, site({"ProctrackType": "proctrack/cgroup"}))[:1]
    assert change.reason == "ProctrackType changed"


def test_a_slurmctld_restart_keeps_the_reconfigure_slurmd_needs() -> None:
    changes = classify(BASE, rendered(scheduler(slurm_conf={"SchedulerType": "sched/builtin", "MinJobAge": 1})))
    assert [(c.action, c.reason) for c in changes] == [
        (SlurmAction.RESTART_SLURMCTLD, "SchedulerType changed"), (SlurmAction.RECONFIGURE, "MinJobAge changed")]


def test_a_new_accelerator_model_is_a_new_gres_type() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["regions"][0]["pools"][2]["accelerator"]["model"] = "h200"
    changes = classify(BASE, rendered(edit))
    assert actions(changes) == [SlurmAction.RESTART_SLURMCTLD, SlurmAction.RESTART_SLURMD]
    assert "GRES types changed: gpu:h100-sxm, gpu:h200" in changes[0].reason


def test_a_hand_edited_comment_or_spacing_changes_nothing_slurm_reads() -> None:
    edited = dict(BASE, **{"slurm.conf": BASE["slurm.conf"].replace("# nodes", "# my nodes").replace(
        "MinJobAge=300", "MinJobAge=300   # keep")})
    assert classify(BASE, edited) == ()


def test_a_topology_change_is_a_reconfigure() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["regions"][0]["pools"][1]["nodes_per_rack"] = 4
    (change,) = classify(BASE, rendered(edit))
    assert (change.action, change.reason) == (SlurmAction.RECONFIGURE, "topology.conf changed")
