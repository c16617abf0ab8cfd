"""Where a cluster's state lives on disk."""

from __future__ import annotations

from pathlib import Path

from grid.state._osutil import DIR_MODE
from grid.state.errors import StateError


def workdir_for(spec_path: Path, override: Path | None, cluster: str, *, create: bool = True) -> Path:
    """`override`, or `<spec dir>/.grid/<cluster>/`; created 0700 (state may hold host keys and IPs).

    A spec that is not a regular file (`/dev/stdin`, `<(…)`, a FIFO) has no directory of its own: state
    next to it would land in /dev or /proc and look like a new, empty cluster, so `override` is required.
    `create=False` is for read-only commands, which should not leave empty directories behind.
    """
    if override is not None:
        # Absolute: Ansible, Pulumi's workers and the gate plugin run in other directories than grid.
        path = override.absolute()
    else:
        if not _has_own_directory(spec_path):
            raise StateError(f"the spec {spec_path} is not a regular file of its own (a pipe, device or "
                             "/dev/stdin), so there is no directory next to it to keep the cluster's state in",
                             "pass --workdir DIR (the directory that holds this cluster's state), or save the "
                             "spec to a file")
        if not cluster or cluster in (".", "..") or "/" in cluster or "\\" in cluster or "\0" in cluster:
            raise StateError(f"cluster name {cluster!r} cannot name a directory",
                             "use a DNS-label name in metadata.name, or pass --workdir")
        path = spec_path.absolute().parent / ".grid" / cluster
    if path.exists() and not path.is_dir():
        raise StateError(f"the work directory {path} is a file, not a directory",
                         "pass --workdir with a directory, or move that file away")
    if create:
        try:
            if override is None:  # .grid too is 0700 (parents=True would make it with the umask's mode)
                path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StateError(f"cannot make the work directory {path}: a part of that path is a file",
                             "pass --workdir with a directory, or move that file away") from None
        except PermissionError:
            raise StateError(f"cannot make the work directory {path}: permission denied",
                             "pass --workdir with a directory you can write to") from None
    return path


def _has_own_directory(spec_path: Path) -> bool:
    # /dev/stdin redirected from a file is a regular file too, but its directory is still /dev.
    if spec_path.absolute().parts[1:2] in (("dev",), ("proc",)):
        return False
    return not spec_path.exists() or spec_path.is_file()
