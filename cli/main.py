"""The console script's single exit point; the Typer application (cli.app) is loaded when a command line
needs it."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import console, failures, interrupts
from .console import CANCELLED

if TYPE_CHECKING:
    import typer

COMMAND_MODULES = (
    "validate", "schema", "plan", "render", "apply", "up", "destroy", "drift", "check",
    "ssh", "doctor", "graph", "state", "status", "agent", "import_cmd",
)
COMMAND_NAMES = {"import": "import_cmd"}  # a command named otherwise than its module
COMPLETION_ENV = "_GRID_COMPLETE"  # set by the shell when it asks for completions: every command is needed


def __getattr__(name: str) -> typer.Typer:
    """`app`, every command registered (tests and `grid --help` see the whole application)."""
    if name == "app":
        from .app import registered

        return registered(COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def registered(modules: tuple[str, ...]) -> typer.Typer:
    """The Typer application with these command modules registered (cli.app)."""
    from . import app

    return app.registered(modules)


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


_LOCAL_TARGET = re.compile(rb"(?m)^[ \t]+target:[ \t]*[\"']?local\b")


def _start_podman_listing(argv: list[str]) -> None:
    """`grid up` of a local spec: its probe's podman listing starts now and runs while grid's modules load and
    the spec is read (grid.drivers.podman_listing decides under the lock whether the probe may use it). The spec
    is only sniffed here: a wrong guess costs one listing or saves nothing, it never changes a result."""
    if "--help" in argv:
        return
    for arg in argv[argv.index("up") + 1:] if "up" in argv else ():
        if arg.startswith("-"):
            continue
        try:
            with open(arg, "rb") as spec:
                head = spec.read(1 << 16)
        except OSError:
            continue
        if _LOCAL_TARGET.search(head):
            from grid.drivers import podman_listing

            podman_listing.start()
        return


def run() -> None:
    """Console-script entry: every failure leaves through here with a message and exit code."""
    with interrupts.handled():
        _run()


def _run() -> None:
    argv = sys.argv[1:]
    try:
        quick = _quick(argv)
        if quick is None:
            code = _parsed(argv)
        else:
            try:
                code = quick()
            except (EOFError, KeyboardInterrupt):  # as click would: a new line, then its Abort (_parsed)
                sys.stderr.write("\n")
                _aborted()
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


def _parsed(argv: list[str]) -> object:
    """The command line run through Typer (cli.app): its usage errors and aborts end the run here."""
    import typer

    from .app import UsageError, registered

    modules = modules_for(argv)
    if modules == ("up",):
        _start_podman_listing(argv)
    try:
        # standalone_mode=False: click hands usage errors to us instead of exiting 2, which with
        # --detailed-exitcode means "changes present" (docs/exit-codes.md: a usage error is 1).
        return registered(modules)(standalone_mode=False)
    except UsageError as exc:
        exc.show()
        sys.exit(1)
    except typer.Abort:  # Ctrl-C or end of input at a prompt (click raises Abort from either)
        _aborted()


def _aborted() -> NoReturn:
    if interrupts.interrupted():
        interrupts.leave(CANCELLED)
    console.err(CANCELLED)
    sys.exit(1)


def _quick(argv: list[str]) -> Callable[[], int] | None:
    """A plain `grid [--no-color] validate SPEC [--json]` runs without Typer (its imports and parsing, ~30 CPU-ms
    of the command's ~250, issue 20): the same function, the same output. Any other form (help, `--`, an option
    it does not know, completion) is Typer's."""
    if COMPLETION_ENV in os.environ:
        return None
    words = list(argv)
    no_color = words[:1] == ["--no-color"]
    if no_color:
        words = words[1:]
    if words[:1] != ["validate"]:
        return None
    rest = words[1:]
    json_output = "--json" in rest
    if json_output:
        rest.remove("--json")
    if len(rest) != 1 or rest[0].startswith("-") or "--json" in rest:
        return None
    spec = Path(rest[0])  # as Typer hands it over: a Path (its text normalised)

    def quick() -> int:
        from .commands.validate import check

        console.configure(no_color=no_color)
        return check(spec, json_output)

    return quick


def _leave_failed(exc: console.CommandFailed) -> NoReturn:
    if interrupts.interrupted():  # whatever failed, it failed because of the Ctrl-C
        interrupts.leave(exc.message if exc.code == 130 else interrupts.SAVED)
    console.fail(exc)
    sys.exit(exc.code)
