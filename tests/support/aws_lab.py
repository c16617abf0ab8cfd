"""The AWS lab example opened as a workspace: the operations tests' cluster (engines faked, no cloud)."""

from __future__ import annotations

from pathlib import Path

from grid.workspace import Workspace, open_workspace
from support.paths import EXAMPLES

AWS_LAB = EXAMPLES / "targets" / "lab-aws.yaml"


def aws_lab_workspace(tmp_path: Path) -> Workspace:
    opened = open_workspace(AWS_LAB, workdir=tmp_path / "work")
    assert isinstance(opened, Workspace)
    return opened
