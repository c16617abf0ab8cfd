"""`grid ssh SPEC NODE`: a shell on a node, with the cluster key and the pinned host key."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from grid.apply.configure import refresh_known_hosts
from grid.drivers.ssh import ssh_options
from grid.identity import find_keypair
from grid.resources import pool_fabrics, recorded_connect_ip

from .. import common, console


def register(app: typer.Typer) -> None:
    app.command("ssh")(ssh)


def ssh(
    spec: Path = common.SPEC,
    node: str = typer.Argument(..., help="Hostname (east-train-0000) or address (east/train/node-0000)."),
    command: list[str] = typer.Argument(None, help="Command to run instead of a shell."),
    workdir: Path | None = common.WORKDIR,
) -> None:
    """Open a shell (or run a command) on a node."""
    ws = common.workspace(spec, workdir)
    _, state = ws.read_state()
    keys = find_keypair(ws.workdir)
    record = next((r for r in state.resources.values() if r.kind == "node" and node in (
        r.address, r.attrs.get("hostname"))), None)
    if record is None or keys is None:
        names = sorted(str(r.attrs.get("hostname")) for r in state.resources.values() if r.kind == "node")
        raise console.CommandFailed(f"no node {node!r} in cluster {ws.cluster.name}",
                                    hint="known nodes: " + (", ".join(names[:10]) or "none — run grid up first"))
    known_hosts = refresh_known_hosts(ws.workdir, state)
    user = ws.cluster.spec.defaults.ssh.user
    argv = ["ssh", *ssh_options(known_hosts, keys.private_path, batch=bool(command), also=keys.also),
            "-p", str(ws.cluster.spec.defaults.ssh.port)]
    ip = recorded_connect_ip(record.address, record.region, record.attrs, pool_fabrics(ws.cluster))
    argv += [f"{user}@{ip}", *(command or [])]
    os.execvp("ssh", argv)
