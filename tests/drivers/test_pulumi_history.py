"""Pulumi's history of a stack stays bounded: two checkpoint copies per update, never removed by Pulumi,
filled the disk of a long-lived cluster (27 MB after 200 runs of a 9-node lab region)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grid.drivers import pulumi_automation
from grid.drivers.pulumi_automation import AutomationEngine
from grid.drivers.pulumi_history import names_to_remove, prune_history
from support.pulumi_runs import PROJECT, STACK, pulumi_missing, run_pulumi_up


def _update_files(stack: str, stamp: int) -> tuple[list[str], list[str]]:
    """What Pulumi's file backend writes for one update: (history directory, backups directory) names."""
    history = [f"{stack}-{stamp}.{kind}.json{attrs}" for kind in ("history", "checkpoint") for attrs in ("", ".attrs")]
    return history, [f"{stack}.{stamp}.json", f"{stack}.{stamp}.json.attrs"]


def test_the_newest_entries_are_kept_with_their_sidecars_and_nothing_unknown_is_chosen() -> None:
    stamps = [1796627403589972702 + i * 10**9 for i in range(6)]
    history = [name for stamp in stamps for name in _update_files("east", stamp)[0]]
    backups = [name for stamp in stamps for name in _update_files("east", stamp)[1]]
    strangers = ["notes.txt", "east-1.history.json.1881f7c2a3b4c5d6.tmp", "east-2-5.history.json",
                 "east-x.history.json", "west-5.history.json", "east.gz"]
    chosen = set(names_to_remove([*history, *backups, *strangers], "east", history_kept=4, checkpoints_kept=2))
    old_history = {f"east-{s}.history.json{a}" for s in stamps[:2] for a in ("", ".attrs")}
    old_checkpoints = {f"east-{s}.checkpoint.json{a}" for s in stamps[:4] for a in ("", ".attrs")}
    old_backups = {f"east.{s}.json{a}" for s in stamps[:4] for a in ("", ".attrs")}
    assert chosen == old_history | old_checkpoints | old_backups
    gzipped = [f"east-{s}.checkpoint.json.gz" for s in stamps]  # PULUMI_DIY_BACKEND_GZIP's names
    assert names_to_remove(gzipped, "east", checkpoints_kept=1) == gzipped[:-1]
    assert set(names_to_remove(history, "east", history_kept=0, checkpoints_kept=0)) == set(history)


def test_a_missing_or_unreadable_backend_is_no_error(tmp_path: Path) -> None:
    assert prune_history(f"file://{tmp_path}/nothing", PROJECT, STACK) == []
    root = tmp_path / ".pulumi" / "history" / PROJECT
    root.mkdir(parents=True)
    (root / STACK).write_text("not a directory")
    assert prune_history(f"file://{tmp_path}", PROJECT, STACK) == []
    assert prune_history("s3://bucket", PROJECT, STACK) == []


def test_every_operation_that_writes_the_stack_prunes_its_history_first(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(pulumi_automation, "prune_history",
                        lambda url, project, stack, env=None: calls.append((url, project, stack)) or [])
    engine = AutomationEngine(project=PROJECT, target="local", workdir=tmp_path, passphrase_file=tmp_path / "pp")

    class _Stack:
        def export_stack(self) -> Any:
            return type("Deployment", (), {"deployment": {}, "version": 3})()

    engine._recover(_Stack(), STACK)  # type: ignore[arg-type]  # what up and destroy run before Pulumi
    assert calls == [(engine.backend_url, PROJECT, STACK)]


def _stack_history(backend_url: str, home: Path, cwd: Path) -> list[dict[str, Any]]:
    (cwd / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    env = {**os.environ, "PULUMI_BACKEND_URL": backend_url, "PULUMI_HOME": str(home),
           "PULUMI_CONFIG_PASSPHRASE": "test", "PULUMI_SKIP_UPDATE_CHECK": "true"}
    ran = subprocess.run(["pulumi", "stack", "history", "--json", "--stack", f"organization/{PROJECT}/{STACK}"],
                         cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return list(json.loads(ran.stdout))


@pytest.mark.e2e
def test_a_real_stacks_history_is_pruned_and_pulumi_goes_on_with_it(tmp_path: Path) -> None:
    if reason := pulumi_missing():
        pytest.skip(reason)
    backend, home = tmp_path / "backend", tmp_path / "pulumi-home"
    backend.mkdir()
    url = f"file://{backend}"
    for _ in range(3):
        assert run_pulumi_up(url, home).returncode == 0
    history = backend / ".pulumi" / "history" / PROJECT / STACK
    backups = backend / ".pulumi" / "backups" / PROJECT / STACK
    written = sorted(p.name for p in history.iterdir())
    assert len([n for n in written if n.endswith(".checkpoint.json")]) == 3, written  # Pulumi's layout, as assumed

    removed = prune_history(url, PROJECT, STACK, history_kept=2, checkpoints_kept=1)

    assert len([n for n in os.listdir(history) if n.endswith(".history.json")]) == 2
    assert len([n for n in os.listdir(history) if n.endswith(".checkpoint.json")]) == 1
    assert len([n for n in os.listdir(backups) if n.endswith(".json")]) <= 1
    assert all(not Path(p).exists() for p in removed) and not list(history.glob("*.attrs.attrs"))
    assert run_pulumi_up(url, home).returncode == 0  # Pulumi reads and writes the stack as before
    assert len(_stack_history(url, home, tmp_path)) == 3  # the two kept and the new one
    assert prune_history(url, PROJECT, STACK, history_kept=2, checkpoints_kept=1)  # and prunes again
