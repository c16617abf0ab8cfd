"""A Rego pack as a user meets it: `grid plan examples/national/cluster.yaml --policy PACK` blocks with exit 1 and
the finding in the text, JSON and markdown plans; a broken .rego is an error finding at its file:line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from support.cli import TRACEBACK, grid
from support.paths import EXAMPLES
from support.schemas import validate

pytestmark = pytest.mark.skipif(shutil.which("opa") is None,
                                reason="the OPA CLI is not on PATH (`make setup` builds it into .tools/bin)")

NATIONAL = EXAMPLES / "national" / "cluster.yaml"
SHIPPED = EXAMPLES / "policies" / "accelerator-allowlist-rego"
FINDING = "accelerator-allowlist-rego/allowed_accelerators: wuhu/infer: pool infer uses mi300x, which is not on " \
          "the allowed list"


@pytest.fixture(scope="module")
def without_mi300x(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped Rego allowlist with mi300x (wuhu's inference pool) taken off the list."""
    pack = tmp_path_factory.mktemp("packs") / "allowlist"
    shutil.copytree(SHIPPED, pack)
    settings = yaml.safe_load((pack / "pack.yaml").read_text())
    settings["config"]["allowed"].remove("mi300x")
    (pack / "pack.yaml").write_text(yaml.safe_dump(settings))
    return pack


def test_the_rego_pack_blocks_the_national_plan_in_text_and_the_saved_json(without_mi300x: Path,
                                                                           tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    run = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(without_mi300x), "--out",
               str(saved))
    assert run.code == 1, run.output
    assert "Policies:" in run.stdout and f"FAIL  {FINDING}" in run.stdout
    assert f"error: 1 mandatory policy finding(s): {FINDING}" in run.stderr
    document = json.loads(saved.read_text())
    validate(document, "grid-plan-v1")  # the documented format, with the Rego pack's policy names
    policy = document["policy"]
    assert policy["passed"] is False
    assert policy["packs"][0]["policies"] == ["allowed_accelerators"]
    assert [(f["policy"], f["level"], f["address"], f["blocking"]) for f in policy["findings"]] == [
        ("allowed_accelerators", "mandatory", "wuhu/infer", True)]
    refused = grid("apply", str(saved), "--workdir", str(tmp_path), "--yes")
    assert refused.code == 1 and "the saved plan failed its policies" in refused.stderr, refused.output


def test_the_markdown_plan_shows_the_rego_finding(without_mi300x: Path, tmp_path: Path) -> None:
    run = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(without_mi300x),
               "--format", "markdown")
    assert run.code == 1, run.output
    assert ("| **FAIL** | `accelerator-allowlist-rego/allowed_accelerators` | wuhu/infer | pool infer uses mi300x, "
            "which is not on the allowed list |") in run.stdout


def test_the_shipped_rego_pack_passes_and_a_parse_error_names_its_line(tmp_path: Path) -> None:
    passing = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(SHIPPED), "--json")
    assert passing.code == 0, passing.output
    assert json.loads(passing.stdout)["policy"]["passed"] is True
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "gate.rego").write_text("package gate\n\ndeny[msg] {\n\tmsg := \"v0 syntax\"\n}\n")
    run = grid("plan", str(NATIONAL), "--workdir", str(tmp_path), "--policy", str(broken), "--json")
    assert run.code == 1, run.output
    findings = json.loads(run.stdout)["policy"]["findings"]
    assert findings[0]["level"] == "error" and findings[0]["blocking"] is True
    assert findings[0]["message"].startswith("gate.rego:3: ") and "rego_parse_error" in findings[0]["message"]
    assert TRACEBACK not in run.output
