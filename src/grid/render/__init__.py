"""Render: spec + resources → the files Pulumi and Ansible run. Pure and deterministic."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from grid.render.leftovers import NO_LEFTOVERS, Leftovers
from grid.render.own import NO_OWN_FILES, OwnFiles

if TYPE_CHECKING:  # `grid validate` reads grid.render.own and grid.render.ansible_roles: not the resource graph
    from grid.resources import ResourceGraph
    from grid.spec.model import Cluster

Files = dict[str, str]


def render_cluster(cluster: Cluster, graph: ResourceGraph, *, admin_public_key: str,
                   own: OwnFiles = NO_OWN_FILES, leftovers: Leftovers = NO_LEFTOVERS) -> Files:
    """`own`: the user's roles and scripts the spec names (grid.validate.roles.own_files); `leftovers`: what the
    spec last applied left on the nodes that this one removes (grid.render.leftovers.leftovers_of the state)."""
    # Imported here: `grid validate` reads grid.render.own and must not load the renderers (Jinja2 with them).
    from grid.render.ansible import render_ansible
    from grid.render.images import cloud_build_steps
    from grid.render.pulumi import render_pulumi

    files = render_pulumi(cluster, graph, authorized_key=admin_public_key)
    for path, text in render_ansible(cluster, graph, admin_public_key=admin_public_key, own=own,
                                     leftovers=leftovers).items():
        files[f"ansible/{path}"] = text
    files.update(cloud_build_steps(cluster))  # a cloud without an id for a pool's image: the user builds it
    return dict(sorted(files.items()))


def tree_digest(files: Files) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return "sha256:" + digest.hexdigest()


MANIFEST = ".grid-rendered"


def write_tree(files: Files, out_dir: Path) -> list[str]:
    """Write files that differ (atomically); remove files grid rendered before and no longer renders.

    Only paths listed in the previous manifest are ever removed, so a user's own files in
    the output directory are safe.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for rel, text in files.items():
        target = out_dir / rel
        if target.is_file() and target.read_text() == text:
            continue
        _write_atomic(target, text)
        changed.append(rel)
    manifest = out_dir / MANIFEST
    previous = manifest.read_text().splitlines() if manifest.is_file() else []
    for rel in previous:
        if rel and rel not in files and _inside(out_dir, rel) and (out_dir / rel).is_file():
            (out_dir / rel).unlink()
            changed.append(rel)
    listing = "\n".join(sorted(files)) + "\n"
    if not manifest.is_file() or manifest.read_text() != listing:
        _write_atomic(manifest, listing)
    return sorted(changed)


def _inside(out_dir: Path, rel: str) -> bool:
    """A manifest entry names a file in out_dir: the manifest is a file anyone could have edited, and an
    entry like `../x` must never make grid delete outside the directory it renders into."""
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts:
        return False
    return (out_dir / path).resolve().is_relative_to(out_dir.resolve())


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".render-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
