"""Validators of storage as nodes mount it: `mount` or `mounts`, options, modes, subdirs and capacity.

Paths inside system trees are refused by grid.validate.safety and two storages at one path of a pool by
grid.validate.references; both walk the mounts through `mount_entries`, so every finding points at the
field the user wrote (`mount`, or `mounts[i].path`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error
from grid.spec.model import Cluster, Storage, StorageMount
from grid.validate.base import Validator

REGIONS: Path = ("spec", "regions")

KNOWN_OPTIONS: dict[str, str] = {
    "ro": "read-only", "rw": "read-write (the default)", "noatime": "no access-time updates",
    "nodiratime": "no access-time updates of directories", "relatime": "access times updated lazily",
    "nosuid": "set-user-id bits ignored", "nodev": "device files ignored", "noexec": "programs not run from it",
    "sync": "writes synchronous", "async": "writes asynchronous", "hard": "NFS: retry for ever",
    "soft": "NFS: give up after retrans", "noresvport": "NFS: any source port", "flock": "Lustre: flock",
    "localflock": "Lustre: local flock", "nofail": "boot goes on without it", "_netdev": "needs the network",
}
"""Option words grid passes on; `key=value` options (vers=4.1, rsize=1048576) pass as written."""

CONFLICTS = (("ro", "rw"), ("sync", "async"), ("hard", "soft"), ("noatime", "relatime"))
NEEDS_CAPACITY = ("parallel-fs", "nfs", "block")
"""Kinds grid builds a volume of a size for; an object bucket or a node's own scratch has no size to give."""


def mount_entries(region_index: int, s: int, storage: Storage) -> Iterator[tuple[Path, StorageMount]]:
    """(config path of the mount's path, the mount) of each place `storage` appears on its nodes."""
    base = (*REGIONS, region_index, "storage", s)
    if storage.mounts:
        for m, mount in enumerate(storage.mounts):
            yield (*base, "mounts", m, "path"), mount
    elif storage.mount:
        yield (*base, "mount"), StorageMount(path=storage.mount)


def storage_mount_given(cluster: Cluster) -> Iterator[Diagnostic]:
    """Exactly one of `mount` and `mounts`; the paths of one storage distinct."""
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            path = (*REGIONS, r, "storage", s)
            if storage.mount and storage.mounts:
                yield error(f"storage '{storage.name}' has both 'mount' and 'mounts'", (*path, "mount"),
                            code="storage.mount-twice",
                            hint="keep 'mounts' and put this path in it as one more entry: '- path: "
                                 f"{storage.mount}'")
            elif not storage.mount and not storage.mounts:
                yield error(f"storage '{storage.name}' is mounted nowhere", path, code="storage.no-mount",
                            hint="add 'mount: /data' (one place) or 'mounts: [{path: /data}]' (one or more)")
            if storage.kind == "block" and len(storage.mounts) > 1:
                yield error(f"storage '{storage.name}' (block) has {len(storage.mounts)} mounts",
                            (*path, "mounts", 1), code="storage.block-mounts",
                            detail="block storage is one disk per node, formatted and mounted at one path",
                            hint="mount it once, or use nfs or parallel-fs storage to mount one volume twice")
            seen: dict[str, int] = {}
            for m, mount in enumerate(storage.mounts):
                if mount.path in seen:
                    yield error(f"storage '{storage.name}' mounts twice at {mount.path}",
                                (*path, "mounts", m, "path"), code="storage.mount-collision",
                                hint=f"give each mount its own path (mounts[{seen[mount.path]}] is there already)")
                seen.setdefault(mount.path, m)


def storage_capacity_known(cluster: Cluster) -> Iterator[Diagnostic]:
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            if storage.capacity_tib is None and storage.kind in NEEDS_CAPACITY:
                yield error(f"storage '{storage.name}' ({storage.kind}) has no capacity_tib",
                            (*REGIONS, r, "storage", s), code="storage.capacity",
                            detail=f"grid sizes {storage.kind} volumes by it",
                            hint="add 'capacity_tib: 10' (TiB); object and local-scratch storage need none")


def mount_options_valid(cluster: Cluster) -> Iterator[Diagnostic]:
    """Known option words, no contradiction, no repeat; a mode only where grid can set it; subdirs only of
    shared storage."""
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            for m, mount in enumerate(storage.mounts):
                path = (*REGIONS, r, "storage", s, "mounts", m)
                yield from _options(storage, mount, path)
                if mount.mode is not None and mount.read_only:
                    yield error(f"storage '{storage.name}' at {mount.path}: a mode on a read-only mount",
                                (*path, "mode"), code="storage.mode-read-only",
                                detail="grid sets the mode through the mount; a read-only one cannot change it",
                                hint="set the mode on a read-write mount of the same directory, or drop it")
                if mount.subdir is not None and storage.kind in ("local-scratch", "object", "block"):
                    yield error(f"storage '{storage.name}' ({storage.kind}) at {mount.path}: subdir is for "
                                "shared file systems", (*path, "subdir"), code="storage.subdir-kind",
                                hint="use subdir with parallel-fs or nfs storage, or mount a path of its own")


def _options(storage: Storage, mount: StorageMount, path: Path) -> Iterator[Diagnostic]:
    words = [option.partition("=")[0] for option in mount.options]
    for o, option in enumerate(mount.options):
        word = words[o]
        if "=" not in option and word not in KNOWN_OPTIONS:
            near = difflib.get_close_matches(word, list(KNOWN_OPTIONS), n=1)
            yield error(f"storage '{storage.name}' at {mount.path}: unknown mount option '{option}'",
                        (*path, "options", o), code="storage.mount-option",
                        hint=(f"did you mean '{near[0]}'? " if near else "")
                        + "known: " + ", ".join(KNOWN_OPTIONS) + "; or key=value (like vers=4.1)")
        elif word in words[:o]:
            yield error(f"storage '{storage.name}' at {mount.path}: option '{word}' given twice",
                        (*path, "options", o), code="storage.mount-option", hint="keep one")
    for a, b in CONFLICTS:
        if a in words and b in words:
            yield error(f"storage '{storage.name}' at {mount.path}: options '{a}' and '{b}' contradict",
                        (*path, "options", words.index(b)), code="storage.mount-option", hint="keep one of them")


VALIDATORS: list[Validator] = [storage_mount_given, storage_capacity_known, mount_options_valid]
