"""The Typer application and its single exit point."""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

import typer

try:  # typer >= 0.22 carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import UsageError  # type: ignore[assignment]

from grid import __version__

from . import console, failures, interrupts
from .console import CANCELLED

COMMAND_MODULES = (
    "validate", "schema", "plan", "render", "apply", "up", "destroy", "drift", "check",
    "ssh", "doctor", "graph", "state", "status", "agent", "import_cmd",
)
COMMAND_NAMES = {"import": "import_cmd"}  # a command named otherwise than its module
COMPLETION_ENV = "_GRID_COMPLETE"  # set by the shell when it asks for completions: every command is needed

_app = typer.Typer(
    name="grid",
    help="Plan, build and keep AI compute clusters true to a declarative spec.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grid {__version__}")
        raise typer.Exit(0)


@_app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    no_color: bool = typer.Option(False, "--no-color", help="Plain output without colours."),
) -> None:
    console.configure(no_color=no_color)


_registered: set[str] = set()


def __getattr__(name: str) -> typer.Typer:
    """`app`, every command registered (tests and `grid --help` see the whole application)."""
    if name == "app":
        return registered(COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def registered(modules: tuple[str, ...]) -> typer.Typer:
    """The application with (at least) these command modules registered, in COMMAND_MODULES order (the order
    `grid --help` lists them in). Each module imports what its command needs (Pulumi, ansible-runner,
    psycopg...), so a run registers only the command it runs: start-up time is mostly imports."""
    wanted = _registered | set(modules)
    if wanted == _registered:
        return _app
    _app.registered_commands.clear()
    _app.registered_groups.clear()
    _registered.clear()
    for name in COMMAND_MODULES:
        if name not in wanted:
            continue
        try:
            module = importlib.import_module(f"grid.cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"grid.cli.commands.{name}":
                raise
            continue
        module.register(_app)
        _registered.add(name)
    return _app


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: the one of the command it names; none for `--version`;
    all of them otherwise (`--help`, no command, a mistyped one: its suggestions, shell completion)."""
    if COMPLETION_ENV in os.environ:
        return COMMAND_MODULES
    for arg in argv:
        if arg == "--version":
            return ()
        if arg.startswith("-"):
            continue
        module = COMMAND_NAMES.get(arg, arg)
        return (module,) if module in COMMAND_MODULES else COMMAND_MODULES
    return COMMAND_MODULES


def run() -> None:
    """Console-script entry: every failure leaves through here with a message and exit code."""
    with interrupts.handled():
        _run()


def _run() -> None:
    try:
        # standalone_mode=False: click hands usage errors to us instead of exiting 2, which with
        # --detailed-exitcode means "changes present" (docs/exit-codes.md: a usage error is 1).
        code = registered(modules_for(sys.argv[1:]))(standalone_mode=False)
    except UsageError as exc:
        exc.show()
        sys.exit(1)
    except typer.Abort:  # Ctrl-C or end of input at a prompt (click raises Abort from either)
        if interrupts.interrupted():
            interrupts.leave(CANCELLED)
        console.err(CANCELLED)
        sys.exit(1)
    except console.CommandFailed as exc:
        _leave_failed(exc)
    except KeyboardInterrupt:
        interrupts.leave()
    except Exception as exc:
        if interrupts.interrupted():  # a step that failed because of the Ctrl-C (a worker ended by it)
            interrupts.leave()
        if os.environ.get("GRID_DEBUG"):
            raise
        if (plain := failures.plain_failure(exc)) is not None:
            _leave_failed(plain)
        console.err(f"internal error: {type(exc).__name__}: {exc}")
        console.err("this is a bug in grid; rerun with GRID_DEBUG=1 for a traceback and report it")
        sys.exit(1)
    if interrupts.interrupted():  # the command finished its step in spite of the Ctrl-C: still 130
        interrupts.leave()
    sys.exit(code if isinstance(code, int) else 0)


def _leave_failed(exc: console.CommandFailed) -> NoReturn:
    if interrupts.interrupted():  # whatever failed, it failed because of the Ctrl-C
        interrupts.leave(exc.message if exc.code == 130 else interrupts.SAVED)
    console.fail(exc)
    sys.exit(exc.code)
