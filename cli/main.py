"""The console script's single exit point; the Typer application (cli.app) is loaded when a command line
needs it."""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from grid.startup import importing, keep_dataclass_code

keep_dataclass_code("cli")  # before the first dataclass is made (grid.diagnostics', imported below)

from . import console, failures, interrupts  # noqa: E402
from .console import CANCELLED  # noqa: E402

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


_LOCAL_TARGET = rb"(?m)^[ \t]+target:[ \t]*[\"']?local\b"  # compiled by `grid up` only (re caches it)


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
        if re.search(_LOCAL_TARGET, head):
            from grid.drivers import podman_listing

            podman_listing.start()
        return


_PYDANTIC_PLUGINS = "pydantic.plugin._loader"


def _without_pydantic_plugins() -> None:
    """The command runs no pydantic plugins: pydantic's plugin loader imports importlib.metadata and scans every
    installed distribution's entry points when the first model is built (~10 ms of each command's start, issue
    20), and grid installs none. This stands in for that loader's get_plugins; a process that loaded it already
    keeps it, and a pydantic that asks the loader for anything else gets the real one."""
    if _PYDANTIC_PLUGINS in sys.modules:
        return
    loader = types.ModuleType(_PYDANTIC_PLUGINS, "grid's stand-in: no pydantic plugins (grid.cli.main)")
    loader.get_plugins = tuple  # type: ignore[attr-defined]  # get_plugins() -> (): no plugins
    loader.__getattr__ = _real_pydantic_plugins  # type: ignore[method-assign]  # PEP 562: any other name
    sys.modules[_PYDANTIC_PLUGINS] = loader


def _real_pydantic_plugins(name: str) -> object:
    if name.startswith("__"):  # the import system's questions (`__path__`: is it a package?) are not pydantic's
        raise AttributeError(name)
    import importlib

    sys.modules.pop(_PYDANTIC_PLUGINS, None)
    return getattr(importlib.import_module(_PYDANTIC_PLUGINS), name)


def run() -> None:
    """Console-script entry: every failure leaves through here with a message and exit code."""
    if modules_for(sys.argv[1:]):  # `--version` builds no model
        _without_pydantic_plugins()
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
    modules = modules_for(argv)
    if modules == ("up",):
        _start_podman_listing(argv)
    with importing():
        import typer

        from .app import UsageError, registered

        app = registered(modules)
    try:
        # standalone_mode=False: click hands usage errors to us instead of exiting 2, which with
        # --detailed-exitcode means "changes present" (docs/exit-codes.md: a usage error is 1).
        return app(standalone_mode=False)
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
    """A plain `grid [--no-color] validate SPEC [--json]` or `grid [--no-color] up SPEC [--workdir DIR] [flags]`
    runs without Typer (its imports and parsing: ~30 CPU-ms of a start-up, issue 20): the same function, the same
    output. Any other form (help, `--`, an option it does not know, completion) is Typer's."""
    if COMPLETION_ENV in os.environ:
        return None
    words = list(argv)
    no_color = words[:1] == ["--no-color"]
    if no_color:
        words = words[1:]
    if words[:1] == ["up"]:
        return _quick_up(argv, words[1:], no_color)
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
        with importing():
            from .commands.validate import check

        console.configure(no_color=no_color)
        return check(spec, json_output)

    return quick


# `grid up`'s flags that the quick path takes, by the keyword of cli.commands.up.run (as its Typer options name them).
_UP_FLAGS = {
    "--yes": "yes", "-y": "yes", "--json": "json_output", "--refresh": "refresh", "--skip-check": "skip_check",
    "--verbose": "verbose", "-v": "verbose", "--trust-new-hosts": "trust_new_hosts",
    "--allow-job-impact": "allow_job_impact", "--rotate-ssh-key": "rotate_ssh_key", "--heal": "heal",
}


def _quick_up(argv: list[str], rest: list[str], no_color: bool) -> Callable[[], int] | None:
    """`grid up SPEC` with flags of _UP_FLAGS and `--workdir DIR` (or `--workdir=DIR`), in any order; a repeated
    one counts once and the last --workdir wins, as with Typer. GRID_STATE (the --state option's variable), the
    repeatable options and anything else go to Typer."""
    if "GRID_STATE" in os.environ:
        return None
    specs: list[str] = []
    workdir: str | None = None
    flags: dict[str, Any] = {}  # keywords of cli.commands.up.run, each True
    words = iter(rest)
    for word in words:
        if word in _UP_FLAGS:
            flags[_UP_FLAGS[word]] = True
        elif word == "--workdir" or word.startswith("--workdir="):
            workdir = word.partition("=")[2] if "=" in word else next(words, "")
            if not workdir or workdir.startswith("-"):
                return None
        elif word.startswith("-"):
            return None
        else:
            specs.append(word)
    if len(specs) != 1:
        return None
    spec, where = Path(specs[0]), None if workdir is None else Path(workdir)  # Paths, as Typer hands them over

    def quick() -> int:
        _start_podman_listing(argv)  # before the command's imports, as _parsed does
        with importing():
            from .commands.up import run as up

        console.configure(no_color=no_color)
        try:
            up(spec, where, **flags)
        except KeyboardInterrupt:  # as under Typer (its Exit(130)): the run may have changed things, say so
            interrupts.leave()
        except Exception as exc:
            code = console.exit_code(exc)  # what click returns for Typer's Exit (standalone_mode=False)
            if code is None:
                raise
            return code
        return 0

    return quick


def _leave_failed(exc: console.CommandFailed) -> NoReturn:
    if interrupts.interrupted():  # whatever failed, it failed because of the Ctrl-C
        interrupts.leave(exc.message if exc.code == 130 else interrupts.SAVED)
    console.fail(exc)
    sys.exit(exc.code)
