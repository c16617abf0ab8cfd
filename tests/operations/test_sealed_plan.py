"""A sealed plan (grid.operations.sealed): `grid plan` of an unchanged cluster answers from the seal its last full
no-op plan (or the apply that saved the state, after planning once more) left, with the same verdict, counts and
capacity — and any change of what a plan reads (the spec, the user's roles, the admin key, grid, the state file,
the seal or index themselves) makes the next plan a full one."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

import grid.operations.sealed as sealed_module
from grid import operations
from grid.plan.document import to_document
from grid.render.own import OwnFiles
from grid.state import seal
from grid.state.errors import StateCorrupted
from grid.workspace import Workspace, open_workspace
from support.aws_lab import AWS_LAB, aws_lab_workspace
from support.cli import invoke
from support.fakes import FakeStacks, RecordingAnsible

SEALED = operations.PlanOptions(sealed=True)
REPO = Path(__file__).resolve().parents[2]


def applied(tmp_path: Path) -> Workspace:
    ws = aws_lab_workspace(tmp_path)
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    outcome = operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                            emit=lambda e: None,
                            engines=operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible))
    assert outcome.ok
    return ws


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An applied cluster without the seal its apply left: the tests of plan-made seals start from a full plan."""
    made = applied(tmp_path)
    (made.workdir / seal.SEAL_FILE).unlink()
    return made


@pytest.fixture
def reads(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which way each plan read the state: "full" (every record) or "sealed"."""
    seen: list[str] = []
    full, sealed = ws.store.read, ws.store.read_sealed  # type: ignore[attr-defined]

    def read_full() -> Any:
        seen.append("full")
        return full()

    def read_sealed() -> Any:
        found = sealed()
        if found is not None:
            seen.append("sealed")
        return found

    monkeypatch.setattr(ws.store, "read", read_full)
    monkeypatch.setattr(ws.store, "read_sealed", read_sealed)
    return seen


def without_listing(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "changes"}


def test_the_plan_after_a_no_op_plan_answers_from_the_seal_with_the_same_verdict(
        ws: Workspace, reads: list[str]) -> None:
    full = operations.plan(ws, SEALED).plan
    again = operations.plan(ws, SEALED).plan
    assert reads == ["full", "sealed"]
    assert not full.has_changes and not again.has_changes
    assert without_listing(to_document(again)) == without_listing(to_document(full))
    assert again.counts() == full.counts() and again.counts()["no-op"] == len(full.changes) > 0
    assert again.changes == ()  # counted, not listed


def test_a_no_op_grid_up_seals_for_the_plans_that_follow(ws: Workspace, reads: list[str]) -> None:
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    outcome = operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                            emit=lambda e: None,
                            engines=operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible))
    assert outcome.status == "no-changes"
    assert not operations.plan(ws, SEALED).plan.has_changes
    assert reads == ["full", "sealed"]


def test_the_first_plan_after_grid_up_answers_from_the_seal_its_apply_left(tmp_path: Path) -> None:
    ws = applied(tmp_path)
    assert (ws.workdir / seal.SEAL_FILE).exists()
    full = operations.plan(ws).plan  # the same state read in full and planned
    sealed = operations.plan(ws, SEALED).plan
    assert sealed.changes == () and sealed.unlisted_unchanged == len(full.changes) > 0
    assert not full.has_changes and without_listing(to_document(sealed)) == without_listing(to_document(full))


def test_grid_apply_of_a_saved_plan_seals_as_grid_up_does(tmp_path: Path) -> None:
    ws = aws_lab_workspace(tmp_path)
    out = tmp_path / "plan.json"
    assert invoke("plan", str(AWS_LAB), "--workdir", str(ws.workdir), "--out", str(out)).code == 0
    saved = operations.load_saved_plan(out)
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    assert operations.apply_saved(ws, saved, operations.ApplySavedOptions(skip_check=True),
                                  approve=lambda *_: None, emit=lambda e: None,
                                  engines=operations.Engines(stacks=lambda *_: stacks,
                                                             ansible=lambda _: ansible)).ok
    assert operations.plan(ws, SEALED).plan.changes == ()


def test_a_failed_or_partial_apply_leaves_no_seal(tmp_path: Path) -> None:
    ws = aws_lab_workspace(tmp_path)
    failing, ansible = FakeStacks(["west"], seconds=(0.0, 0.0)), RecordingAnsible()
    engines = operations.Engines(stacks=lambda *_: failing, ansible=lambda _: ansible)
    assert not operations.up(ws, operations.UpOptions(skip_check=True), approve=lambda *_: None,
                             emit=lambda e: None, engines=engines).ok
    assert not (ws.workdir / seal.SEAL_FILE).exists()
    stacks = FakeStacks(seconds=(0.0, 0.0))
    engines = operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)
    assert operations.up(ws, operations.UpOptions(skip_check=True, targets=("east/**",)),
                         approve=lambda *_: None, emit=lambda e: None, engines=engines).ok
    assert not (ws.workdir / seal.SEAL_FILE).exists()  # west is still to do
    made = operations.plan(ws, SEALED).plan
    assert made.has_changes and listed(made)


def test_an_apply_whose_next_plan_still_has_work_is_not_sealed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing after an apply is verified by a plan, never assumed: here the apply records one host as
    configured with digests other than the plan's (as a run that left a host behind would)."""
    from grid.apply import run

    real = run.apply

    def leaves_a_host_behind(ctx: Any, plan: Any) -> Any:
        result = real(ctx, plan)
        address = sorted(result.state.hosts)[0]
        host = result.state.hosts[address]
        stale = {**result.state.hosts, address: host.model_copy(update={"node_digest": "sha256:" + "0" * 64})}
        ctx.writer.update(lambda s: s.model_copy(update={"hosts": stale}))
        return dataclasses.replace(result, state=ctx.writer.state, saved=ctx.writer.saved)

    monkeypatch.setattr(run, "apply", leaves_a_host_behind)
    ws = applied(tmp_path)
    assert not (ws.workdir / seal.SEAL_FILE).exists()
    assert operations.plan(ws, SEALED).plan.has_changes


def test_a_recorded_grid_check_seals_what_it_saved(ws: Workspace, reads: list[str]) -> None:
    from grid.health.results import CheckResult, Status
    from grid.health.runner import HealthReport, NodeHealth
    from grid.health.suites import Suite
    from grid.operations.health_check import _record

    full = operations.plan(ws, SEALED).plan
    address = next(c.address for c in full.changes if c.kind == "node")
    failing = CheckResult(address, "device.health", "3", Status.FAILED, "the tool says 'Alarm'", "OK")
    assert _record(ws, HealthReport(Suite.QUICK, (NodeHealth(address, "n", (failing,)),)),
                   "check --suite quick") == (True, "")
    after = operations.plan(ws, SEALED).plan  # the check wrote the state: sealed again, by a plan made then
    # The plan, the check's own read of the state it records in, then the plan from the seal.
    assert reads == ["full", "full", "sealed"]
    assert after.changes == () and after.unlisted_unchanged == len(full.changes)


def test_listing_unchanged_resources_always_reads_them(ws: Workspace, reads: list[str]) -> None:
    operations.plan(ws, SEALED)
    listed = operations.plan(ws).plan  # --json, --out, --show-unchanged
    assert reads == ["full", "full"] and len(listed.changes) == listed.counts()["no-op"]


def test_a_changed_spec_is_planned_in_full(ws: Workspace, tmp_path: Path) -> None:
    operations.plan(ws, SEALED)
    grown = tmp_path / "grown.yaml"
    grown.write_text(AWS_LAB.read_text().replace("count: 2", "count: 3", 1))
    other = open_workspace(grown, workdir=ws.workdir)
    assert isinstance(other, Workspace)
    made = operations.plan(other, SEALED).plan
    assert made.has_changes and any(c.action.value == "create" for c in made.changes)


def listed(made: Any) -> bool:
    """A full plan lists its unchanged resources; a sealed one counts them."""
    return bool(made.changes) and made.unlisted_unchanged == 0


def test_a_changed_role_key_or_grid_is_planned_in_full(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    operations.plan(ws, SEALED)
    assert not listed(operations.plan(ws, SEALED).plan)  # sealed
    own = dataclasses.replace(ws, own=OwnFiles(roles={"tuning": (("tasks/main.yml", "- debug: {}\n"),)}))
    assert listed(operations.plan(own, SEALED).plan)
    with monkeypatch.context() as patched:
        patched.setattr(sealed_module, "admin_public_key", lambda *_: "ssh-ed25519 AAAAnother")
        assert listed(operations.plan(ws, SEALED).plan)
    sealed_module.grid_build.cache_clear()
    try:
        with monkeypatch.context() as patched:
            patched.setattr(sealed_module, "__version__", "99.0.0")  # an upgraded grid
            assert listed(operations.plan(ws, SEALED).plan)
    finally:
        sealed_module.grid_build.cache_clear()


def test_any_state_write_breaks_the_seal(ws: Workspace, reads: list[str]) -> None:
    operations.plan(ws, SEALED)
    envelope = type(ws.store).read(ws.store)
    assert envelope is not None
    ws.store.write(envelope.state, envelope.serial)  # e.g. `grid check` recording a run
    operations.plan(ws, SEALED)
    assert reads == ["full", "full"]


@pytest.mark.parametrize("damage", ["seal-garbage", "seal-missing", "index-missing", "index-shifted",
                                    "index-of-another-file"])
def test_a_damaged_or_stale_hint_costs_a_full_plan_never_a_wrong_one(ws: Workspace, reads: list[str],
                                                                      damage: str) -> None:
    operations.plan(ws, SEALED)
    seal_file, index_file = ws.workdir / seal.SEAL_FILE, ws.workdir / seal.INDEX_FILE
    if damage == "seal-garbage":
        seal_file.write_text("{not json")
    elif damage == "seal-missing":
        seal_file.unlink()
    elif damage == "index-missing":
        index_file.unlink()
    elif damage == "index-shifted":
        index = json.loads(index_file.read_text())
        index["spans"]["resources"][0] += 7
        index_file.write_text(json.dumps(index))
    else:
        index = json.loads(index_file.read_text())
        index["checksum"] = "sha256:" + "0" * 64
        index_file.write_text(json.dumps(index))
    made = operations.plan(ws, SEALED).plan
    assert reads == ["full", "full"] and not made.has_changes and made.changes


def test_a_damaged_state_file_is_refused_as_a_full_read_refuses_it(ws: Workspace) -> None:
    operations.plan(ws, SEALED)
    path = ws.workdir / "state.json"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit in the records
    path.write_bytes(bytes(raw))
    with pytest.raises(StateCorrupted, match="failed its checksum"):
        operations.plan(ws, SEALED)


def test_a_second_checkout_without_the_seal_plans_in_full(ws: Workspace, tmp_path: Path) -> None:
    operations.plan(ws, SEALED)
    copy = tmp_path / "checkout" / "work"
    copy.mkdir(parents=True)
    (copy / "state.json").write_bytes((ws.workdir / "state.json").read_bytes())
    other = open_workspace(AWS_LAB, workdir=copy)
    assert isinstance(other, Workspace)
    first = operations.plan(other, SEALED).plan  # no index there: full, and sealed for the next
    assert not first.has_changes and first.changes


def test_a_read_only_work_directory_still_plans(ws: Workspace, reads: list[str]) -> None:
    (ws.workdir / seal.SEAL_FILE).unlink(missing_ok=True)
    os.chmod(ws.workdir, 0o500)
    try:
        made = operations.plan(ws, SEALED).plan
        again = operations.plan(ws, SEALED).plan
    finally:
        os.chmod(ws.workdir, 0o700)
    assert not made.has_changes and not again.has_changes
    if os.geteuid() != 0:  # root writes anyway
        assert reads == ["full", "full"]


def test_seal_and_index_hold_no_value_of_the_state(ws: Workspace) -> None:
    operations.plan(ws, SEALED)
    for name in (seal.SEAL_FILE, seal.INDEX_FILE):
        document = json.loads((ws.workdir / name).read_text())
        assert set(document) <= {"checksum", "inputs", "resources", "hosts", "spans"}
        assert "ssh-" not in json.dumps(document) and "BEGIN" not in json.dumps(document)


def test_an_edited_inventory_of_existing_hosts_is_planned_in_full(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text((REPO / "inventories" / "example" / "hosts.yml").read_text())
    spec = tmp_path / "existing.yaml"
    spec.write_text((REPO / "examples" / "targets" / "existing.yaml").read_text()
                    .replace("inventories/example/hosts.yml", str(inventory)))
    ws = open_workspace(spec, workdir=tmp_path / "work")
    assert isinstance(ws, Workspace)
    stacks, ansible = FakeStacks(seconds=(0.0, 0.0)), RecordingAnsible()
    assert operations.up(ws, operations.UpOptions(skip_check=True, trust_new_hosts=True), approve=lambda *_: None,
                         emit=lambda e: None,
                         engines=operations.Engines(stacks=lambda *_: stacks, ansible=lambda _: ansible)).ok
    operations.plan(ws, SEALED)
    assert not listed(operations.plan(ws, SEALED).plan)
    inventory.write_text(inventory.read_text().replace("198.18.100.10", "198.18.100.99"))
    moved = operations.plan(ws, SEALED).plan
    assert listed(moved) and moved.has_changes


def test_grid_plan_says_the_same_from_the_seal_and_json_still_lists_everything(ws: Workspace) -> None:
    args = ["plan", str(AWS_LAB), "--workdir", str(ws.workdir)]
    first = invoke(*args, "--detailed-exitcode")
    assert (ws.workdir / seal.SEAL_FILE).exists()
    second = invoke(*args, "--detailed-exitcode")
    assert first.code == second.code == 0 and first.stdout == second.stdout
    assert "No changes. The cluster matches the spec." in second.stdout
    document = json.loads(invoke(*args, "--json").stdout)
    assert document["summary"]["no-op"] == len(document["changes"]) > 0


def test_a_state_an_older_grid_wrote_gets_its_index_from_the_first_full_plan(ws: Workspace, reads: list[str]) -> None:
    (ws.workdir / seal.INDEX_FILE).unlink()  # as a grid before seals left it
    operations.plan(ws, SEALED)
    operations.plan(ws, SEALED)
    assert reads == ["full", "sealed"]
