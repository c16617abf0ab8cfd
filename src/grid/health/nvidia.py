"""NVIDIA: `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` and `dcgmi diag -r N -j`, parsed.

nvidia-smi's query mode prints one line per GPU, the asked fields in the asked order, `, `-separated; a field the
GPU does not support reads `[N/A]` / `N/A` / `[Not Supported]`. dcgmi's JSON nests results as test categories →
tests → results, each result naming its GPU (`gpu_id`, or `gpu_ids` "0,1") and a status word.
"""

from __future__ import annotations

import json
from typing import Any

from grid.health.results import DeviceReading, DiagReading, UnreadableOutput

NVIDIA_SMI_FIELDS = ("index", "name", "pci.bus_id", "temperature.gpu", "ecc.errors.uncorrected.volatile.total")
NVIDIA_SMI_QUERY = f"nvidia-smi --query-gpu={','.join(NVIDIA_SMI_FIELDS)} --format=csv,noheader,nounits"
MISSING_VALUES = frozenset({"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]"})
# DCGM 3.x says "DCGM GPU Diagnostic", 4.x "DCGM Diagnostic"; both are read.
DCGM_ROOT_KEYS = ("DCGM GPU Diagnostic", "DCGM Diagnostic")


def parse_nvidia_smi_query(text: str) -> tuple[DeviceReading, ...]:
    """GPUs from NVIDIA_SMI_QUERY's output (fields in NVIDIA_SMI_FIELDS' order)."""
    devices = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(NVIDIA_SMI_FIELDS):
            raise UnreadableOutput(f"nvidia-smi line {number} has {len(fields)} fields, expected "
                                   f"{len(NVIDIA_SMI_FIELDS)} ({', '.join(NVIDIA_SMI_FIELDS)}): {line.strip()!r}")
        index, name, bus_id, temperature, ecc = fields
        if not index.isdigit():
            raise UnreadableOutput(f"nvidia-smi line {number}: the GPU index is {index!r}, expected a number")
        devices.append(DeviceReading(index=index, name=name, bus_id=bus_id,
                                     temperature_c=_number(temperature, float), ecc_uncorrected=_number(ecc, int)))
    return tuple(devices)


def parse_dcgmi_diag(text: str) -> tuple[DiagReading, ...]:
    """Per test and GPU verdicts from `dcgmi diag -r N -j` (a run that reports a runtime error is unreadable)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableOutput(f"dcgmi diag printed no JSON ({exc.msg} at line {exc.lineno})") from None
    root = next((document[k] for k in DCGM_ROOT_KEYS if isinstance(document, dict) and k in document), None)
    if not isinstance(root, dict):
        raise UnreadableOutput(f"dcgmi diag JSON has none of the keys {', '.join(DCGM_ROOT_KEYS)}")
    if root.get("runtime_error"):
        raise UnreadableOutput(f"dcgmi diag did not run: {root['runtime_error']}")
    categories = root.get("test_categories")
    tests: list[Any] = ([t for c in categories if isinstance(c, dict) for t in c.get("tests", [])]
                        if isinstance(categories, list) else list(root.get("tests", [])))
    readings = []
    for test in tests:
        if not isinstance(test, dict):
            continue
        name = str(test.get("name", "?"))
        for result in test.get("results", []):
            if not isinstance(result, dict):
                continue
            status = _diag_status(str(result.get("status", "")))
            detail = "; ".join(str(w.get("warning", "")) for w in result.get("warnings", []) if isinstance(w, dict))
            for device in _gpu_ids(result):
                readings.append(DiagReading(test=name, device=device, status=status, detail=detail))
    if not readings:
        raise UnreadableOutput("dcgmi diag JSON holds no test results")
    return tuple(readings)


def _number(text: str, kind: type[float] | type[int]) -> Any:
    if text.lower() in MISSING_VALUES:
        return None
    try:
        return kind(float(text)) if kind is int else kind(text)
    except ValueError:
        raise UnreadableOutput(f"nvidia-smi printed {text!r} where a number belongs") from None


def _diag_status(word: str) -> str:
    lowered = word.strip().lower()
    return {"passed": "pass", "failed": "fail", "warning": "warn", "skipped": "skip"}.get(lowered, lowered)


def _gpu_ids(result: dict[str, Any]) -> list[str]:
    if "gpu_id" in result:
        return [str(result["gpu_id"]).strip()]
    ids = str(result.get("gpu_ids", "")).strip()
    # Older versions write "0,1,2", some "gpu0,gpu1"; no ids means the test covers the whole node.
    return [i.strip().removeprefix("gpu") for i in ids.split(",") if i.strip()] or [""]
