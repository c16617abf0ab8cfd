"""History helpers and where the work directory lives."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from grid.state import (
    ChangeRecord,
    FileStateStore,
    StateError,
    append_history,
    empty_state,
    history_entry,
    workdir_for,
)


def test_append_history_returns_a_new_state() -> None:
    state = empty_state("lab")
    entry = history_entry(1, "grid apply cluster.yaml", changes=[ChangeRecord(address="a", action="create")])
    updated = append_history(state, entry)
    assert state.history == []  # the original is a value: untouched
    assert updated.history == [entry]
    assert updated.history[0].user and updated.history[0].at.endswith("Z")


def test_append_history_limit_keeps_the_newest() -> None:
    state = empty_state("lab")
    for serial in range(1, 6):
        state = append_history(state, history_entry(serial, f"cmd {serial}"), limit=3)
    assert [e.serial for e in state.history] == [3, 4, 5]


def test_history_travels_with_the_state(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    state = append_history(empty_state("lab"), history_entry(1, "grid apply", outcome="partial"))
    store.write(state, 0)
    envelope = FileStateStore(tmp_path).read()
    assert envelope is not None and envelope.state.history[0].outcome == "partial"


def test_workdir_default_is_next_to_the_spec_and_private(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "cluster.yaml"
    spec.parent.mkdir()
    workdir = workdir_for(spec, None, "lab")
    assert workdir == tmp_path / "specs" / ".grid" / "lab"
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o700


def test_workdir_override_and_read_only_lookup(tmp_path: Path) -> None:
    assert workdir_for(tmp_path / "c.yaml", tmp_path / "elsewhere", "lab") == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere").is_dir()
    looked_up = workdir_for(tmp_path / "c.yaml", None, "other", create=False)
    assert not looked_up.exists()


def test_a_relative_workdir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--workdir w` once reached Ansible's gate plugin as "w/gates-…", which it looked for in its own working
    # directory: the configuration of every new node waited there for an hour.
    monkeypatch.chdir(tmp_path)
    workdir = workdir_for(Path("c.yaml"), Path("w"), "lab")
    assert workdir.is_absolute() and workdir == tmp_path / "w"


@pytest.mark.parametrize("name", ["", "..", "a/b", "."])
def test_workdir_rejects_names_that_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(StateError, match="cannot name a directory"):
        workdir_for(tmp_path / "c.yaml", None, name)


def test_accounts_removed_compares_the_applied_spec_with_the_new_one() -> None:
    from grid.state.history import account_removals, accounts_removed, removed_accounts_of

    def spec(admin: str, *users: str) -> dict[str, object]:
        return {"spec": {"configuration": {"admin_user": admin, "users": [{"name": u} for u in users]}}}

    assert accounts_removed(spec("gridadmin", "alice", "bob"), spec("gridadmin", "bob")) == ["alice"]
    assert accounts_removed(spec("gridadmin", "alice"), spec("ops", "alice")) == ["gridadmin"]
    assert accounts_removed(spec("gridadmin"), spec("gridadmin", "carol")) == []
    assert accounts_removed(None, spec("gridadmin")) == []  # nothing applied yet
    entry = history_entry(3, "grid up", changes=account_removals(["alice"]))
    assert removed_accounts_of(entry) == ["alice"]
    assert removed_accounts_of(history_entry(4, "grid up", changes=[ChangeRecord(address="a", action="create")])) == []
