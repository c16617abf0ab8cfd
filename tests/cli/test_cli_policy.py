"""`--policy` and `spec.policy` as a user meets them: the text, JSON and markdown plans, exit codes, `grid apply`
of a saved plan that failed its policies or whose policy files changed since, `grid up` refusing before it
makes anything, and bad packs as diagnostics."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from support.cli import TRACEBACK, grid
from support.paths import EXAMPLES, LOCAL_LAB
from support.schemas import validate

NATIONAL = EXAMPLES / "national" / "cluster.yaml"
CARBON = EXAMPLES / "policies" / "carbon-budget"
FACILITY = EXAMPLES / "policies" / "facility-power"
ALWAYS_FAILS = """\
from grid.policy import Finding, policy

@policy(name="no-new-nodes", level="mandatory", description="nothing new this week")
def no_new_nodes(plan, config):
    for change in plan.pending():
        if change.kind == "node" and change.action == "create":
            yield Finding(config.get("why", "no new nodes"), address=change.address)
"""


def lab_with_policy(directory: Path, pack_text: str | None = ALWAYS_FAILS) -> tuple[Path, str]:
    """The local lab as `directory`/cluster.yaml (a `po` name, fabrics in 198.19.80.0/20) naming the pack
    policies/gate next to it in spec.policy."""
    data = yaml.safe_load(LOCAL_LAB.read_text())
    name = "po" + uuid.uuid4().hex[:6]
    data["metadata"]["name"] = name
    fabrics = [fabric for region in data["spec"]["regions"] for fabric in region["fabrics"]]
    for number, fabric in enumerate(fabrics):
        fabric["cidr"] = f"198.19.{80 + number}.0/24"
    if pack_text is not None:
        data["spec"]["policy"] = {"packs": ["policies/gate"]}
        (directory / "policies" / "gate").mkdir(parents=True)
        (directory / "policies" / "gate" / "gate.py").write_text(pack_text)
    spec = directory / "cluster.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec, name


@pytest.fixture(scope="module")
def national_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`grid plan` of the national example with the shipped carbon budget, saved: (plan file, work dir)."""
    workdir = tmp_path_factory.mktemp("national")
    saved = workdir / "plan.json"
    run = grid("plan", str(NATIONAL), "--workdir", str(workdir), "--policy", str(CARBON), "--out", str(saved),
               "--detailed-exitcode")
    assert run.code == 3, run.output  # a mandatory policy failed (with --detailed-exitcode: 3, not 1 or 2)
    assert "Policies:" in run.stdout
    assert "FAIL  carbon-budget/tco2-budget: zhongwei: 122,777 tCO2/yr is over the budget of 100,000" in run.stdout
    assert "advisory  carbon-budget/tco2-near-budget: helinger" in run.stdout
    assert "error: 1 mandatory policy finding(s): carbon-budget/tco2-budget" in run.stderr
    assert TRACEBACK not in run.output
    return saved, workdir


def test_the_saved_national_plan_records_the_findings_the_packs_and_their_digest(
        national_plan: tuple[Path, Path]) -> None:
    document = json.loads(national_plan[0].read_text())
    policy = document["policy"]
    assert policy["passed"] is False and policy["digest"].startswith("sha256:")
    assert [p["name"] for p in policy["packs"]] == ["carbon-budget"]
    assert policy["packs"][0]["path"] == str(CARBON.resolve())
    assert [(f["policy"], f["level"], f["blocking"]) for f in policy["findings"]] == [
        ("tco2-budget", "mandatory", True), ("tco2-near-budget", "advisory", False)]


def test_grid_apply_refuses_the_national_plan_that_failed_its_policies(national_plan: tuple[Path, Path]) -> None:
    saved, workdir = national_plan
    run = grid("apply", str(saved), "--workdir", str(workdir), "--yes")
    assert run.code == 1, run.output
    assert ("error: the saved plan failed its policies and cannot be applied: 1 mandatory policy finding(s): "
            "carbon-budget/tco2-budget: zhongwei") in run.stderr
    assert TRACEBACK not in run.output


def test_the_markdown_and_json_plans_show_the_policies(tmp_path: Path) -> None:
    markdown = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(CARBON),
                    "--format", "markdown")
    assert markdown.code == 1, markdown.output
    assert "#### Policies" in markdown.stdout
    assert "⛔ 2 policies in 1 pack(s) (carbon-budget): FAILED: 1 mandatory finding(s)" in markdown.stdout
    assert ("| **FAIL** | `carbon-budget/tco2-budget` | zhongwei | 122,777 tCO2/yr is over the budget of "
            "100,000 tCO2/yr |") in markdown.stdout
    passing = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(FACILITY), "--json")
    assert passing.code == 0, passing.output
    document = json.loads(passing.stdout)
    assert document["policy"]["passed"] is True and document["policy"]["findings"] == []


def test_a_plan_without_packs_has_no_policy_section(tmp_path: Path) -> None:
    run = grid("plan", str(LOCAL_LAB), "--workdir", str(tmp_path), "--json")
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["policy"] is None


def test_grid_apply_refuses_a_plan_whose_policy_files_changed_since(tmp_path: Path) -> None:
    spec, _ = lab_with_policy(tmp_path, pack_text=None)
    pack = tmp_path / "caps"
    shutil.copytree(FACILITY, pack)
    saved = tmp_path / "plan.json"
    made = grid("plan", str(spec), "--workdir", str(tmp_path / "wd"), "--policy", str(pack), "--out", str(saved))
    assert made.code == 0, made.output
    assert "1 policy in 1 pack(s) (facility-power): passed" in made.stdout
    validate(json.loads(saved.read_text()), "grid-plan-v1")  # the documented format, policy key included
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text().replace("default_cap_mw: 60",
                                                                            "default_cap_mw: 600"))
    run = grid("apply", str(saved), "--workdir", str(tmp_path / "wd"), "--yes")
    assert run.code == 1, run.output
    assert f"error: the policy files changed since the plan was made: facility-power ({pack})" in run.stderr
    assert "plan again" in run.stderr


def test_the_spec_packs_run_on_every_plan_and_grid_up_refuses_before_making_anything(tmp_path: Path) -> None:
    spec, name = lab_with_policy(tmp_path)
    plan = grid("plan", str(spec), "--workdir", str(tmp_path / "wd"))
    assert plan.code == 1, plan.output
    assert "FAIL  gate/no-new-nodes: east/train/node-0000: no new nodes" in plan.stdout
    up = grid("up", str(spec), "--workdir", str(tmp_path / "wd"), "--yes", "--skip-check")
    assert up.code == 1, up.output
    assert "error: grid up refused, nothing was changed: 4 mandatory policy finding(s): gate/no-new-nodes" in up.stderr
    assert TRACEBACK not in up.output
    made = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                          check=True).stdout.split()
    networks = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                              check=True).stdout.split()
    assert not [n for n in made + networks if name in n]
    assert not (tmp_path / "wd" / "state.json").exists()


def test_the_spec_pack_that_is_missing_is_a_diagnostic_at_its_line(tmp_path: Path) -> None:
    spec, _ = lab_with_policy(tmp_path)
    shutil.rmtree(tmp_path / "policies")
    run = grid("validate", str(spec))
    assert run.code == 1, run.output
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), 1) if "policies/gate" in text)
    assert f"cluster.yaml:{line}:" in run.output and "policies/gate does not exist" in run.output


@pytest.mark.parametrize(("setup", "words"), [
    ("missing", "does not exist"),
    ("empty", "has no policies (no .py or .rego file in it)"),
    ("bad-yaml", "pack.yaml:1:1: unknown key 'thresholds' in pack.yaml"),
])
def test_a_bad_policy_dir_is_an_error_exit_1(tmp_path: Path, setup: str, words: str) -> None:
    pack = tmp_path / "pack"
    if setup != "missing":
        pack.mkdir()
    if setup == "bad-yaml":
        (pack / "gate.py").write_text(ALWAYS_FAILS)
        (pack / "pack.yaml").write_text("thresholds: {cap: 5}\n")
    run = grid("plan", str(LOCAL_LAB), "--workdir", str(tmp_path / "wd"), "--policy", str(pack))
    assert run.code == 1, run.output
    assert words in run.stderr and run.stderr.startswith("error: ")
    assert TRACEBACK not in run.output
