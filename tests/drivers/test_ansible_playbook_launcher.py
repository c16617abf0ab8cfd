"""grid runs Ansible's own command through a launcher that imports it with the cyclic GC paused (issue 20,
grid.drivers.ansible_playbook): the same command, arguments and exit codes, first on the run's PATH."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from grid.drivers import ansible_playbook
from grid.drivers.ansible import RunnerAnsible

REAL = Path(sys.executable).parent / "ansible-playbook"


def test_the_launcher_is_ansible_playbook_with_the_same_answers(tmp_path: Path) -> None:
    launchers = ansible_playbook.launcher_dir(tmp_path / "ansible-bin")
    assert launchers == tmp_path / "ansible-bin"
    launcher = launchers / "ansible-playbook"
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o700
    for args in (["--version"], ["--no-such-option"], [str(tmp_path / "missing.yml")]):
        ours = subprocess.run([str(launcher), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        theirs = subprocess.run([str(REAL), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  connection: local\n"
                        "  tasks:\n    - ansible.builtin.debug: {msg: from grid's launcher}\n")
    run = subprocess.run([str(launcher), "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0 and "from grid's launcher" in run.stdout, run.stdout + run.stderr


def test_the_launcher_is_written_once_and_mended_when_changed(tmp_path: Path) -> None:
    directory = tmp_path / "ansible-bin"
    launcher = ansible_playbook.launcher_dir(directory)
    assert launcher is not None
    path = launcher / "ansible-playbook"
    text, written = path.read_text(), path.stat().st_mtime_ns
    assert ansible_playbook.launcher_dir(directory) == directory and path.stat().st_mtime_ns == written
    path.write_text("#!/bin/sh\nexit 3\n")
    ansible_playbook.launcher_dir(directory)
    assert path.read_text() == text
    assert sys.executable in text and "-P -m grid.drivers.ansible_playbook" in text
    assert [p.name for p in directory.iterdir()] == ["ansible-playbook"]  # no temp file left


def test_a_run_finds_the_launcher_first_on_its_path(tmp_path: Path) -> None:
    env = RunnerAnsible(tmp_path).envvars(tmp_path, tmp_path / "key", tmp_path / "known_hosts", strategy="linear")
    first, second = env["PATH"].split(os.pathsep)[:2]
    assert first == str((tmp_path / "ansible-bin").resolve()) and second == str(REAL.parent)


def test_without_ansible_beside_the_interpreter_its_own_command_runs(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))  # an interpreter with no ansible-playbook
    assert ansible_playbook.launcher_dir(tmp_path / "ansible-bin") is None
    assert not (tmp_path / "ansible-bin").exists()
