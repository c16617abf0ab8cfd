"""examples/bad-physics: each spec triggers exactly its finding; examples/national validates and plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid.diagnostics import Diagnostic
from grid.physics import summarize
from grid.spec import load_spec
from grid.validate import validate

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "examples" / "bad-physics").glob("*.yaml"))
NATIONAL = ROOT / "examples" / "national" / "cluster.yaml"


def physics_findings(path: Path) -> list[Diagnostic]:
    loaded = load_spec(str(path))
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return [d for d in validate(loaded) if d.code.startswith("physics.")]


def test_there_is_one_bad_spec_per_physics_finding() -> None:
    assert len(BAD) == 8
    assert all(path.with_suffix(".expected").exists() for path in BAD)


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_physics_spec_triggers_exactly_its_finding(path: Path) -> None:
    expected = [line.split(" ", 2) for line in path.with_suffix(".expected").read_text().splitlines() if line]
    found = physics_findings(path)
    assert len(found) == len(expected), [d.summary for d in found]
    for diag, (where, severity, summary) in zip(found, expected, strict=True):
        assert diag.source is not None
        assert f"{diag.source.line}:{diag.source.col}" == where, diag.summary
        assert diag.severity.value == severity
        assert summary in diag.summary


def test_national_validates_without_errors() -> None:
    loaded = load_spec(str(NATIONAL))
    findings = validate(loaded)
    assert not findings.has_errors, [f"{d.path}: {d.summary}" for d in findings.errors]
    physics = sorted(d.code for d in findings if d.code.startswith("physics."))
    assert physics == ["physics.link-bandwidth", "physics.link-bandwidth", "physics.power-headroom"]


def test_national_is_a_national_cluster() -> None:
    cluster = load_spec(str(NATIONAL)).cluster
    assert cluster is not None
    summary = summarize(cluster)
    assert len(summary.regions) == 8
    assert len({r.province for r in summary.regions}) == 8
    total = summary.total
    assert total.accelerator_count >= 100_000
    models = dict(total.accelerators)
    assert {"ascend-910b", "ascend-910c", "mlu590", "hygon-k100"} <= set(models)
    assert {"h100-sxm", "h200", "b200", "mi300x"} <= set(models)
    assert {r.site.cooling for r in cluster.spec.regions} == {"air", "liquid"}
    assert all(1.1 <= r.site.pue <= 1.4 for r in cluster.spec.regions)
    assert all(not r.over_budget for r in summary.regions)
