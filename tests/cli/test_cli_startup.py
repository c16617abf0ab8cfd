"""Start-up: a command imports what it uses and no more (issue 20). Timing lives in bench/startup.py; this
guards the cause: each command line is run in a fresh interpreter through the console script's own entry
(grid.cli.main.run), which then lists the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    # The renderer, the resource graph and policy packs (the lab names none) are not validate's to load; nor is
    # rich for lines a pipe gets as they are (grid.cli.console.PlainConsole).
    assert not {"grid.render.ansible", "grid.resources", "grid.policy"} & modules
    assert "rich" not in tops(modules)


def test_validate_still_reads_the_policy_packs_a_spec_names(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(LOCAL_LAB.read_text().replace("  energy:", "  policy: {packs: [no-such-pack]}\n  energy:"))
    run = grid("validate", str(spec))
    assert run.code == 1
    assert "no-such-pack" in run.output and f"{spec}:" in run.output, run.output


def test_the_operations_package_loads_an_operation_when_it_is_used() -> None:
    """`from grid import operations` loads none of them; `operations.up` is the operation, whether or not its
    module was imported on its own first (the import system binds the package's `up` to the module)."""
    probe = (
        "import sys\n"
        "from grid import operations\n"
        "assert not [m for m in sys.modules if m.startswith('grid.operations.')], sorted(sys.modules)\n"
        "import grid.operations.up\n"
        "from grid.operations import check\n"
        "assert callable(operations.up) and operations.up.__module__ == 'grid.operations.up'\n"
        "assert check.__module__ == 'grid.operations.check' and callable(operations.status)\n"
        "assert operations.UpOptions().skip_check is False\n"
        "assert 'grid.operations.drift' not in sys.modules and 'grid.apply.run' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from grid import operations

    assert sorted(operations.__all__) == sorted(operations._HOMES)
    with pytest.raises(AttributeError):
        operations.no_such_operation  # noqa: B018  # a mistyped name fails as on any module


def test_up_loads_neither_the_apply_nor_the_checks_nor_policy_until_used() -> None:
    """`grid up --help` parses every option: the modules of applying (grid.apply.run and its drivers), of the
    acceptance checks and of the policy runner load when a run uses them (a no-op `grid up` uses none)."""
    modules = loaded("up", "--help")
    assert not {"grid.apply.run", "grid.apply.engine", "grid.apply.context", "grid.check", "grid.check_slurm",
                "grid.policy", "grid.drivers.ansible", "grid.targets.existing", "grid.operations.drift"} & modules


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
