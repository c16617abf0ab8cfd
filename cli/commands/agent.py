"""`grid agent run` (the reconcile loop, in the foreground) and `grid agent status` (every agent's heartbeat);
the loop is grid.agent.loop, its configuration grid.agent.config."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .. import common, console

if TYPE_CHECKING:
    from ..views.agent import LogWriter

# grid.agent and its views are imported by the agent's commands only: every other command starts without them.

agent_app = typer.Typer(help="Keep a cluster's regions true to a spec in git (a long-running reconciler).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(agent_app, name="agent")


@agent_app.command("run")
def run(
    config_file: Path | None = typer.Option(None, "--config", help="YAML file of settings (see "
                                            "examples/agent/agent.yaml); flags and GRID_AGENT_* override it."),
    repo: str | None = typer.Option(None, "--repo", help="URL or path of the git remote holding the spec."),
    branch: str | None = typer.Option(None, "--branch", help="Branch to follow [default: main]."),
    path: str | None = typer.Option(None, "--path", help="The spec's path inside the repository."),
    region: list[str] = typer.Option([], "--region", help="A region to keep (repeat); none = the whole cluster."),
    policy: str | None = typer.Option(None, "--policy", help="apply | drift-only | plan-approval [default: apply]."),
    interval: float | None = typer.Option(None, "--interval", help="Seconds between fetches [default: 60]."),
    drift_interval: float | None = typer.Option(None, "--drift-interval",
                                                help="Seconds between drift checks [default: 600]."),
    jitter: float | None = typer.Option(None, "--jitter", help="Fraction of the interval waits vary by [0.1]."),
    state: str | None = typer.Option(None, "--state", help="Where state lives (postgres://user@host/db; the "
                                     "password in PGPASSWORD), or leave out for state.json in the workdir."),
    workdir: Path | None = typer.Option(None, "--workdir", help="The agent's work directory [.grid-agent]."),
    name: str | None = typer.Option(None, "--name", help="This agent's name [default: HOST-PID]."),
    listen: str | None = typer.Option(None, "--listen", help="host:port of /metrics and /healthz "
                                      "[127.0.0.1:0: any free port]."),
    lease_seconds: float | None = typer.Option(None, "--lease-seconds", help="Lease of the active agent [30]."),
    require_signed: bool | None = typer.Option(None, "--require-signed/--no-require-signed",
                                               help="Apply only commits signed by an allowed signer."),
    allowed_signers: Path | None = typer.Option(None, "--allowed-signers",
                                                help="git's allowedSignersFile of the signers to trust."),
    plan_file: str | None = typer.Option(None, "--plan-file", help="plan-approval: the approved plan's path in "
                                         "the repository [default: SPEC_PATH.plan]."),
    log_format: str | None = typer.Option(None, "--log-format", help="json | text [default: json]."),
) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C (a step in progress finishes first)."""
    from grid.agent.config import load_config
    from grid.agent.http import serve
    from grid.agent.loop import Agent, AgentEvent
    from grid.agent.metrics import AgentMetrics
    from grid.agent.wiring import real_seams

    from ..views.agent import LogWriter

    flags: dict[str, Any] = {
        "repo": repo, "branch": branch, "path": path, "regions": tuple(region), "policy": policy,
        "interval": interval, "drift_interval": drift_interval, "jitter": jitter, "state": state,
        "workdir": workdir, "name": name, "listen": listen, "lease_seconds": lease_seconds,
        "require_signed": require_signed, "allowed_signers": allowed_signers, "plan_file": plan_file,
        "log_format": log_format}
    config = load_config(flags, file=config_file)
    log = LogWriter(config.name, fmt=config.log_format)
    metrics = AgentMetrics(config.name)
    agent = Agent(config, real_seams(config, log=log, metrics=metrics))
    host, port = config.listen_address
    try:
        server = serve(metrics, agent.health, host, port)
    except OSError as exc:
        raise console.CommandFailed(f"cannot listen on {config.listen}: {exc.strerror or exc}",
                                    hint="pick another --listen host:port (port 0 = any free port)") from None
    log(AgentEvent("info", "listening", f"/metrics and /healthz on http://{server.host}:{server.port}",
                   fields={"port": server.port}))
    try:
        with _stop_on_signals(agent.stop, log):
            agent.run()
    finally:
        server.close()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, log: LogWriter) -> Iterator[None]:
    """SIGTERM or Ctrl-C: stop at the next safe point; a second one interrupts the step as Ctrl-C does `grid up`."""
    from grid.agent.loop import AgentEvent

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log(AgentEvent("info", "stopping", f"{signal.Signals(signum).name}: stopping after the current step "
                       "(send it again to interrupt the step)"))

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@agent_app.command("status")
def status(
    spec: Path | None = typer.Argument(None, help="The cluster's spec (or give --cluster with --state).",
                                       show_default=False),
    cluster: str | None = typer.Option(None, "--cluster", help="The cluster's name, without a spec."),
    workdir: Path | None = common.WORKDIR,
    state: str | None = common.STATE,
    json_output: bool = common.JSON,
) -> None:
    """Every agent of the cluster: its regions, active or passive, commit applied, last result and its age."""
    from grid.agent.heartbeat import agents

    from ..views.agent import status_document, status_lines

    location = common.state_location(state)
    if spec is not None:
        ws = common.workspace(spec, workdir, state)
        name, directory = ws.cluster.name, ws.workdir
    elif cluster is not None and (location is not None or workdir is not None):
        name, directory = cluster, workdir or Path(".")
    else:
        raise console.CommandFailed("which cluster? give its SPEC, or --cluster NAME with --state (or --workdir)",
                                    hint="grid agent status clusters/prod.yaml")
    records = agents(location, directory, name)
    if json_output:
        console.print_json(status_document(name, records))
        return
    output = console.out()
    for text, style in status_lines(name, records):
        output.print(text, style=style or None, markup=False)
