"""examples/translations/: each peer definition (peer.yaml) has its grid spec (cluster.yaml) that validates
without an error and plans offline, and a README whose table covers every top-level field of the peer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from support.cli import grid
from support.paths import EXAMPLES

TRANSLATIONS = sorted(p for p in (EXAMPLES / "translations").iterdir() if p.is_dir())


def test_there_is_a_translation() -> None:
    assert [p.name for p in TRANSLATIONS] == ["parallelcluster"]


@pytest.mark.parametrize("folder", TRANSLATIONS, ids=lambda p: p.name)
def test_the_grid_spec_validates_and_plans_offline(folder: Path, tmp_path: Path) -> None:
    spec = folder / "cluster.yaml"
    checked = grid("validate", str(spec))
    assert checked.code == 0, checked.stdout + checked.stderr
    assert "valid (0 warning(s))" in checked.stdout
    planned = grid("plan", str(spec), "--workdir", str(tmp_path / "wd"), "--detailed-exitcode")
    assert planned.code == 2, planned.stdout + planned.stderr  # 2: changes to make
    assert "(target aws)" in planned.stdout and "Plan:" in planned.stdout
    assert "internal error" not in planned.stdout + planned.stderr


@pytest.mark.parametrize("folder", TRANSLATIONS, ids=lambda p: p.name)
def test_the_readme_answers_for_every_peer_field(folder: Path) -> None:
    peer = yaml.safe_load((folder / "peer.yaml").read_text())
    readme = (folder / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    assert len(rows) >= 15
    for key in peer:
        assert any(row.startswith(f"| `{key}") for row in rows), f"README has no row for {key}"
