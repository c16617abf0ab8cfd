"""`grid import --out SPEC`: adopt hosts that already run (or, with --local, a local lab's podman resources)
into a spec and a state such that the next `grid plan` is empty (operations: grid.operations.importing)."""

from __future__ import annotations

from pathlib import Path

import typer

from grid.importing import Imported
from grid.importing.hosts import HostImportOptions
from grid.operations import importing
from grid.operations.import_local import LocalImportOptions, import_local

from .. import common, console
from ..views.import_local import show_local_import


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


def import_command(
    out: Path | None = typer.Option(None, "--out", "-o", help="The spec file to write (refused if it exists, "
                                    "unless --merge).", show_default=False),
    inventory: Path | None = typer.Option(None, "--inventory", "-i", show_default=False,
                                          help="An Ansible inventory (YAML or INI) naming the hosts."),
    probe: list[str] = typer.Option([], "--probe", show_default=False,
                                    help="A CIDR (at most /20) whose addresses answering on port 22 are hosts "
                                         "(repeatable)."),
    from_spec: Path | None = typer.Option(None, "--from-spec", show_default=False,
                                          help="A spec of target existing: its hosts."),
    local: str = typer.Option("", "--local", show_default=False, metavar="CLUSTER",
                              help="Adopt local cluster CLUSTER's podman containers, networks and volumes."),
    known_spec: Path | None = typer.Option(None, "--spec", show_default=False,
                                           help="With --local: the cluster's spec, still at hand (no spec "
                                                "is written; what does not match it is reported)."),
    user: str = typer.Option("", "--user", show_default=False, help="SSH user (default: the source's, else root)."),
    cluster: str = typer.Option("", "--cluster", show_default=False, help="The cluster's name (metadata.name)."),
    region: str = typer.Option("", "--region", show_default=False,
                               help="The region of hosts the source puts in none (default: site)."),
    pool: list[str] = typer.Option([], "--pool", show_default=False,
                                   help="PATTERN=NAME: hosts whose name matches the glob go in pool NAME "
                                        "(repeatable, first match wins; others are grouped by what they have)."),
    trust_new_hosts: bool = common.TRUST_NEW_HOSTS,
    merge: bool = typer.Option(False, "--merge", help="Add the hosts found to an existing spec/state (records "
                               "there are never overwritten)."),
    workdir: Path | None = common.WORKDIR,
    location: str | None = common.STATE,
) -> None:
    """Write a spec and a state for hosts that already run, without changing them: the next `grid plan` is
    empty. Exit 0 when something was imported (what was not is listed as warnings), 1 when nothing was."""
    if local:
        show_local_import(import_local(LocalImportOptions(
            cluster=local, out=None if known_spec else out, spec=known_spec, workdir=workdir,
            state=common.state_location(location), merge=merge)))
        return
    if out is None:
        raise console.CommandFailed("--out is required", hint="grid import --out SPEC.yaml --inventory HOSTS ...")
    options = HostImportOptions(
        inventory=inventory, probes=tuple(probe), from_spec=from_spec, user=user, cluster=cluster,
        region=region, pools=tuple(_pool_rule(text) for text in pool), trust_new_hosts=trust_new_hosts,
        workdir=workdir, out=out, store_location=common.state_location(location), merge=merge)
    imported = importing.import_hosts(options)
    _record(out, imported, workdir=workdir, location=location, merge=merge)


def _record(out: Path, imported: Imported, *, workdir: Path | None, location: str | None, merge: bool) -> None:
    errors = console.errout()
    for line in imported.problems:
        errors.print(f"warning: {line}", markup=False)
    if not imported.state.resources and not imported.state.hosts:
        for line in imported.found:  # hosts already in the spec (--merge)
            console.out().print(line, markup=False)
        if imported.problems:
            raise console.CommandFailed("nothing was imported: no new host could be read",
                                        hint="the warnings above say why for each host")
        console.out().print(f"nothing new to import: every host found is in {out} already", markup=False)
        return
    recorded = importing.record_import(out, imported, workdir=workdir,
                                       store_location=common.state_location(location), merge=merge)
    output = console.out()
    for line in imported.found:
        output.print(line, markup=False)
    kept = f", {len(recorded.kept)} already there kept as they were" if recorded.kept else ""
    output.print(f"wrote {recorded.spec_path} and the state in {recorded.state_where} (serial {recorded.serial}): "
                 f"{len(recorded.added)} record(s) added{kept}", markup=False)
    output.print(f"next: grid plan {recorded.spec_path}  (it should change nothing)", markup=False)


def _pool_rule(text: str) -> tuple[str, str]:
    pattern, sep, name = text.partition("=")
    if not sep or not pattern.strip() or not name.strip():
        raise console.CommandFailed(f"--pool {text!r} is not PATTERN=NAME",
                                    hint="e.g. --pool 'gpu-*=train' puts hosts named gpu-… in pool train")
    return pattern.strip(), name.strip()
