"""`grid plan --format markdown`: a pull-request comment that puts counts, replaced nodes and energy first."""

from __future__ import annotations

import json
from pathlib import Path

from grid.cli.views.markdown import MAX_ROWS, plan_markdown
from grid.plan import Action, AttributeChange, Cause, HostConfigChange, Plan, Policy, ResourceChange
from grid.plan.document import from_document
from support.cli import grid
from support.paths import EXAMPLES
from support.specs import lab_spec


def node(address: str, action: Action, *, reason: str = "new in spec", cause: Cause = Cause.SPEC,
         attributes: tuple[AttributeChange, ...] = ()) -> ResourceChange:
    return ResourceChange(address=address, kind="node", region=address.split("/")[0], action=action, cause=cause,
                          attributes=attributes, reason=reason, after=None if action is Action.DELETE else {})


def lab_capacity(tmp_path: Path) -> dict[str, object]:
    spec, _ = lab_spec(tmp_path)
    run = grid("plan", str(spec), "--json")
    assert run.code == 0, run.output
    return dict(json.loads(run.stdout)["capacity"])


def test_replaced_nodes_deletions_and_drift_are_called_out(tmp_path: Path) -> None:
    image = AttributeChange("image", "grid-node:old", "grid-node:new", Policy.REPLACES)
    changes = (
        *(node(f"east/train/node-{i:04d}", Action.CREATE) for i in range(4, 8)),
        node("east/train/node-0001", Action.REPLACE, reason="image changed", attributes=(image,)),
        node("west/infer/node-0003", Action.DELETE, reason="not in spec"),
        node("west/infer/node-0000", Action.CREATE, reason="missing on the target", cause=Cause.DRIFT),
        node("west/infer/node-0001", Action.NOOP, reason=""),
    )
    plan = Plan(cluster="lab", target="local", spec_digest="sha256:" + "ab" * 32, state_serial=7,
                state_lineage="l", changes=changes,
                config=(HostConfigChange("east/train/node-0004", "full", "new"),),
                capacity=lab_capacity(tmp_path))
    text = plan_markdown(plan, spec_path="clusters/lab.yaml", grid_version="0.1.0")
    assert text.startswith("### grid plan: `lab` (target local)\n")
    assert "Plan: **5** to create, **0** to update, **1** to replace, **1** to delete, **1** host(s) to configure." \
        in text
    assert "> **Warning: 1 resource(s) replaced** (1 node(s))" in text and "local disks and running jobs" in text
    assert "| `east/train/node-0001` | node | image changed | `image`: `grid-node:old` → `grid-node:new` |" in text
    assert "**Deleted (1):** `west/infer/node-0003`" in text
    assert "**Drift repaired:** 1 resource(s)" in text and "`west/infer/node-0000`" in text
    # a run of identical node changes is one row; unchanged resources are not listed
    assert "| `+` | `east/train/node-0004` … `node-0007` (4 nodes) | node | new in spec |  |" in text
    assert "node-0001` | node |  |" not in text and "<details><summary>All changes (7)</summary>" in text
    assert "#### Energy and capacity" in text and "Facility power **" in text and "tCO2/yr" in text
    assert "| **total** |" in text
    assert "<sub>`clusters/lab.yaml` · state serial 7 · spec `sha256:abababababab…` · grid 0.1.0</sub>" in text


def test_no_changes_says_so_with_the_documented_field() -> None:
    plan = Plan(cluster="lab", target="local", spec_digest="sha256:" + "0" * 64, state_serial=3, state_lineage="l",
                changes=(node("east/train/node-0000", Action.NOOP, reason=""),))
    text = plan_markdown(plan)
    assert "**No changes.** The cluster matches the spec (`has_changes: false`)." in text
    assert "<details>" not in text and "Warning" not in text


def test_markdown_cells_cannot_break_the_table() -> None:
    weird = AttributeChange("labels", "a|b", "c`d", Policy.REPLACES)
    plan = Plan(cluster="lab", target="local", spec_digest="sha256:" + "0" * 64, state_serial=0, state_lineage="",
                changes=(node("east/train/node-0000", Action.REPLACE, reason="x|y", attributes=(weird,)),))
    row = next(line for line in plan_markdown(plan).splitlines() if line.startswith("| `east/train/node-0000`"))
    assert row.count(" | ") == 3 and "x\\|y" in row and "`a\\|b`" in row and "`c'd`" in row


def test_a_national_plan_fits_a_pull_request_comment(tmp_path: Path) -> None:
    spec = EXAMPLES / "national" / "cluster.yaml"
    saved = tmp_path / "plan.json"
    run = grid("plan", str(spec), "--format", "markdown", "--out", str(saved), "--workdir", str(tmp_path / "w"))
    assert run.code == 0, run.output
    text = run.stdout
    assert len(text) < 65536, "GitHub rejects comments over 65,536 characters"
    plan = from_document(json.loads(saved.read_text()))
    assert f"**{plan.counts()['create']}** to create" in text
    assert text.count("\n| `+` |") <= MAX_ROWS
    regions = plan.capacity["summary"]["regions"]
    assert all(f"| {r['name']} |" in text for r in regions) and "#### Energy and capacity" in text
