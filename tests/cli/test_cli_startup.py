"""Start-up: a command imports what it uses and no more (issue 20). Timing lives in bench/startup.py; this
guards the cause: each command line is run in a fresh interpreter through the console script's own entry
(grid.cli.main.run), which then lists the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys

from support.cli import grid
from support.paths import LOCAL_LAB

ENGINES = ("pulumi", "ansible_runner", "psycopg", "paramiko", "prometheus_client", "cryptography")

_LOADED = """
import json, sys
from grid.cli.main import run
sys.argv = ["grid", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded(*args: str) -> set[str]:
    """The modules `grid ARGS` loaded (top-level packages and grid's own modules), after it ran to its end."""
    done = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, timeout=120)
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(modules)


def tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def commands(modules: set[str]) -> set[str]:
    return {name.rsplit(".", 1)[1] for name in modules if name.startswith("grid.cli.commands.")}


def test_version_loads_no_command_no_models_and_no_rich() -> None:
    modules = loaded("--version")
    assert commands(modules) == set()
    assert not tops(modules) & {"rich", "pydantic", "yaml", *ENGINES}
    assert "grid.spec" not in modules


def test_validate_loads_its_own_command_and_neither_engines_nor_renderers() -> None:
    modules = loaded("validate", str(LOCAL_LAB))
    assert commands(modules) == {"validate"}
    assert not tops(modules) & {"jinja2", *ENGINES}
    assert not {"grid.state", "grid.apply", "grid.operations", "grid.render.pulumi"} & modules


def test_a_command_module_loads_no_engine_until_its_command_runs() -> None:
    """`grid up --help` (every option parsed, nothing run): Pulumi, ansible-runner and psycopg wait for use."""
    modules = loaded("up", "--help")
    assert commands(modules) == {"up"}
    assert not tops(modules) & set(ENGINES)


def test_help_still_lists_every_command() -> None:
    from grid.cli.main import COMMAND_MODULES, COMMAND_NAMES

    listed = grid("--help", check=True).stdout
    command_of = {module: command for command, module in COMMAND_NAMES.items()}
    for module in COMMAND_MODULES:
        assert f"  {command_of.get(module, module)} " in listed, f"{module} missing from grid --help:\n{listed}"


def test_a_mistyped_command_is_still_suggested_from_every_command() -> None:
    run = grid("valdate", str(LOCAL_LAB))
    assert run.code == 1
    assert "validate" in run.output, run.output
