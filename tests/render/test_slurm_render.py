"""grid.render.slurm: slurm.conf, gres.conf and topology.conf of the Slurm example (golden) and of the shapes
people write: HA controllers, several regions, rail-optimized and three-tier fabrics, clouds."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grid.render.hostlist import hostlist
from grid.render.slurm import FIXED, LAB_DEFAULTS, gres_name, render_slurm
from grid.resources import expand
from grid.spec import load_spec_text, slurm_keys
from grid.spec.model import Cluster
from grid.validate import validate
from support.golden import assert_golden, tree_text
from support.paths import EXAMPLES
from support.specs import cluster_from

EXAMPLE = EXAMPLES / "slurm" / "cluster.yaml"


def example(edit: Any = None) -> Cluster:
    return cluster_from(EXAMPLE, edit)


def files(cluster: Cluster) -> dict[str, str]:
    return render_slurm(cluster, expand(cluster))


def lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_the_example_renders_the_golden_files(update_golden: bool) -> None:
    assert_golden("render-slurm.txt", tree_text(files(example())), update=update_golden)


def test_rendering_twice_and_from_reformatted_yaml_gives_the_same_bytes() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert files(example()) == files(example()) == files(cluster_from(yaml.safe_load(yaml.safe_dump(data))))


def test_nodes_are_grid_hostnames_at_their_connect_address_with_gres_by_vendor() -> None:
    conf = files(example())["slurm.conf"]
    assert lines(conf, "NodeName=lab-train-0000") == [
        "NodeName=lab-train-0000 NodeAddr=198.18.17.3 CPUs=1 RealMemory=256 Gres=npu:ascend-910b:8 State=UNKNOWN"]
    assert lines(conf, "SlurmctldHost=") == ["SlurmctldHost=lab-ctl-0000(198.18.17.2)"]
    assert not lines(conf, "NodeName=lab-ctl")  # the controller runs no jobs here


@pytest.mark.parametrize(("model", "name"), [("h100-sxm", "gpu"), ("mi300x", "gpu"), ("ascend-910b", "npu"),
                                             ("gaudi3-oam", "hpu"), ("mlu590", "mlu"), ("kunlunxin-p800", "xpu"),
                                             ("hygon-k100", "dcu"), ("metax-c500", "gpu"), ("not-known", "gpu")])
def test_gres_names_follow_the_vendor(model: str, name: str) -> None:
    assert gres_name(model) == name


def test_site_lines_override_lab_defaults_once() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["scheduler"]["slurm_conf"] = {"proctracktype": "proctrack/cgroup", "TaskPlugin": "task/cgroup",
                                                   "DisableRootJobs": True}
    rendered = files(example(edit))
    conf = rendered["slurm.conf"]
    assert lines(conf, "ProctrackType=") == ["ProctrackType=proctrack/cgroup"]
    assert lines(conf, "TaskPlugin=") == ["TaskPlugin=task/cgroup"]
    assert lines(conf, "DisableRootJobs=") == ["DisableRootJobs=YES"]  # a YAML boolean, as Slurm writes it
    assert "ConstrainCores=yes" in rendered["cgroup.conf"]
    assert "cgroup.conf" not in files(example())


def test_every_key_grid_writes_itself_is_one_the_site_cannot_set() -> None:
    for key, _ in FIXED:
        assert slurm_keys.owned(key), key
    for key, _ in LAB_DEFAULTS:
        assert slurm_keys.canonical(key) == key and not slurm_keys.owned(key), key


def test_ha_writes_two_controllers_and_a_database_its_host() -> None:
    def edit(data: dict[str, Any]) -> None:
        pools = data["spec"]["regions"][0]["pools"]
        pools[0]["count"] = 2
        pools.append({"name": "db", "count": 1, "fabrics": ["mgmt"]})
        data["spec"]["scheduler"]["controller"]["ha"] = True
        data["spec"]["scheduler"]["database"] = {"pool": "db"}
    conf = files(example(edit))["slurm.conf"]
    assert lines(conf, "SlurmctldHost=") == ["SlurmctldHost=lab-ctl-0000(198.18.17.2)",
                                             "SlurmctldHost=lab-ctl-0001(198.18.17.3)"]
    assert lines(conf, "AccountingStorage") == ["AccountingStorageType=accounting_storage/slurmdbd",
                                                "AccountingStorageHost=198.18.17.9"]


def test_derived_partitions_leave_out_service_pools_and_make_the_first_default() -> None:
    def edit(data: dict[str, Any]) -> None:
        del data["spec"]["scheduler"]["partitions"]
    conf = files(example(edit))["slurm.conf"]
    assert lines(conf, "PartitionName=") == [
        "PartitionName=train Nodes=lab-train-[0000-0002] Default=YES MaxTime=UNLIMITED State=UP",
        "PartitionName=infer Nodes=lab-infer-[0000-0001] Default=NO MaxTime=UNLIMITED State=UP"]


def test_a_cloud_target_writes_no_cpus_or_memory_grid_does_not_know() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["target"] = "aws"
        for pool in data["spec"]["regions"][0]["pools"]:
            pool["instance_types"] = {"aws": "p5.48xlarge"}
    node = lines(files(example(edit))["slurm.conf"], "NodeName=lab-infer-0000")[0]
    assert "CPUs=" not in node and "RealMemory=" not in node and "Gres=gpu:h100-sxm:2" in node


def _topology(kind: str, tiers: int, count: int, *, radix: int = 64) -> list[str]:
    def edit(data: dict[str, Any]) -> None:
        region = data["spec"]["regions"][0]
        region["fabrics"][0]["topology"] = {"kind": kind, "tiers": tiers, "switch_radix": radix}
        region["fabrics"][0]["cidr"] = "198.18.16.0/22"
        region["pools"][1]["count"] = count
    return lines(files(example(edit))["topology.conf"], "SwitchName=")


def test_fat_tree_two_tiers_has_a_leaf_per_rack_under_a_spine() -> None:
    assert _topology("fat-tree", 2, 5) == [
        "SwitchName=lab-train-rack00 Nodes=lab-train-[0000-0001]",
        "SwitchName=lab-train-rack01 Nodes=lab-train-[0002-0003]",
        "SwitchName=lab-train-rack02 Nodes=lab-train-0004",
        "SwitchName=lab-compute-spine Switches=lab-train-rack00,lab-train-rack01,lab-train-rack02",
        "SwitchName=lab-infer-rack00 Nodes=lab-infer-[0000-0001]",
        "SwitchName=lab Switches=lab-compute-spine,lab-infer-rack00"]


def test_three_tiers_group_leaves_in_pods_of_half_the_radix_under_a_core() -> None:
    switches = _topology("fat-tree", 3, 9, radix=4)  # 5 racks of 2, pods of 2 leaves
    assert "SwitchName=lab-compute-pod00 Switches=lab-train-rack00,lab-train-rack01" in switches
    assert "SwitchName=lab-compute-pod02 Switches=lab-train-rack04" not in switches  # a lone leaf is its own pod
    assert "SwitchName=lab-compute-core Switches=lab-compute-pod00,lab-compute-pod01,lab-train-rack04" in switches


def test_rail_optimized_is_one_switch_per_rail_group_under_a_spine() -> None:
    switches = _topology("rail-optimized", 2, 6, radix=4)
    assert switches[:3] == ["SwitchName=lab-compute-rail-group00 Nodes=lab-train-[0000-0003]",
                            "SwitchName=lab-compute-rail-group01 Nodes=lab-train-[0004-0005]",
                            "SwitchName=lab-compute-spine Switches=lab-compute-rail-group00,lab-compute-rail-group01"]


def test_single_switch_holds_every_node_of_the_fabric() -> None:
    assert _topology("single-switch", 2, 3)[0] == "SwitchName=lab-compute Nodes=lab-train-[0000-0002]"


def test_regions_have_no_common_switch() -> None:
    def edit(data: dict[str, Any]) -> None:
        west = {"name": "west", "site": {"power_mw": 0.5}, "fabrics": [{"name": "mgmt", "cidr": "198.18.18.0/24"}],
                "pools": [{"name": "cpu", "count": 2, "fabrics": ["mgmt"]}]}
        data["spec"]["regions"].append(west)
        data["spec"]["scheduler"]["partitions"].append({"name": "west", "pools": ["cpu"]})
    text = files(example(edit))["topology.conf"]
    assert "# region west\nSwitchName=west-cpu-rack00 Nodes=west-cpu-[0000-0001]\n" in text
    assert not [line for line in lines(text, "SwitchName=") if "lab" in line and "west" in line]


@pytest.mark.parametrize(("names", "expected"), [
    (["a-0000", "a-0001", "a-0002", "a-0005"], "a-[0000-0002,0005]"),
    (["a-0007"], "a-0007"),
    (["x-0001", "y", "x-0002"], "x-[0001-0002],y"),
    (["n9", "n10"], "n9,n10"),  # different widths are different groups: Slurm keeps widths
])
def test_hostlists_fold_ranges_and_keep_leading_zeros(names: list[str], expected: str) -> None:
    assert hostlist(names) == expected


REFS = ("ctl", "train", "infer", "lab/train", "lab/infer", "west/cpu", "cpu", "nope")


@st.composite
def schedulers(draw: st.DrawFn) -> dict[str, Any]:
    """Scheduler sections over the example's pools (and a second region's), often wrong."""
    controller = draw(st.sampled_from(("ctl", "ctl", "ctl", *REFS)))  # mostly right, so that many validate
    section: dict[str, Any] = {"kind": "slurm", "controller": {"pool": controller, "ha": draw(st.sampled_from(
        (False, False, False, True)))}}
    if draw(st.booleans()):
        section["login"] = {"pools": draw(st.lists(st.sampled_from(REFS), min_size=1, max_size=2))}
    if draw(st.booleans()):
        section["partitions"] = [
            {"name": name, "pools": draw(st.lists(st.sampled_from(REFS), min_size=1, max_size=2)),
             "default": draw(st.booleans()), "exclusive": draw(st.sampled_from((False, False, True))),
             "max_time": draw(st.sampled_from(("UNLIMITED", "90", "1-00:00:00", "25:61")))}
            for name in draw(st.lists(st.sampled_from(("a", "b", "gpu")), min_size=1, max_size=3))]
    section["slurm_conf"] = draw(st.dictionaries(st.sampled_from(("MinJobAge", "nodename", "TaskPlugin", "Foo")),
                                                 st.sampled_from(("1", "task/cgroup")), max_size=2))
    return section


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(schedulers(), st.integers(0, 3))
def test_every_scheduler_validate_accepts_renders_the_same_bytes_twice(section: dict[str, Any], cpu: int) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["regions"].append({
            "name": "west", "site": {"power_mw": 0.5}, "fabrics": [{"name": "mgmt", "cidr": "198.18.18.0/24"}],
            "pools": [{"name": "cpu", "count": cpu, "fabrics": ["mgmt"]}]})
        data["spec"]["scheduler"] = section
    loaded = load_spec_text(yaml.safe_dump(cluster_from(EXAMPLE, edit).model_dump(mode="json")), "c.yaml")
    if validate(loaded).has_errors:
        return
    assert loaded.cluster is not None
    first = files(loaded.cluster)
    assert first == files(loaded.cluster) and "slurm.conf" in first
    assert all(line.count("=") >= 1 for line in first["slurm.conf"].splitlines() if not line.startswith("#"))
