"""Run the real `grid validate` on every spec in examples/: bad ones fail as documented, good ones pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "examples" / "bad").glob("*.yaml"))
GOOD = sorted((ROOT / "examples").glob("*/cluster.yaml"))
GRID = Path(sys.executable).parent / "grid"
EXPECTED_LINE = re.compile(r"^(\d+):(\d+) (error|warning|info) (.+)$")


def run_grid(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("GRID_DEBUG", None)
    return subprocess.run([str(GRID), *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False, cwd=ROOT)


def expectations(spec: Path) -> list[tuple[int, int, str, str]]:
    out = []
    for raw in spec.with_suffix(".expected").read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        match = EXPECTED_LINE.match(raw)
        assert match, f"{spec.with_suffix('.expected').name}: malformed line {raw!r}"
        out.append((int(match[1]), int(match[2]), match[3], match[4]))
    return out


def test_examples_exist() -> None:
    assert len(BAD) >= 14
    assert GOOD, "no good examples found"
    assert GRID.exists(), f"console script not installed next to {sys.executable}"


@pytest.mark.parametrize("spec", BAD, ids=lambda p: p.stem)
def test_bad_example(spec: Path) -> None:
    expected = expectations(spec)
    assert expected, f"{spec.name} has no expected findings"
    result = run_grid("validate", str(spec))
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    for line, col, severity, summary in expected:
        prefix = f"{spec}:{line}:{col}: {severity}: "
        hits = [text for text in lines if text.startswith(prefix) and summary in text[len(prefix):]]
        assert hits, f"expected `{prefix}...{summary}` in:\n{result.stderr}"


@pytest.mark.parametrize("spec", BAD, ids=lambda p: p.stem)
def test_bad_example_json(spec: Path) -> None:
    result = run_grid("validate", "--json", str(spec))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1
    assert '"valid": false' in result.stdout


@pytest.mark.parametrize("spec", GOOD, ids=lambda p: p.parent.name)
def test_good_example(spec: Path) -> None:
    result = run_grid("validate", str(spec))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    assert ": error:" not in result.stderr
