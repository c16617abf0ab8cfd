"""Any input a person can type: generated bad specs end in exit 1 and a diagnostic, never a traceback,
in bounded time and memory.

The bulk (>= 1,000 specs from tests/reliability/badspecs.py, each through `grid validate` and `grid
plan`) runs in this process through the console script's own entry point (grid.cli.main.run); a
sample of hand-picked worst cases runs through the installed `grid` under an address-space limit.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from badspecs import BASE, CATEGORIES, LAB_TEXT, _nested, _set, bad_specs, dump
from hypothesis import HealthCheck, given, settings

from support.cli import Run, invoke
from support.paths import GRID

pytestmark = pytest.mark.slow

SECONDS_PER_COMMAND = 10.0  # generous for a loaded CI machine; typical is well under 0.5 s
MAX_RSS_GROWTH_MB = 512  # this process's high-water mark over the whole run
SUBPROCESS_ADDRESS_SPACE = 3 * 1024**3
SUBPROCESS_MAX_RSS_MB = 600


def _refused(ran: Run, what: str) -> None:
    assert ran.code == 1, f"{what}: exit {ran.code}\n{ran.output[-2000:]}"
    assert "error" in ran.stderr, f"{what}: no diagnostic\n{ran.output[-2000:]}"
    assert "Traceback" not in ran.output and "internal error" not in ran.output, f"{what}:\n{ran.output[-3000:]}"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_thousand_generated_bad_specs_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    seen: Counter[str] = Counter()
    slowest = [0.0, ""]
    baseline = _rss_mb()

    @settings(max_examples=1_000, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(bad_specs())
    def refused(case: tuple[str, bytes]) -> None:
        category, body = case
        spec.write_bytes(body)
        for command in ("validate", "plan"):
            started = time.perf_counter()
            ran = invoke(command, str(spec))
            seconds = time.perf_counter() - started
            _refused(ran, f"{category}: grid {command} on {body[:300]!r}")
            assert seconds < SECONDS_PER_COMMAND, f"{category}: grid {command} took {seconds:.1f}s"
            if seconds > float(slowest[0]):
                slowest[:] = [seconds, f"{category} ({command})"]
        assert _rss_mb() - baseline < MAX_RSS_GROWTH_MB, f"{category}: memory grew to {_rss_mb():.0f} MB"
        seen[category] += 1

    refused()
    print(json.dumps({"specs": sum(seen.values()), "by_category": dict(seen), "slowest_s": round(float(slowest[0]), 2),
                      "slowest": slowest[1], "rss_growth_mb": round(_rss_mb() - baseline)}))
    assert sum(seen.values()) >= 1_000
    assert set(seen) == set(CATEGORIES), f"categories never drawn: {set(CATEGORIES) - set(seen)}"


def _samples() -> dict[str, bytes]:
    """Worst cases of every category, for the real console script."""
    region = ("spec", "regions", 0)
    bomb = ["x0: &x0 [" + ", ".join(["lol"] * 12) + "]"] + [
        f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 12) + "]" for i in range(1, 10)]
    names = {f"name with {token!r}": dump(_set(BASE, ("metadata", "name"), f"lab{token}x"))
             for token in (";", "$(reboot)", "`id`", "../", "\n", "'", '"', "名", "\u202e")}
    return {
        **names,
        "empty": b"",
        "binary": bytes(range(256)) * 64,
        "not UTF-8": LAB_TEXT.replace("Ningxia", "Ningxi\u00e4").encode("latin-1"),
        "a scalar": b"hello\n",
        "a list": b"- 1\n- 2\n",
        "python tag": b"!!python/object/apply:os.system ['id']\n",
        "two documents": (LAB_TEXT + "---\n" + LAB_TEXT).encode(),
        "over 4 MiB": LAB_TEXT.encode() + b"#" * (4 * 1024 * 1024),
        "alias bomb 12^10": (LAB_TEXT + "\n".join(bomb) + "\n").encode(),
        "nested lists x5000": dump(_set(BASE, ("metadata", "labels"), "@")).replace(b"'@'", _nested(5000, False)
                                                                                  .encode()),
        "nested maps x3000": dump(_set(BASE, ("metadata", "labels"), "@")).replace(b"'@'", _nested(3000, True)
                                                                                 .encode()),
        "duplicate key": LAB_TEXT.replace("kind: Cluster", "kind: Cluster\nkind: Cluster").encode(),
        "count 10^18": dump(_set(BASE, (*region, "pools", 0, "count"), 10**18)),
        "count 10^6 in a /24": dump(_set(BASE, (*region, "pools", 0, "count"), 1_000_000)),
        "count 2^64+1": dump(_set(BASE, (*region, "pools", 0, "count"), 2**64 + 1)),
        "overlapping CIDRs": dump(_set(BASE, (*region, "fabrics", 1, "cidr"), "198.18.0.0/16")),
        "not a CIDR": dump(_set(BASE, (*region, "fabrics", 0, "cidr"), "300.1.1.0/24")),
        "power NaN": LAB_TEXT.replace("power_mw: 0.5", "power_mw: .nan").encode(),
        "power 1e400": LAB_TEXT.replace("power_mw: 0.5", "power_mw: 1e400").encode(),
        "unknown key": LAB_TEXT.replace("  target: local", "  target: local\n  targte: aws").encode(),
        "missing regions": dump({**BASE, "spec": {k: v for k, v in BASE["spec"].items() if k != "regions"}}),
        "9999-digit number": LAB_TEXT.replace("power_mw: 0.5", "power_mw: " + "9" * 9999).encode(),
        "mount ../": dump(_set(BASE, (*region, "storage", 0, "mount"), "/shared/../../etc")),
        "100k-char name": dump(_set(BASE, ("metadata", "name"), "a" * 100_000)),
    }


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_ADDRESS_SPACE, SUBPROCESS_ADDRESS_SPACE))


def _run_limited(args: list[str], scratch: Path) -> tuple[Run, float, float]:
    """`grid ARGS` under an address-space limit: (result, seconds, its own peak RSS in MB)."""
    started = time.perf_counter()
    with open(scratch / "out", "w+") as out, open(scratch / "err", "w+") as err:
        process = subprocess.Popen([GRID, *args], stdout=out, stderr=err, env={**os.environ, "CI": "true"},
                                   preexec_fn=_limit_address_space)
        timer = threading.Timer(60, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Run(process.returncode, out.read(), err.read()), seconds, usage.ru_maxrss / 1024


def test_worst_cases_through_the_console_script(tmp_path: Path) -> None:
    samples = _samples()
    assert len(samples) >= 30
    figures = {}
    for name, body in samples.items():
        spec = tmp_path / "cluster.yaml"
        spec.write_bytes(body)
        for command in ("validate", "plan"):
            ran, seconds, rss = _run_limited([command, str(spec)], tmp_path)
            _refused(ran, f"{name}: grid {command}")
            assert seconds < SECONDS_PER_COMMAND * 2, f"{name}: grid {command} took {seconds:.1f}s"
            assert rss < SUBPROCESS_MAX_RSS_MB, f"{name}: a grid process reached {rss:.0f} MB"
            figures[f"{name} ({command})"] = round(seconds, 2)
    print(json.dumps({"samples": len(samples), "runs": len(figures), "slowest": max(figures.items(),
                                                                                    key=lambda kv: kv[1])}))


def test_worst_cases_peak_memory_in_process(tmp_path: Path) -> None:
    """tracemalloc's peak for each worst case: what one spec can make grid allocate."""
    spec = tmp_path / "cluster.yaml"
    peaks = {}
    for name, body in _samples().items():
        spec.write_bytes(body)
        tracemalloc.start()
        try:
            _refused(invoke("validate", str(spec)), name)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        peaks[name] = peak / 1024**2
        assert peaks[name] < 256, f"{name}: peak {peaks[name]:.0f} MB"
    print(json.dumps({"peak_mb": {k: round(v, 1) for k, v in sorted(peaks.items(), key=lambda kv: -kv[1])[:5]}}))

