"""The machine-readable documents CI reads: real outputs validated against docs/schemas, the saved plan's
round trip, the documented `has_changes` field and exit codes, and `grid apply` refusing a plan that no longer
fits (spec changed, state moved on) before it touches anything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from grid.drift import DriftItem, DriftReport
from grid.plan.document import from_document, to_document
from grid.state import FileStateStore, State, workdir_for
from support.cli import grid
from support.paths import EXAMPLES, REPO
from support.schemas import SCHEMAS, schema, validate
from support.specs import lab_spec

DOCS = REPO / "docs"


@pytest.mark.parametrize("example", ["local-lab", "national"])
def test_real_plan_documents_match_the_schema(tmp_path: Path, example: str) -> None:
    spec = EXAMPLES / example / "cluster.yaml"
    run = grid("plan", str(spec), "--json", "--workdir", str(tmp_path / "w"))
    assert run.code == 0, run.output
    doc = json.loads(run.stdout)
    validate(doc, "grid-plan-v1")
    assert doc["has_changes"] is True and doc["state"] == {"serial": 0, "lineage": ""}
    assert doc["spec"]["path"] == str(spec)


def test_saved_plan_round_trips_and_detailed_exitcode_says_changes(tmp_path: Path) -> None:
    spec, _ = lab_spec(tmp_path)
    saved = tmp_path / "plan.json"
    run = grid("plan", str(spec), "--out", str(saved), "--detailed-exitcode")
    assert run.code == 2, run.output  # changes present
    assert f"grid apply {saved}" in run.stdout
    doc = json.loads(saved.read_text())
    validate(doc, "grid-plan-v1")
    again = to_document(from_document(doc), spec_path=doc["spec"]["path"], grid_version=doc["grid_version"])
    assert again == doc
    assert grid("plan", str(spec), "--detailed-exitcode", "--json").code == 2
    assert grid("plan", str(spec)).code == 0  # without the flag, changes are not an error


def test_drift_documents_match_the_schema() -> None:
    report = DriftReport("lab", (DriftItem("east/train/node-0000", "resource", "exists and running",
                                           "missing", "recreate it"),
                                 DriftItem("west/infer/node-0001", "configuration", "configured", "changed by hand",
                                           "re-run the playbook on this host only", ("sysctl",))),
                         {"east/train/node-0001": ("shell",)}, ("west/infer/node-0000",))
    doc = report.to_dict()
    validate(doc, "grid-drift-v1")
    assert doc["drifted"] is True
    validate(DriftReport("lab", ()).to_dict(), "grid-drift-v1")


def test_the_schemas_reject_what_is_wrong() -> None:
    with pytest.raises(Exception, match=r"format|grid-plan/v1|has_changes"):
        validate({"format": "grid-plan/v2"}, "grid-plan-v1")
    with pytest.raises(Exception, match=r"drifted|boolean|True"):
        validate({"format": "grid-drift/v1", "cluster": "x", "drifted": "yes", "items": [], "unverifiable": {},
                  "unreachable": []}, "grid-drift-v1")


def test_apply_refuses_a_plan_whose_spec_changed(tmp_path: Path) -> None:
    spec, _ = lab_spec(tmp_path)
    saved = tmp_path / "plan.json"
    assert grid("plan", str(spec), "--out", str(saved)).code == 0
    data = yaml.safe_load(spec.read_text())
    data["spec"]["regions"][1]["pools"][0]["count"] = 3
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    run = grid("apply", str(saved), "--yes", "--json")
    assert run.code == 1
    assert "no longer matches the saved plan" in run.stderr and "plan again" in run.stderr
    doc = json.loads(run.stdout)
    validate(doc, "grid-result-v1")
    assert (doc["command"], doc["outcome"], doc["ok"]) == ("apply", "error", False)
    assert "no longer matches" in doc["error"]


def test_apply_refuses_a_stale_plan(tmp_path: Path) -> None:
    spec, name = lab_spec(tmp_path)
    saved = tmp_path / "plan.json"
    assert grid("plan", str(spec), "--out", str(saved)).code == 0
    FileStateStore(workdir_for(spec, None, name)).write(State(cluster=name), 0)  # someone applied meanwhile
    run = grid("apply", str(saved), "--yes")
    assert run.code == 1
    assert "the saved plan is stale" in run.stderr and "state is now serial 1" in run.stderr
    assert not list((workdir_for(spec, None, name)).glob("rendered/*")), "nothing may have been done"


def test_apply_explains_a_missing_or_foreign_plan(tmp_path: Path) -> None:
    run = grid("apply", str(tmp_path / "nope.json"), "--json")
    assert run.code == 1 and "no saved plan at" in run.stderr
    validate(json.loads(run.stdout), "grid-result-v1")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "grid-drift/v1"}))
    run = grid("apply", str(other))
    assert run.code == 1 and "not a usable saved plan" in run.stderr


def test_usage_errors_exit_1_not_2() -> None:
    """2 means "changes present" to a CI script: a typo in a flag must not look like it."""
    run = grid("plan", "x.yaml", "--detailed-exitcod")
    assert run.code == 1 and "No such option" in run.stderr


def test_docs_describe_every_field_and_exit_code() -> None:
    text = (DOCS / "plan-format.md").read_text()
    for name in ("grid-plan-v1", "grid-drift-v1", "grid-result-v1"):
        assert f"schemas/{name}.schema.json" in text
        for field in schema(name)["properties"]:
            assert f"`{field}`" in text, f"docs/plan-format.md does not describe {name} field {field}"
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == [
        "grid-drift-v1.schema.json", "grid-plan-v1.schema.json", "grid-result-v1.schema.json"]
    codes = (DOCS / "exit-codes.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+)\|", codes, re.MULTILINE))
    # 3: `grid plan --detailed-exitcode` made the plan but a mandatory policy failed on it (docs/policy.md).
    assert set(rows) == {"0", "1", "2", "3", "130"}
