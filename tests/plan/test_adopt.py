"""Issue 14: plans of a target that never creates machines (`existing`) say `adopt`, never `create` — in the
plan model, its text, its JSON document and its markdown; plans of creating targets are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from grid.cli.views.plan import plan_lines
from grid.cli.views.result import plan_counts
from grid.drift import drift_report
from grid.plan import Action, Cause, LiveResource, Plan, ResourceChange, make_plan
from grid.plan.document import from_document, to_document
from grid.plan.model import adopts, new_resource_action
from grid.resources import expand
from grid.spec import load_spec_text
from grid.spec.targets import TARGET_TRAITS
from grid.state.model import ResourceRecord, State
from grid.targets.existing import existing_nodes
from support.cli import grid
from support.paths import EXAMPLES
from support.schemas import validate

EXISTING = EXAMPLES / "targets" / "existing.yaml"


def plan_of(target: str, action: Action, reason: str = "") -> Plan:
    changes = tuple(ResourceChange(f"dc1/gpu/node-{i:04d}", "node", "dc1", action, reason=reason, after={})
                    for i in range(3))
    return Plan(cluster="c", target=target, spec_digest="sha256:" + "0" * 64, state_serial=0, state_lineage="",
                changes=changes)


def test_the_action_follows_the_targets_traits() -> None:
    for name, traits in TARGET_TRAITS.items():
        assert adopts(name) is (not traits.creates_infrastructure), name
        assert new_resource_action(name) is (Action.CREATE if traits.creates_infrastructure else Action.ADOPT)
    assert Action.ADOPT.symbol == "<=" and Action.ADOPT.makes and Action.CREATE.makes
    assert not Action.UPDATE.makes


def test_counts_of_an_adopting_plan_have_no_create_and_others_no_adopt() -> None:
    adopting = plan_of("existing", Action.ADOPT).counts()
    assert adopting["adopt"] == 3 and "create" not in adopting
    creating = plan_of("local", Action.CREATE).counts()
    assert list(creating) == ["create", "update", "replace", "delete", "no-op"] and creating["create"] == 3
    assert plan_counts(plan_of("existing", Action.ADOPT)) == {"adopt": 3, "update": 0, "replace": 0, "delete": 0,
                                                              "configure": 0}


def test_an_existing_plan_says_adopt_in_text_json_and_markdown(tmp_path: Path) -> None:
    workdir = str(tmp_path / "w")
    text = grid("plan", str(EXISTING), "--workdir", workdir)
    assert text.code == 0, text.output
    assert "Plan: 4 to adopt, 0 to update" in text.stdout
    assert "<= dc1/gpu/node-0000 … node-0001 (2 nodes)  (in spec, not adopted yet)" in text.stdout
    assert "create" not in text.stdout and "new in spec" not in text.stdout

    run = grid("plan", str(EXISTING), "--workdir", workdir, "--json")
    assert run.code == 0, run.output
    doc = json.loads(run.stdout)
    validate(doc, "grid-plan-v1")
    assert doc["summary"]["adopt"] == 4 and "create" not in doc["summary"]
    assert {c["action"] for c in doc["changes"]} == {"adopt"} and {c["symbol"] for c in doc["changes"]} == {"<="}
    assert "create" not in run.stdout.replace("created", "")  # not as an action, a count or a reason
    saved = from_document(doc)
    assert all(c.action is Action.ADOPT for c in saved.changes) and saved.counts()["adopt"] == 4

    markdown = grid("plan", str(EXISTING), "--workdir", workdir, "--format", "markdown")
    assert markdown.code == 0, markdown.output
    assert "Plan: **4** to adopt, **0** to update" in markdown.stdout
    assert "| `<=` | `dc1/gpu/node-0000` … `node-0001` (2 nodes) | node | in spec, not adopted yet |  |" \
        in markdown.stdout
    assert " to create" not in markdown.stdout and "new in spec" not in markdown.stdout


def test_a_creating_targets_plan_and_document_are_unchanged() -> None:
    plan = plan_of("local", Action.CREATE, "new in spec")
    lines = [line for line, _ in plan_lines(plan)]
    assert lines[-1] == "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete, 0 host(s) to configure."
    doc = to_document(plan)
    assert doc["summary"] == {"create": 3, "update": 0, "replace": 0, "delete": 0, "no-op": 0, "configure": 0,
                              "drifted": 0}
    assert {c["action"] for c in doc["changes"]} == {"create"} and {c["symbol"] for c in doc["changes"]} == {"+"}
    validate(doc, "grid-plan-v1")


def test_make_plan_adopts_new_and_missing_machines_of_existing() -> None:
    loaded = load_spec_text(EXISTING.read_text().replace("{inventory: inventories/example/hosts.yml}",
                                                         "{hosts: [{name: dc1-gpu-0000, address: 198.18.100.10, "
                                                         "region: dc1, pool: gpu}, {name: dc1-gpu-0001, "
                                                         "address: 198.18.100.11, region: dc1, pool: gpu}]}"))
    assert loaded.cluster is not None, loaded.diagnostics
    graph = expand(loaded.cluster, fixed_hosts=existing_nodes(loaded.cluster))
    fresh = make_plan(graph, None, target="existing", spec_digest="sha256:" + "0" * 64)
    assert {c.action for c in fresh.changes} == {Action.ADOPT}
    assert {c.reason for c in fresh.changes} == {"in spec, not adopted yet"}
    state = State(cluster=graph.cluster, resources={
        r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region, attrs=dict(r.attrs))
        for r in graph})
    node = next(r.address for r in graph if r.kind.value == "node")
    again = make_plan(graph, state, target="existing", spec_digest="sha256:" + "0" * 64,
                      live={node: LiveResource(exists=False, detail="host not pinned")})
    missing = next(c for c in again.changes if c.address == node)
    assert missing.action is Action.ADOPT and missing.cause is Cause.DRIFT
    report = drift_report(again, state, None)
    assert [i.remedy for i in report.items] == ["adopt it again (`grid up`)"]
