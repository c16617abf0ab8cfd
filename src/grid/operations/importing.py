"""Writing what `grid import` found: the spec file and the state, both or neither, never over what exists.

The state write is the commit: the spec goes to a temporary file beside --out first, the state is written
under the state's lock, and only then is the spec renamed into place (a rename is atomic). A Ctrl-C or a
failure before the state write leaves nothing behind; the temporary file is removed on any way out.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grid.drivers.ssh import ensure_passphrase
from grid.errors import OperationFailed
from grid.importing.hosts import HostImportOptions
from grid.importing.hosts import import_hosts as _import_hosts
from grid.importing.model import Imported
from grid.state import State, append_history, history_entry, open_store, workdir_for
from grid.state.errors import StateError

COMMAND = "grid import"


def import_hosts(options: HostImportOptions) -> Imported:
    """Hosts that already run, read over SSH (nothing on them changed): what to write. Nothing is written yet."""
    return _import_hosts(options)


@dataclass(frozen=True)
class Recorded:
    """What record_import wrote."""

    spec_path: Path
    state_where: str  # where the state is kept, for messages (never with a password)
    serial: int
    added: tuple[str, ...]  # resource and host addresses newly recorded
    kept: tuple[str, ...] = ()  # addresses already in the state (merge): left exactly as they were


def record_import(spec_out: Path, imported: Imported, *, workdir: Path | None, store_location: str | None,
                  merge: bool) -> Recorded:
    """Write `imported.spec_text` to `spec_out` and `imported.state` to the cluster's state.

    Without `merge`, an existing `spec_out` or an existing state is refused (nothing written). With `merge`,
    the state's records are kept as they are and only addresses it does not have are added; `spec_text` is
    then expected to describe the whole cluster (what was there and what was added) and replaces `spec_out`.
    """
    cluster = imported.cluster
    if spec_out.exists() and not merge:
        raise OperationFailed(f"{spec_out} already exists: grid import never overwrites a spec",
                              "pass --merge to add the hosts found to it, or choose another --out")
    try:
        directory = workdir_for(spec_out, workdir, cluster)
        store = open_store(store_location, workdir=directory, cluster=cluster)
        with store.lock(COMMAND):
            current = store.read()
            if current is not None and not merge:
                raise OperationFailed(
                    f"cluster '{cluster}' already has a state in {store.where} (serial {current.serial}): "
                    "grid import never overwrites one",
                    "pass --merge to add only the hosts it does not have, or --workdir/--state for another place")
            serial = current.serial if current is not None else 0
            base = current.state if current is not None else None
            state, added, kept = _merged(base, imported.state)
            state = append_history(state, history_entry(serial + 1, COMMAND, spec_digest=state.spec_digest))
            ensure_passphrase(directory)  # the next run finds the cluster's identity whole (grid.identity)
            temp = spec_beside(spec_out, imported.spec_text)
            try:
                written = store.write(state, serial)
                os.replace(temp, spec_out)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
    except StateError as exc:
        raise OperationFailed(exc.message, exc.hint) from None
    return Recorded(spec_out, store.where, written.serial, added, kept)


def _merged(base: State | None, found: State) -> tuple[State, tuple[str, ...], tuple[str, ...]]:
    """`found` over nothing, or `base` with `found`'s new resources and hosts added (none replaced)."""
    added = tuple(sorted(set(found.resources) | set(found.hosts)))
    if base is None:
        return found, added, ()
    if base.cluster != found.cluster:
        raise OperationFailed(f"the state found is of cluster '{base.cluster}', the import is of '{found.cluster}'",
                              "use --cluster with the state's cluster name, or another --workdir/--state")
    resources = {**{a: r for a, r in found.resources.items() if a not in base.resources}, **base.resources}
    hosts = {**{a: h for a, h in found.hosts.items() if a not in base.hosts}, **base.hosts}
    new = tuple(sorted((set(found.resources) - set(base.resources)) | (set(found.hosts) - set(base.hosts))))
    kept = tuple(sorted(set(added) - set(new)))
    # The spec written describes the whole cluster now: its digest and JSON form go with it.
    merged = base.model_copy(update={
        "resources": resources, "hosts": hosts, "spec_digest": found.spec_digest,
        "applied_spec": found.applied_spec, "rendered_digest": found.rendered_digest or base.rendered_digest,
        "admin_public_key": base.admin_public_key or found.admin_public_key,
    })
    return merged, new, kept


def spec_beside(spec_out: Path, text: str) -> Path:
    """The spec written and fsynced next to where it goes; the caller renames it into place once the state is."""
    directory = spec_out.absolute().parent
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix=f".{spec_out.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return Path(name)
