"""`grid state migrate`: move a cluster's state between its work directory and PostgreSQL, whole.

Whole means both halves: grid's envelope (copied byte for byte: same serial, lineage and checksum) and the
Pulumi stacks of the regions (exported from the old backend, imported into the new one), since a grid state
without its stacks would make the next `up` create everything again. Both stores are locked throughout.
The source is left as it was, as a backup; the copy is verified by reading it back and comparing checksums.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.state import codec
from grid.state.errors import StateCorrupted, StateError
from grid.state.roles import StateLocation, StateStore
from grid.workspace import Workspace

Say = Callable[[str], None]


@dataclass(frozen=True)
class Migrated:
    serial: int
    lineage: str
    checksum: str
    stacks: tuple[str, ...]  # Pulumi stacks (regions) copied
    already: bool  # the destination already held this very version


def where(store: StateLocation) -> str:
    """A store's location for messages (never with a password)."""
    return store.where


def migrate_state(ws: Workspace, dest: StateStore, *, say: Say = lambda _: None) -> Migrated:
    source = ws.store
    if where(source) == where(dest):
        raise StateError(f"the state of cluster '{ws.cluster.name}' is already kept in {where(dest)}",
                         "--to names where it should go; --state (or GRID_STATE) where it is now")
    command = f"grid state migrate --to {where(dest)}"
    with source.lock(command), dest.lock(command):
        raw = source.pull()
        if raw is None:
            raise StateError(f"there is no state of cluster '{ws.cluster.name}' in {where(source)} to migrate",
                             "--state (or GRID_STATE) says where the state is now")
        envelope = codec.decode(raw, f"the state in {where(source)}")
        stacks = copy_stacks(ws, source, dest, say=say)
        already = dest.import_envelope(raw)
        copied = dest.pull()
        check = codec.decode(copied, f"the migrated state in {where(dest)}") if copied else None
        # From the copy's bytes, by its own format's rule (an older format is upgraded in the model, not here).
        recomputed = codec.recomputed_checksum(copied) if copied else ""
        if check is None or (check.serial, check.lineage, check.checksum) != (
                envelope.serial, envelope.lineage, envelope.checksum) or recomputed != envelope.checksum:
            raise StateCorrupted(f"the copy in {where(dest)} does not verify against {where(source)}",
                                 f"the original in {where(source)} is untouched; run the migration again")
    return Migrated(envelope.serial, envelope.lineage, envelope.checksum, stacks, already)


# -- Pulumi ----------------------------------------------------------------------------------------------

def copy_stacks(ws: Workspace, source: StateStore, dest: StateStore, *, say: Say) -> tuple[str, ...]:
    """Export every stack of the cluster's Pulumi project from the source backend into the destination's."""
    if not ws.target.traits.creates_infrastructure:
        return ()  # no Pulumi stacks: hosts are tracked in grid's state only
    old_backend, new_backend = source.pulumi_backend(), dest.pulumi_backend()
    if old_backend.url == new_backend.url:
        return ()
    from pulumi import automation as auto

    from grid.identity import resolve_identity
    from grid.render.pulumi import project_name
    from grid.state.model import empty_state

    recorded = source.read()
    identity = resolve_identity(ws.workdir, ws.cluster.name,
                                recorded.state if recorded else empty_state(ws.cluster.name))
    project, passphrase = project_name(ws.cluster.name), identity.passphrase_file
    with tempfile.TemporaryDirectory(prefix="grid-migrate-") as tmp:
        old = admin_workspace(auto, old_backend.url, old_backend.env, project, passphrase, Path(tmp) / "from")
        new = admin_workspace(auto, new_backend.url, new_backend.env, project, passphrase, Path(tmp) / "to")
        try:
            names = sorted(s.name.rsplit("/", 1)[-1] for s in old.list_stacks())
            existing = {s.name.rsplit("/", 1)[-1] for s in new.list_stacks()}
            for name in names:
                deployment = old.export_stack(name)
                if name not in existing:
                    new.create_stack(name)
                new.import_stack(name, deployment)
                count = len((new.export_stack(name).deployment or {}).get("resources") or [])
                expected = len((deployment.deployment or {}).get("resources") or [])
                if count != expected:
                    raise StateCorrupted(f"Pulumi stack {name} has {count} resources after the copy, "
                                         f"{expected} before", "run the migration again")
                say(f"Pulumi stack {name}: {count} resource(s) copied")
        except auto.CommandError as exc:
            message = str(exc).strip().splitlines()[-3:]
            raise StateError("copying the Pulumi stacks failed: " + " ".join(message),
                             "the grid state was not migrated; fix the cause and run the migration again") from None
    return tuple(names)


def admin_workspace(auto: Any, url: str, backend_env: Mapping[str, str], project: str, passphrase: Path,
                    work: Path) -> Any:
    """A Pulumi workspace for moving stacks' state (export, import, remove), not for running programs."""
    work.mkdir(parents=True, exist_ok=True)
    if url.startswith("file://"):
        Path(url[len("file://"):]).mkdir(parents=True, exist_ok=True)
    env = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
           **backend_env}  # e.g. PGPASSWORD: never in Pulumi.yaml, the URL carries no password
    settings = auto.ProjectSettings(name=project, runtime="python", backend=auto.ProjectBackend(url=url))
    return auto.LocalWorkspace(work_dir=str(work), project_settings=settings, env_vars=env)
