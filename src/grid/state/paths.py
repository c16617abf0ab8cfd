"""Where a cluster's state lives on disk."""

from __future__ import annotations

from pathlib import Path

from grid.state._osutil import DIR_MODE
from grid.state.errors import StateError


def workdir_for(spec_path: Path, override: Path | None, cluster: str, *, create: bool = True) -> Path:
    """`override`, or `<spec dir>/.grid/<cluster>/`; created 0700 (state may hold host keys and IPs).

    `create=False` is for read-only commands, which should not leave empty directories behind.
    """
    if override is not None:
        path = override
    else:
        if not cluster or cluster in (".", "..") or "/" in cluster or "\\" in cluster or "\0" in cluster:
            raise StateError(f"cluster name {cluster!r} cannot name a directory",
                             "use a DNS-label name in metadata.name, or pass --workdir")
        path = spec_path.absolute().parent / ".grid" / cluster
        if create:
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if create:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path
