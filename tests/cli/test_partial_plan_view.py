"""A partial plan (--target/--exclude) says so: first line of the text, a callout in markdown, `selection` in JSON."""

from __future__ import annotations

from grid.cli.views.markdown import plan_markdown
from grid.cli.views.plan import plan_lines
from grid.plan.document import to_document
from grid.plan.model import Action, HostConfigChange, Plan, ResourceChange
from grid.plan.selection import Selection

SELECTION = Selection(("east/a/*",), ("*/node-0009",), ("east/a/node-0001", "east/fabric/ib"), 12,
                      {"east/fabric/ib": "east/a/node-0001"},
                      ("left out: 1 host outside the selection would learn the new hosts table (the next full run "
                       "does it)",))


def _plan(selection: Selection | None = SELECTION) -> Plan:
    return Plan("c", "local", "d", 1, "l", (ResourceChange("east/fabric/ib", "fabric", "east", Action.CREATE),
                                           ResourceChange("east/a/node-0001", "node", "east", Action.CREATE)),
                config=(HostConfigChange("east/a/node-0001", "full", "new node"),), selection=selection)


def test_the_text_starts_by_saying_the_plan_is_partial() -> None:
    lines = [text for text, _ in plan_lines(_plan())]
    assert lines[0] == "Partial plan: --target east/a/* --exclude */node-0009 (2 of 12 resources)"
    assert "  pulled in: east/fabric/ib (needed by east/a/node-0001, which does not exist yet)" in lines
    assert any(line.startswith("  left out: 1 host outside the selection") for line in lines)
    assert not any("Partial" in text for text, _ in plan_lines(_plan(None)))


def test_no_changes_in_a_selection_is_not_the_whole_cluster_matching() -> None:
    empty = Plan("c", "local", "d", 1, "l", (), selection=SELECTION)
    assert [text for text, _ in plan_lines(empty)][-1] == "No changes in the selection."


def test_markdown_and_json_carry_the_selection() -> None:
    markdown = plan_markdown(_plan())
    assert "> **Partial plan: --target east/a/* --exclude */node-0009 (2 of 12 resources)**" in markdown
    assert "pulled in: east/fabric/ib" in markdown
    assert to_document(_plan())["selection"]["addresses"] == ["east/a/node-0001", "east/fabric/ib"]
