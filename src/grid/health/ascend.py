"""Huawei Ascend: `npu-smi info` (its summary table) and `hccn_tool -i N -link -g`, parsed.

`npu-smi info` prints a box table: a header of two lines (NPU, Name, Health, Power, Temp… / Chip, Bus-Id, AICore…),
then two lines per chip: the first names the NPU id, its model name, its health word (OK, Warning, Alarm,
Critical) and power/temperature; the second the chip id and PCI bus id. A process table follows; it is skipped.
`hccn_tool -i N -link -g` prints one line, `link status: UP` or `link status: DOWN`.
"""

from __future__ import annotations

import re

from grid.health.results import DeviceReading, LinkReading, UnreadableOutput

NPU_SMI_INFO = "npu-smi info"
HCCN_LINK = "hccn_tool -i {device} -link -g"
_LINK_STATUS = re.compile(r"link status\s*:\s*(\S+)", re.IGNORECASE)
_BUS_ID = re.compile(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")


def parse_npu_smi_info(text: str) -> tuple[DeviceReading, ...]:
    """Chips from `npu-smi info`; index "N" for chip 0 of NPU N, "N:C" for its chip C."""
    rows = [_cells(line) for line in text.splitlines() if line.lstrip().startswith("|")]
    header = next((i for i, cells in enumerate(rows) if len(cells) >= 2 and cells[1].startswith("Health")), None)
    if header is None:
        raise UnreadableOutput("npu-smi info printed no table with a Health column (expected the summary table)")
    devices: list[DeviceReading] = []
    first: list[str] | None = None
    for cells in rows[header + 1:]:
        if any(c.startswith("Process id") for c in cells) or (cells and cells[0].startswith("No running")):
            break  # the process table
        if len(cells) < 3 or cells[0].startswith("Chip"):
            continue
        if first is None:
            first = cells
            continue
        devices.append(_chip(first, cells))
        first = None
    if first is not None:
        raise UnreadableOutput(f"npu-smi info: NPU row {' | '.join(first)!r} has no chip row after it")
    return tuple(devices)


def parse_hccn_link(text: str, device: str) -> LinkReading:
    found = _LINK_STATUS.search(text)
    if found is None:
        raise UnreadableOutput(f"hccn_tool -i {device} -link -g printed no 'link status:' line")
    word = found.group(1).upper()
    return LinkReading(index=device, up={"UP": True, "DOWN": False}.get(word), text=word)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _chip(first: list[str], second: list[str]) -> DeviceReading:
    npu_words, chip_words = first[0].split(), second[0].split()
    if len(npu_words) < 2 or not npu_words[0].isdigit() or not chip_words or not chip_words[0].isdigit():
        raise UnreadableOutput(f"npu-smi info: expected 'NPU-id Name' then 'Chip-id' rows, got "
                               f"{first[0]!r} and {second[0]!r}")
    if not _BUS_ID.match(second[1]):
        raise UnreadableOutput(f"npu-smi info: {second[1]!r} is not a PCI bus id")
    figures = first[2].split()  # power, temperature, hugepages used / total
    npu, chip = npu_words[0], chip_words[0]
    return DeviceReading(index=npu if chip == "0" else f"{npu}:{chip}", name=" ".join(npu_words[1:]),
                         bus_id=second[1], temperature_c=_float(figures[1]) if len(figures) > 1 else None,
                         health=first[1])


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # npu-smi prints "-" for a figure a chip does not report
