"""check.py: each mount of a node mounted at its path, ro or rw as asked; each directory with its mode."""

from __future__ import annotations

from typing import Any

from grid.check import mounts_findings, mounts_probe

ATTRS: dict[str, Any] = {
    "mounts": [{"storage": "pfs", "path": "/checkpoints", "options": ["rw", "noatime"], "subdir": None},
               {"storage": "pfs", "path": "/datasets", "options": ["ro"], "subdir": "datasets"}],
    "directories": [{"storage": "scratch", "path": "/mnt/localssd", "mode": "1777"}],
}


def test_the_probe_names_every_path_once() -> None:
    command = mounts_probe(ATTRS)
    assert command.count("findmnt -n -o OPTIONS --mountpoint /checkpoints") == 1
    assert "--mountpoint /datasets" in command and "stat -c %a /mnt/localssd" in command


def test_all_as_asked() -> None:
    out = ("mount /checkpoints rw,nosuid,relatime writable\nmount /datasets ro,relatime not-writable\n"
           "mode /mnt/localssd 1777\n")
    assert mounts_findings(out, ATTRS) == [("mount:/checkpoints", True, ""), ("mount:/datasets", True, ""),
                                           ("mode:/mnt/localssd", True, "")]


def test_wrong_access_missing_mount_and_mode_are_problems() -> None:
    out = "mount /checkpoints  not-writable\nmount /datasets rw,relatime writable\nmode /mnt/localssd 755\n"
    found = {check: problem for check, ok, problem in mounts_findings(out, ATTRS) if not ok}
    assert found == {
        "mount:/checkpoints": "pfs: nothing mounted at /checkpoints",
        "mount:/datasets": "pfs: /datasets is mounted rw, the spec says ro",
        "mode:/mnt/localssd": "scratch: /mnt/localssd has mode 755, the spec says 1777",
    }


def test_a_rw_mount_that_cannot_be_written_and_a_missing_directory() -> None:
    out = "mount /checkpoints rw not-writable\nmount /datasets ro not-writable\nmode /mnt/localssd \n"
    found = {check: problem for check, ok, problem in mounts_findings(out, ATTRS) if not ok}
    assert found == {"mount:/checkpoints": "pfs: /checkpoints is not writable here",
                     "mode:/mnt/localssd": "scratch: no directory /mnt/localssd"}


def test_no_output_fails_every_check() -> None:
    assert [ok for _, ok, _ in mounts_findings("", ATTRS)] == [False, False, False]
