"""`grid state …`: look at, export, repair and move the stored state of a cluster.

Thin views over grid.state: every StateError becomes a message plus a recovery hint. Every subcommand works on
the state wherever it lives: state.json in the work directory, or a team database (--state / GRID_STATE).
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml

from grid.spec import load_spec
from grid.state import (
    Envelope,
    State,
    StateCorrupted,
    StateError,
    StateLocation,
    StateReader,
    StateStore,
    StateTooNew,
    open_store,
    workdir_for,
)
from grid.state.history import removed_accounts_of
from grid.workspace import Workspace

from .. import common, console

state_app = typer.Typer(
    name="state", no_args_is_help=True, rich_markup_mode=None,
    help="Inspect, export, repair and move the stored state: list, show, history, pull, unlock, restore, "
         "migrate.",
)

_SPEC = typer.Argument(..., help="Cluster spec (YAML); its metadata.name selects the state.")
_WORKDIR = typer.Option(None, "--workdir",
                        help="Directory holding state.json [default: <spec dir>/.grid/<cluster>].")
_JSON = typer.Option(False, "--json", help="Print a JSON document instead of text.")
_STATE = common.STATE


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    try:
        yield
    except StateError as exc:
        raise console.CommandFailed(exc.message, hint=exc.hint) from None


def _open(spec: Path, workdir: Path | None, location: str | None = None) -> tuple[StateStore, str]:
    loaded = load_spec(str(spec))
    if not loaded.ok or loaded.cluster is None:
        console.print_diagnostics(loaded.diagnostics, loaded.source)
        raise typer.Exit(1)
    name = loaded.cluster.name
    with _failures():
        # Read-only views must not leave empty work directories behind; restore needs existing backups.
        directory = workdir_for(spec, workdir, name, create=False)
        return open_store(common.state_location(location), workdir=directory, cluster=name,
                          lease_seconds=common.lease_seconds()), name


def _where(store: StateLocation) -> str:
    return store.where


def _read(store: StateReader) -> Envelope | None:
    with _failures():
        return store.read()


def _require(store: StateStore, name: str) -> Envelope:
    envelope = _read(store)
    if envelope is None:
        raise console.CommandFailed(f"there is no state for cluster '{name}' in {_where(store)}",
                                    hint="`grid up SPEC` creates it; --workdir / --state point elsewhere")
    return envelope


def _print(text: str) -> None:
    console.out().print(text, markup=False)


def _print_lines(lines: list[str]) -> None:
    # Plain write: listings of 10^5 rows would take minutes through rich's per-line rendering.
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


@state_app.command("list")
def list_(spec: Path = _SPEC, workdir: Path | None = _WORKDIR, json_output: bool = _JSON,
          location: str | None = _STATE) -> None:
    """List the addresses in the state with their kind, region and configuration status."""
    store, name = _open(spec, workdir, location)
    envelope = _read(store)
    rows = _rows(envelope.state) if envelope else []
    if json_output:
        console.print_json(rows)
        return
    if envelope is None:
        console.err(f"no state yet for cluster '{name}' in {_where(store)}")
        return
    width = max((len(r["address"]) for r in rows), default=7)
    _print_lines([f"{r['address']:<{width}}  {r['kind'] or '-':<8} {r['region'] or '-':<12} {r['status']}"
                  .rstrip() for r in rows])


def _rows(state: State) -> list[dict[str, str]]:
    rows = []
    for address in sorted({*state.resources, *state.hosts}):
        resource, host = state.resources.get(address), state.hosts.get(address)
        rows.append({"address": address, "kind": resource.kind if resource else "",
                     "region": resource.region if resource else "", "status": host.status if host else ""})
    return rows


@state_app.command("show")
def show(spec: Path = _SPEC, address: str = typer.Argument(..., help="Address, e.g. east/gpu/node-0007."),
         workdir: Path | None = _WORKDIR, json_output: bool = _JSON, location: str | None = _STATE) -> None:
    """Show one resource (and its host configuration record) as stored."""
    store, name = _open(spec, workdir, location)
    state = _require(store, name).state
    resource, host = state.resources.get(address), state.hosts.get(address)
    if resource is None and host is None:
        close = _did_you_mean(address, {*state.resources, *state.hosts})
        hint = f"did you mean {', '.join(close)}?" if close else "`grid state list SPEC` shows the addresses"
        raise console.CommandFailed(f"'{address}' is not in the state of cluster '{name}'", hint=hint)
    doc: dict[str, Any] = {"address": address}
    if resource is not None:
        doc.update(resource.model_dump(mode="json", exclude={"address"}))
    if host is not None:
        doc["host"] = host.model_dump(mode="json", exclude={"address"})
    if json_output:
        console.print_json(doc)
    else:
        _print(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip())


def _did_you_mean(address: str, known: set[str]) -> list[str]:
    # Compare within the same region/pool first: difflib over 10^5 addresses takes seconds.
    prefix = address.rpartition("/")[0] + "/"
    near = [a for a in known if a.startswith(prefix)] if prefix != "/" else []
    return difflib.get_close_matches(address, sorted(near or known), n=3)


@state_app.command("history")
def history(spec: Path = _SPEC, workdir: Path | None = _WORKDIR, json_output: bool = _JSON,
            location: str | None = _STATE) -> None:
    """What was applied, when, by which command, and how it ended."""
    store, name = _open(spec, workdir, location)
    envelope = _read(store)
    entries = envelope.state.history if envelope else []
    if json_output:
        console.print_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        console.err(f"no history yet for cluster '{name}'")
        return
    lines = [f"{'SERIAL':>6}  {'TIME (UTC)':<20}  {'OUTCOME':<8}  {'CHANGES':>7}  COMMAND"]
    for e in entries:
        lines.append(f"{e.serial:>6}  {e.at:<20}  {e.outcome:<8}  {len(e.changes):>7}  {e.command}"
                     + (f" ({e.user})" if e.user else "")
                     + (f"; accounts removed: {', '.join(removed)}" if (removed := removed_accounts_of(e)) else ""))
        if e.health is not None or e.message:  # health runs, why a run stopped
            from ..views.health import history_health_lines  # imported only for a history that has them

            lines += [f"{'':>6}  {line}" for line in history_health_lines(e)]
        waves = sorted({c.action for c in e.changes if c.action.startswith("roll-wave ")})
        lines += [f"{'':>6}  {wave}: {', '.join(c.address for c in e.changes if c.action == wave)}"
                  for wave in waves]  # a rolling replacement's waves (grid.apply.roll)
    _print_lines(lines)


@state_app.command("pull")
def pull(spec: Path = _SPEC, workdir: Path | None = _WORKDIR, location: str | None = _STATE) -> None:
    """Print the state envelope as stored (compact JSON, verified first); pipe it to `jq .` to read."""
    store, name = _open(spec, workdir, location)
    with _failures():
        raw = store.pull()
    if raw is None:
        _require(store, name)  # raises the "no state" failure
        return
    # The stored bytes, not a re-rendering: byte-exact, and instant where indent=2 json takes ~10 s at 10^5.
    sys.stdout.buffer.write(raw if raw.endswith(b"\n") else raw + b"\n")
    sys.stdout.flush()


@state_app.command("unlock")
def unlock(spec: Path = _SPEC, workdir: Path | None = _WORKDIR,
           force: bool = typer.Option(False, "--force", help="Remove it even if its holder may be alive."),
           location: str | None = _STATE) -> None:
    """Remove the state lock: a stale or expired one, or with --force any."""
    store, name = _open(spec, workdir, location)
    with _failures():
        holder = store.lock_holder()
        live = holder is not None and (store.lock_status() or "expired") == "live"
        if holder is not None:
            holder = store.unlock(force=force)
    if holder is None:
        _print(f"the state of cluster '{name}' is not locked")
        return
    _print(f"removed the lock held by {holder.describe()}")
    if live:
        console.err("warning: that holder may still be running; if it writes again after someone else has, "
                    "its write is refused (serial check), but changes it made to machines are not recorded")


@state_app.command("restore")
def restore(spec: Path = _SPEC,
            serial: int | None = typer.Argument(None, help="Backup to bring back; omit to list the backups."),
            workdir: Path | None = _WORKDIR, location: str | None = _STATE) -> None:
    """List backups, or make backup SERIAL the current state (under a new serial)."""
    store, name = _open(spec, workdir, location)
    if serial is None:
        _list_backups(store, spec)
        return
    command = f"grid state restore {serial}"
    with _failures(), store.lock(command):
        result = store.restore(serial, command=command)
    _print(f"restored backup serial {serial} of cluster '{name}' as serial {result.envelope.serial}")
    if result.kept_corrupt is not None:
        _print(f"the damaged state file was kept as {result.kept_corrupt}")


def _list_backups(store: StateStore, spec: Path) -> None:
    try:
        envelope = store.read()
        current = f"serial {envelope.serial} (checksum ok)" if envelope else "none"
    except (StateCorrupted, StateTooNew) as exc:
        current = f"DAMAGED — {exc.message}"
    except StateError as exc:
        current = exc.message
    _print(f"current: {current}")
    backups = store.backups()
    if not backups:
        _print(f"no backups in {store.backup_location}")
        return
    _print(f"{'SERIAL':>6}  {'WRITTEN (UTC)':<20}  CHECKSUM")
    for b in backups:
        _print(f"{b.serial:>6}  {b.written_at:<20}  {'ok' if b.ok else 'BAD: ' + b.problem}")
    good = next((b.serial for b in backups if b.ok), None)
    if good is not None:
        _print(f"bring one back with: grid state restore {spec} {good}")


@state_app.command("migrate")
def migrate(spec: Path = _SPEC,
            to: str | None = typer.Option(None, "--to", show_default=False,
                                          help="Where the state goes: postgres://user@host/db, `file` (the work "
                                               "directory) or file://DIR."),
            partition: bool = typer.Option(False, "--partition",
                                           help="Split the state by region in place (for `--region` runs); the "
                                                "single state is kept as a backup."),
            workdir: Path | None = _WORKDIR, location: str | None = _STATE, json_output: bool = _JSON) -> None:
    """Move the state — grid's envelope and the Pulumi stacks — to another location; verified by checksum.
    With --partition: split it by region where it is."""
    from grid.operations.migrate import migrate_state, where

    if (to is None) == (not partition):
        raise console.CommandFailed("say either where the state goes (--to) or --partition",
                                    hint="grid state migrate --to postgres://… SPEC, or "
                                         "grid state migrate --partition SPEC")
    ws = common.workspace(spec, workdir, location)
    if to is None:
        _partition(ws, json_output)
        return
    with _failures():
        dest = open_store(to, workdir=ws.workdir, cluster=ws.cluster.name, lease_seconds=common.lease_seconds())
        result = migrate_state(ws, dest, say=lambda line: console.err(line) if json_output else _print(line))
    doc = {"cluster": ws.cluster.name, "from": where(ws.store), "to": where(dest), "serial": result.serial,
           "lineage": result.lineage, "checksum": result.checksum, "verified": True,
           "already_there": result.already, "pulumi_stacks": list(result.stacks)}
    if json_output:
        console.print_json(doc)
        return
    verb = "already held" if result.already else "migrated"
    _print(f"{verb} the state of cluster '{ws.cluster.name}' (serial {result.serial}) from {doc['from']} "
           f"to {doc['to']}; checksum {result.checksum} verified identical")
    use = (f"pass --state {doc['to']} (or set GRID_STATE)" if dest.is_shared
           else "leave out --state and GRID_STATE" if to == "file" else f"pass --state {to}")
    _print(f"{doc['from']} is left as it was, as a backup: from now on {use} to use the new location")


def _partition(ws: Workspace, json_output: bool) -> None:
    from grid.operations.partition import partition_state

    with _failures():
        result = partition_state(ws)
    doc = {"cluster": ws.cluster.name, "where": _where(ws.store), "partitions": list(result.parts),
           "serial": result.serial, "already_partitioned": result.already}
    if json_output:
        console.print_json(doc)
        return
    verb = "was already partitioned" if result.already else "is now partitioned by region"
    _print(f"the state of cluster '{ws.cluster.name}' {verb}: {', '.join(result.parts)}")
    if not result.already:
        _print(f"the single state (serial {result.serial}) is left as it was, as a backup; "
               "`grid up --region REGION` now runs one region")
