"""known_hosts shared by region runs of one work directory at once (`grid up --region`).

Each run writes the host keys of the nodes its state knows; a run of another region started earlier does not
know the nodes made since, so its rewrite would drop their keys under the other run's Ansible. Once region
runs happen in a work directory, a rewrite keeps the lines of hosts it does not know (under a file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

REGION_RENDERED = Path("rendered") / "regions"  # grid.workspace.Workspace.rendered_dir of a region run


def region_runs_here(workdir: Path) -> bool:
    return (workdir / REGION_RENDERED).is_dir()


@contextlib.contextmanager
def known_hosts_locked(path: Path) -> Iterator[None]:
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lines_of_others(path: Path, known: set[str]) -> list[tuple[list[str], str]]:
    """The entries of `path` none of whose names is in `known` (hosts the writing run does not know)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    kept = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        names = parts[0].split(",")
        if not known.intersection(names):
            kept.append((names, f"{parts[1]} {parts[2]}"))
    return kept
