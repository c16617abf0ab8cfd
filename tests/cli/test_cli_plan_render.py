"""The CLI as a user runs it: plan exit codes and JSON, deterministic render, schema, version."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import yaml

from grid.resources import expand
from grid.spec import load_spec
from support.cli import grid
from support.paths import EXAMPLES

LAB = EXAMPLES / "local-lab" / "cluster.yaml"


def test_plan_on_empty_state_exits_2_with_detailed_exitcode(tmp_path: Path) -> None:
    run = grid("plan", str(LAB), "--workdir", str(tmp_path), "--detailed-exitcode")
    assert run.code == 2, run.output
    assert "10 to create" in run.stdout
    assert "Traceback" not in run.output


def test_plan_json_lists_every_address(tmp_path: Path) -> None:
    run = grid("plan", str(LAB), "--workdir", str(tmp_path), "--json")
    assert run.code == 0, run.output
    document = json.loads(run.stdout)
    loaded = load_spec(str(LAB))
    assert loaded.cluster is not None
    expected = {r.address for r in expand(loaded.cluster)}
    assert {c["address"] for c in document["changes"]} == expected
    assert document["format"] == "grid-plan/v1"
    assert document["has_changes"] is True
    assert document["capacity"]["summary"]["total"]["nodes"] == 4


def test_plan_of_the_national_example_prints_the_capacity_table(tmp_path: Path) -> None:
    run = grid("plan", str(EXAMPLES / "national" / "cluster.yaml"), "--workdir", str(tmp_path))
    assert run.code == 0, run.output
    assert "Capacity and energy" in run.stdout
    spec = yaml.safe_load((EXAMPLES / "national" / "cluster.yaml").read_text())
    for region in spec["spec"]["regions"]:
        assert region["name"] in run.stdout


def test_render_is_deterministic_and_complete(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        run = grid("render", str(LAB), "--workdir", str(tmp_path / "work"), "--out", str(out))
        assert run.code == 0, run.output
    comparison = filecmp.dircmp(first, second)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    for region in ("east", "west"):
        project = first / "pulumi" / region
        assert yaml.safe_load((project / "Pulumi.yaml").read_text())["runtime"] == "python"
        compile((project / "__main__.py").read_text(), "__main__.py", "exec")  # valid Python
        data = json.loads((project / "resources.json").read_text())
        assert data["region"] == region and data["nodes"]
    assert (first / "ansible" / "site.yml").is_file()
    assert (first / "ansible" / "inventory" / "hosts.yml").is_file()
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    for path in files:
        assert filecmp.cmp(first / path, second / path, shallow=False), path


def test_rerender_removes_files_it_no_longer_renders_and_keeps_others(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert grid("render", str(LAB), "--workdir", str(tmp_path / "w"), "--out", str(out)).code == 0
    (out / "mine.txt").write_text("user file")
    data = yaml.safe_load(LAB.read_text())
    data["spec"]["regions"] = data["spec"]["regions"][:1]
    data["spec"]["links"] = []
    smaller = tmp_path / "one-region.yaml"
    smaller.write_text(yaml.safe_dump(data))
    assert grid("render", str(smaller), "--workdir", str(tmp_path / "w2"), "--out", str(out)).code == 0
    assert not (out / "pulumi" / "west").exists() or not any((out / "pulumi" / "west").iterdir())
    assert (out / "mine.txt").read_text() == "user file"


def test_schema_is_json_schema_of_the_spec() -> None:
    run = grid("schema")
    assert run.code == 0
    schema = json.loads(run.stdout)
    assert schema["title"] == "grid cluster spec"
    assert "spec" in schema["properties"]


def test_version_and_help() -> None:
    assert grid("--version").stdout.startswith("grid ")
    assert "plan" in grid("--help").stdout


def test_missing_spec_file_is_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    run = grid("plan", str(tmp_path / "nope.yaml"))
    assert run.code == 1
    assert "cannot read the spec" in run.stderr
    assert "Traceback" not in run.output
