"""Judgements: thresholds per model family, declared vs found, disk, clock, and a node's whole suite."""

from __future__ import annotations

import pytest

from grid.health.judge import clock_offset, judge_clock, judge_devices, judge_disk, names_model, parse_df
from grid.health.results import CheckResult, DeviceReading, Status, UnreadableOutput, worst
from grid.health.suites import FAMILY_SUITES, ProbeOutput, Suite, family_of, judge_node, probes_for
from grid.health.thresholds import DEFAULT_THRESHOLDS, THRESHOLDS, thresholds_for
from grid.physics.catalog import default_catalog, model_family


def _status(results: list[CheckResult] | tuple[CheckResult, ...], check: str, device: str = "") -> Status:
    return next(r.status for r in results if r.check == check and r.device == device)


def test_every_threshold_family_is_a_catalog_family_and_models_find_theirs() -> None:
    families = {model_family(m) for m in default_catalog().ids()}
    assert set(THRESHOLDS) <= families
    assert thresholds_for("mi300x").temperature_failed_c == 105
    assert thresholds_for("ascend-910c") == thresholds_for("ascend-910b")
    assert thresholds_for("gaudi3-oam") == DEFAULT_THRESHOLDS and thresholds_for(None) == DEFAULT_THRESHOLDS


def test_families_follow_the_catalog_vendor() -> None:
    assert [family_of(m) for m in ("h100-sxm", "ascend-910b", "mlu590", "hygon-k100", "mi300x", "gaudi3-oam",
                                   None, "no-such")] == ["nvidia", "ascend", "cambricon", "hygon", "amd", None,
                                                         None, None]


@pytest.mark.parametrize(("name", "model", "matches"), [
    ("NVIDIA H100 80GB HBM3", "h100-sxm", True), ("NVIDIA H200", "h20", False), ("NVIDIA H20", "h20", True),
    ("910B3", "ascend-910b", True), ("MLU590-H8", "mlu590", True), ("AMD Instinct MI300X", "mi300x", True),
    ("NVIDIA A100-SXM4-80GB", "h100-sxm", False)])
def test_names_model_matches_the_numbered_family_word_alone(name: str, model: str, matches: bool) -> None:
    assert names_model(name, model) is matches


def test_devices_are_judged_against_the_declared_count_model_and_family_thresholds() -> None:
    devices = [DeviceReading("0", "NVIDIA H100 80GB HBM3", temperature_c=40, ecc_uncorrected=0),
               DeviceReading("1", "NVIDIA A100-SXM4-80GB", temperature_c=86, ecc_uncorrected=0),
               DeviceReading("3", "NVIDIA H100 80GB HBM3", temperature_c=92, ecc_uncorrected=2)]
    results = judge_devices("n0", "h100-sxm", 4, devices)
    count = next(r for r in results if r.check == "accelerators.count")
    assert count.status is Status.FAILED and "missing: 2" in count.found
    assert _status(results, "accelerators.model", "1") is Status.FAILED
    assert _status(results, "temperature", "1") is Status.WARNING
    assert _status(results, "temperature", "3") is Status.FAILED
    assert _status(results, "ecc", "3") is Status.FAILED and _status(results, "ecc", "0") is Status.OK
    assert worst(results) is Status.FAILED


def test_more_devices_than_declared_is_a_warning_and_health_words_map() -> None:
    results = judge_devices("n0", "ascend-910b", 1, [DeviceReading("0", "910B", health="Warning"),
                                                     DeviceReading("1", "910B", health="Critical"),
                                                     DeviceReading("2", "910B", health="Sleepy")])
    assert _status(results, "accelerators.count") is Status.WARNING
    assert [_status(results, "device.health", d) for d in "012"] == [Status.WARNING, Status.FAILED,
                                                                    Status.UNKNOWN]


def test_disk_and_clock() -> None:
    df = ("Filesystem     1024-blocks      Used Available Capacity Mounted on\n"
          "overlay          100000000  96000000   4000000      96% /\n"
          "tmpfs              1000000    100000    900000      10% /tmp\n")
    rows = parse_df(df)
    assert rows[0] == ("/", 4000000 * 1024, 100000000 * 1024)
    assert [judge_disk("n", *row).status for row in rows] == [Status.FAILED, Status.OK]
    assert judge_disk("n", "/", 8, 100).status is Status.WARNING
    assert clock_offset("1000.25\n", 1000.0, 1000.1) == pytest.approx(0.2)
    assert [judge_clock("n", s).status for s in (0.01, -0.2, 2.0)] == [Status.OK, Status.WARNING, Status.FAILED]
    assert judge_clock("n", 0.02).found == "20 ms ahead of the controller"


def test_a_clock_read_over_a_slow_round_trip_is_judged_by_what_is_certain() -> None:
    # A right clock read over a 12 s round trip (a session opened again on a busy node) can seem 5 s off: the
    # offset is only known to ± 6 s, so nothing is certain and the node is not failed.
    slow = judge_clock("n", -5.0, uncertainty_s=6.0)
    assert slow.status is Status.OK and slow.found == "5000 ms behind the controller (± 6000 ms: half the round trip)"
    assert judge_clock("n", 2.0, uncertainty_s=0.5).status is Status.FAILED  # at least 1.5 s off
    assert judge_clock("n", 1.2, uncertainty_s=0.5).status is Status.WARNING  # at least 0.7 s: maybe not 1 s
    with pytest.raises(UnreadableOutput):
        parse_df("df: /x: No such file or directory\n")


def test_suites_per_family_and_full_is_longer_for_nvidia() -> None:
    quick, full = probes_for("h100-sxm", Suite.QUICK), probes_for("h100-sxm", Suite.FULL)
    assert "dcgmi diag -r 1 -j" in [p.command for p in quick] and "dcgmi diag -r 2 -j" in [p.command for p in full]
    assert set(FAMILY_SUITES) == {"nvidia", "ascend", "cambricon", "hygon", "amd"}
    link = next(p for p in probes_for("ascend-910b", Suite.QUICK) if p.per_device)
    assert link.commands(2) == (("hccn-link/0", "hccn_tool -i 0 -link -g"), ("hccn-link/1", "hccn_tool -i 1 -link -g"))
    assert [p.name for p in probes_for(None, Suite.QUICK)] == ["disk", "clock"]


def test_judge_node_turns_missing_failing_and_unreadable_outputs_into_results() -> None:
    outputs = {"nvidia-smi": ProbeOutput(127, "", "sh: nvidia-smi: not found"),
               "dcgmi-diag": ProbeOutput(0, "garbage"),
               "disk": ProbeOutput(1, "", "df: /tmp: No such file or directory")}
    results = judge_node("n0", "h100-sxm", 8, Suite.QUICK, outputs)
    assert _status(results, "accelerators.count") is Status.FAILED
    assert "not installed" in next(r.found for r in results if r.check == "accelerators.count")
    assert _status(results, "diag") is Status.UNKNOWN
    assert _status(results, "disk") is Status.FAILED
    assert _status(results, "clock") is Status.UNKNOWN


def test_a_vendor_without_tools_is_said_to_be_unknown() -> None:
    results = judge_node("n0", "gaudi3-oam", 8, Suite.QUICK, {})
    assert _status(results, "accelerators.count") is Status.UNKNOWN
    assert results[0].to_dict()["found"] == "grid has no status tool for gaudi3-oam's vendor"
    assert results[0].line().startswith("n0 accelerators.count: unknown: ")
