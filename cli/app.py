"""The Typer application: every command line that is not one of cli.main's quick ones is parsed here."""

from __future__ import annotations

import importlib

import typer

try:  # typer >= 0.22 carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import UsageError  # type: ignore[assignment]

from grid import __version__

from . import console
from .main import COMMAND_MODULES

__all__ = ["UsageError", "registered"]

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
