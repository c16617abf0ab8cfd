"""Cambricon `cnmon info`, Hygon `hy-smi` and AMD `amd-smi metric/static --json`, parsed.

- `cnmon info`: per card a `Card N` line, then indented `Key : value` lines; a key with no value opens a
  section whose entries are indented deeper (Health State → Device, Temperature → Chip, ECC → counters).
- `hy-smi` (and `rocm-smi` on Hygon DCUs): a banner, a header row `DCU Temp AvgPwr Perf PwrCap VRAM% DCU% Mode`,
  one row per DCU with temperature like `49.0C`, closing banners.
- `amd-smi ... --json`: a list of per-GPU objects (ROCm 6), or `{"gpu_data": [...]}` (ROCm 7); values are
  numbers, `{"value": V, "unit": U}` objects, or "N/A".
"""

from __future__ import annotations

import json
import re
from typing import Any

from grid.health.results import DeviceReading, UnreadableOutput

CNMON_INFO = "cnmon info"
HY_SMI = "hy-smi"
AMD_SMI_METRIC = "amd-smi metric --temperature --ecc --json"
AMD_SMI_STATIC = "amd-smi static --asic --json"
_CNMON_ENTRY = re.compile(r"^(?P<indent>\s*)(?P<key>[^:]+?)\s*:\s*(?P<value>.*)$")
# cnmon's ECC section names its counters differently across releases; these words mark the uncorrectable ones.
_CNMON_UNCORRECTABLE = ("uncorrect", "multiple bit", "multi-bit", "double")


def parse_cnmon_info(text: str) -> tuple[DeviceReading, ...]:
    cards: list[dict[str, str]] = []
    sections: list[tuple[int, str]] = []
    for line in text.splitlines():
        card = re.match(r"^\s*Card\s+(\d+)\s*$", line)
        if card:
            cards.append({"index": card.group(1)})
            sections = []
            continue
        entry = _CNMON_ENTRY.match(line)
        if not entry or not cards:
            continue
        indent, key, value = len(entry["indent"]), entry["key"].strip(), entry["value"].strip()
        sections = [(i, k) for i, k in sections if i < indent]
        if not value:
            sections.append((indent, key))
            continue
        cards[-1]["/".join([k for _, k in sections] + [key]).lower()] = value
    if not cards:
        raise UnreadableOutput("cnmon info printed no 'Card N' block")
    return tuple(_cnmon_card(card) for card in cards)


def parse_hy_smi(text: str) -> tuple[DeviceReading, ...]:
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.split()[:2] == ["DCU", "Temp"]), None)
    if header is None:
        raise UnreadableOutput("hy-smi printed no 'DCU Temp …' header row")
    columns = lines[header].split()
    devices = []
    for line in lines[header + 1:]:
        words = line.split()
        if not words or not words[0].isdigit():
            if line.startswith("="):
                break
            continue
        row = dict(zip(columns, words, strict=False))
        devices.append(DeviceReading(index=words[0], temperature_c=_celsius(row.get("Temp", "")),
                                     health=row.get("Mode", "")))
    return tuple(devices)


def parse_amd_smi(metric_text: str, static_text: str = "") -> tuple[DeviceReading, ...]:
    """GPUs from `amd-smi metric --temperature --ecc --json`, named from `amd-smi static --asic --json` if given.
    The hotspot (junction) temperature is the one judged: edge sensors read cooler than the die."""
    names = {str(g.get("gpu")): str(_dig(g, "asic", "market_name") or "") for g in _amd_gpus(static_text)} \
        if static_text.strip() else {}
    devices = []
    for gpu in _amd_gpus(metric_text):
        index = str(gpu.get("gpu", ""))
        if not index.isdigit():
            raise UnreadableOutput(f"amd-smi: a GPU entry has no 'gpu' index: {str(gpu)[:80]!r}")
        temperature = _amd_value(_dig(gpu, "temperature", "hotspot"))
        if temperature is None:
            temperature = _amd_value(_dig(gpu, "temperature", "edge"))
        ecc = _amd_value(_dig(gpu, "ecc", "total_uncorrectable_count"))
        devices.append(DeviceReading(index=index, name=names.get(index, ""),
                                     temperature_c=temperature, ecc_uncorrected=None if ecc is None else int(ecc)))
    return tuple(devices)


def _cnmon_card(card: dict[str, str]) -> DeviceReading:
    name = card.get("product name", "")
    temperature = _celsius(card.get("temperature/chip", ""))
    ecc_keys = [k for k in card if k.startswith("ecc/") and any(w in k for w in _CNMON_UNCORRECTABLE)]
    counts = [int(card[k]) for k in ecc_keys if card[k].isdigit()]
    bus = ":".join(card.get(f"pci/{k}", "") for k in ("domain id", "bus num", "device"))
    return DeviceReading(index=card["index"], name=name, bus_id=bus if bus.strip(":") else "",
                         temperature_c=temperature, ecc_uncorrected=sum(counts) if counts else None,
                         health=card.get("health state/device", ""))


def _celsius(text: str) -> float | None:
    found = re.match(r"^\s*(-?\d+(?:\.\d+)?)\s*°?\s*C?\s*$", text)
    return float(found.group(1)) if found else None


def _amd_gpus(text: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableOutput(f"amd-smi printed no JSON ({exc.msg} at line {exc.lineno})") from None
    gpus = document.get("gpu_data") if isinstance(document, dict) else document
    if not isinstance(gpus, list) or not all(isinstance(g, dict) for g in gpus):
        raise UnreadableOutput("amd-smi JSON is neither a list of GPUs nor {'gpu_data': [...]}")
    return gpus


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _amd_value(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # "N/A": the GPU does not report it
