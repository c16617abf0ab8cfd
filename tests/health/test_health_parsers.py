"""The parsers on output samples written for grid from the vendors' descriptions of each format (docs/health.md)."""

from __future__ import annotations

import json

import pytest

from grid.health.ascend import parse_hccn_link, parse_npu_smi_info
from grid.health.nvidia import parse_dcgmi_diag, parse_nvidia_smi_query
from grid.health.others import parse_amd_smi, parse_cnmon_info, parse_hy_smi
from grid.health.results import UnreadableOutput

NVIDIA_QUERY = """\
0, NVIDIA H100 80GB HBM3, 00000000:1B:00.0, 41, 0
1, NVIDIA H100 80GB HBM3, 00000000:43:00.0, 88, 3
2, NVIDIA H100 80GB HBM3, 00000000:52:00.0, 39, [N/A]
"""


def test_nvidia_smi_query_reads_each_gpu_and_unsupported_fields_as_none() -> None:
    gpus = parse_nvidia_smi_query(NVIDIA_QUERY)
    assert [g.index for g in gpus] == ["0", "1", "2"]
    assert gpus[1].temperature_c == 88 and gpus[1].ecc_uncorrected == 3
    assert gpus[2].ecc_uncorrected is None
    assert gpus[0].name == "NVIDIA H100 80GB HBM3" and gpus[0].bus_id == "00000000:1B:00.0"


@pytest.mark.parametrize("text", ["0, NVIDIA H100, 00000000:1B:00.0, 41\n",
                                  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"])
def test_nvidia_smi_query_says_what_it_expected(text: str) -> None:
    with pytest.raises(UnreadableOutput, match="expected"):
        parse_nvidia_smi_query(text)


def _dcgm(results: list[dict[str, object]], root: str = "DCGM GPU Diagnostic") -> str:
    return json.dumps({root: {"version": "3.3.5", "test_categories": [
        {"category": "Deployment", "tests": [{"name": "Denylist", "results": [{"gpu_ids": "0,1", "status": "PASS"}]}]},
        {"category": "Hardware", "tests": [{"name": "GPU Memory", "results": results}]}]}})


def test_dcgmi_diag_reads_verdicts_per_gpu_from_either_id_form() -> None:
    readings = parse_dcgmi_diag(_dcgm([{"gpu_id": 0, "status": "Pass"},
                                       {"gpu_id": "1", "status": "Fail",
                                        "warnings": [{"warning": "DBE on page 12", "error_id": 3}]}]))
    assert {(r.test, r.device, r.status) for r in readings} == {
        ("Denylist", "0", "pass"), ("Denylist", "1", "pass"), ("GPU Memory", "0", "pass"),
        ("GPU Memory", "1", "fail")}
    assert next(r for r in readings if r.status == "fail").detail == "DBE on page 12"


def test_dcgmi_diag_reads_the_newer_root_key_and_refuses_runtime_errors() -> None:
    assert parse_dcgmi_diag(_dcgm([{"gpu_id": "0", "status": "Skip"}], root="DCGM Diagnostic"))[-1].status == "skip"
    with pytest.raises(UnreadableOutput, match="host engine"):
        parse_dcgmi_diag(json.dumps({"DCGM GPU Diagnostic": {"runtime_error": "no host engine"}}))
    with pytest.raises(UnreadableOutput, match="no JSON"):
        parse_dcgmi_diag("Error: unable to connect\n")


NPU_TABLE = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 23.0.3                   Version: 23.0.3                                               |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B3               | OK            | 88.0        37                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          3300 / 65536         |
+===========================+===============+====================================================+
| 1     910B3               | Alarm         | 90.3        93                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          3310 / 65536         |
+===========================+===============+====================================================+
| 2     Ascend910           | Warning       | -           36                0    / 0             |
| 1     1                   | 0000:9F:00.0  | 0           0    / 0          3150 / 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 4242          | python3                  | 60000                   |
+===========================+===============+====================================================+
"""


def test_npu_smi_info_reads_health_temperature_and_chips_but_not_processes() -> None:
    chips = parse_npu_smi_info(NPU_TABLE)
    assert [(c.index, c.name, c.health, c.temperature_c, c.bus_id) for c in chips] == [
        ("0", "910B3", "OK", 37.0, "0000:C1:00.0"), ("1", "910B3", "Alarm", 93.0, "0000:C2:00.0"),
        ("2:1", "Ascend910", "Warning", 36.0, "0000:9F:00.0")]


def test_npu_smi_info_without_its_table_is_unreadable() -> None:
    with pytest.raises(UnreadableOutput, match="Health column"):
        parse_npu_smi_info("dcmi module initialize failed. ret is -8005\n")


def test_hccn_link_reads_up_down_and_anything_else() -> None:
    assert parse_hccn_link("link status: UP\n", "0").up is True
    assert parse_hccn_link("link status: DOWN\n", "5").up is False
    assert parse_hccn_link("link status: INIT\n", "5").up is None
    with pytest.raises(UnreadableOutput):
        parse_hccn_link("Device 9 is not found\n", "9")


CNMON = """\
================CNMON v5.10.20================
Card 0
    Product Name                   : MLU590-H8
    Health State                   :
        Device                     : Good
    Temperature                    :
        Board                      : 35 C
        Chip                       : 44 C
    ECC                            :
        One Bit Error              : 7
        Multiple Bit Error         : 0
Card 1
    Product Name                   : MLU590-H8
    Health State                   :
        Device                     : Bad
    Temperature                    :
        Chip                       : N/A
    ECC                            :
        Multiple Bit Error         : 2
"""


def test_cnmon_info_reads_nested_sections_per_card() -> None:
    cards = parse_cnmon_info(CNMON)
    assert [(c.index, c.name, c.health, c.temperature_c, c.ecc_uncorrected) for c in cards] == [
        ("0", "MLU590-H8", "Good", 44.0, 0), ("1", "MLU590-H8", "Bad", None, 2)]


HY_SMI = """
============================ System Management Interface =============================
======================================================================================
DCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      DCU%      Mode
0       47.0C    120.0W     auto     450.0W     3%         0%        Normal
1       91.5C    310.0W     auto     450.0W     80%        99%       N/A
======================================================================================
=================================== End of SMI Log ===================================
"""


def test_hy_smi_reads_each_dcu_temperature() -> None:
    dcus = parse_hy_smi(HY_SMI)
    assert [(d.index, d.temperature_c) for d in dcus] == [("0", 47.0), ("1", 91.5)]
    with pytest.raises(UnreadableOutput, match="header"):
        parse_hy_smi("hy-smi: command not found\n")


def test_amd_smi_reads_both_json_shapes_hotspot_first_and_names_from_static() -> None:
    gpus = [{"gpu": 0, "temperature": {"edge": {"value": 40, "unit": "C"}, "hotspot": {"value": 52, "unit": "C"}},
             "ecc": {"total_uncorrectable_count": 0}},
            {"gpu": 1, "temperature": {"edge": {"value": 41, "unit": "C"}, "hotspot": "N/A"},
             "ecc": {"total_uncorrectable_count": "N/A"}}]
    static = json.dumps({"gpu_data": [{"gpu": 0, "asic": {"market_name": "AMD Instinct MI300X"}}]})
    for metric in (json.dumps(gpus), json.dumps({"gpu_data": gpus})):
        read = parse_amd_smi(metric, static)
        assert [(g.index, g.temperature_c, g.ecc_uncorrected, g.name) for g in read] == [
            ("0", 52.0, 0, "AMD Instinct MI300X"), ("1", 41.0, None, "")]
    with pytest.raises(UnreadableOutput):
        parse_amd_smi('{"error": "no GPU"}')
