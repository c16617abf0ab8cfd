"""`grid render SPEC --out DIR`: the Pulumi projects and Ansible files `grid up` would run."""

from __future__ import annotations

from pathlib import Path

import typer

from grid.render import write_tree
from grid.workspace import render as render_files

from .. import common, console


def register(app: typer.Typer) -> None:
    app.command("render")(render)


def render(
    spec: Path = common.SPEC,
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the rendered files to."),
    workdir: Path | None = common.WORKDIR,
) -> None:
    """Write per-region Pulumi projects and the Ansible playbook + inventory (deterministic). On a cloud target
    the cluster's SSH key is made first if there is none yet (as `grid up` would), so the programs run as written."""
    ws = common.workspace(spec, workdir)
    _, state = ws.read_state()
    files = render_files(ws, state)
    changed = write_tree(files, out)
    console.out().print(f"rendered {len(files)} file(s) into {out} ({len(changed)} changed)", markup=False)
