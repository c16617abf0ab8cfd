"""podman.py: a node's storage mounts as podman binds (options podman takes; subdirs inside the volume)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grid.drivers.podman import CLUSTER_LABEL, Podman, PodmanError
from grid.stacks.local_provider import _bind


class Recording(Podman):
    def __init__(self, mountpoint: Path | None = None) -> None:
        super().__init__(env={})
        self.calls: list[list[str]] = []
        self.mountpoint = mountpoint

    def run(self, args: Sequence[str], *, check: bool = True, input: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        out = json.dumps([{"Mountpoint": str(self.mountpoint)}]) if args[:2] == ["volume", "inspect"] else "id\n"
        return subprocess.CompletedProcess(list(args), 0, out, "")


def volume_args(podman: Recording) -> list[str]:
    (run,) = [c for c in podman.calls if c[0] == "run"]
    return [run[i + 1] for i, arg in enumerate(run) if arg == "--volume"]


def test_plain_and_optioned_binds() -> None:
    podman = Recording()
    podman.container_run("n", "img", "h", [("net", None)], volumes=[
        ("vol", "/shared"), ("vol", "/datasets", ["ro", "noatime", "nosuid"]), ("vol", "/ckpt", ["vers=4.1"])],
        labels={CLUSTER_LABEL: "t"}, authorized_key="k")
    # noatime and key=value options belong to a real file system's mount: a podman bind does not take them.
    assert volume_args(podman) == ["vol:/shared", "vol:/datasets:ro,nosuid", "vol:/ckpt"]


def test_a_subdir_is_made_inside_the_volume_and_bound(tmp_path: Path) -> None:
    podman = Recording(tmp_path)
    props: dict[str, Any] = {"volume": "vol", "mount": "/datasets", "options": ["ro"], "subdir": "data/sets"}
    assert _bind(podman, props) == (str(tmp_path / "data" / "sets"), "/datasets", ["ro"])
    assert (tmp_path / "data" / "sets").is_dir()
    assert _bind(podman, {"volume": "vol", "mount": "/shared"}) == ("vol", "/shared", [])


def test_a_subdir_planted_as_a_symlink_out_of_the_volume_is_refused(tmp_path: Path) -> None:
    (tmp_path / "vol").mkdir()
    (tmp_path / "vol" / "escape").symlink_to(tmp_path)
    with pytest.raises(PodmanError, match="outside the volume"):
        Recording(tmp_path / "vol").volume_directory("vol", "escape")
