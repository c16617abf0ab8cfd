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
from support.paths import LOCAL_LAB, REPO

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


def passes(probe: str) -> None:
    """Run `probe` (Python code) in a fresh interpreter: it must end with exit code 0."""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


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


def test_a_plain_validate_runs_without_typer_and_says_what_typer_s_path_says(tmp_path: Path) -> None:
    """`grid validate SPEC [--json]` skips Typer (cli.main._quick); `grid validate -- SPEC` is Typer's path (the
    quick one takes no `--`): same output, same exit code, for a valid spec, a bad one and a missing file."""
    modules = loaded("validate", str(LOCAL_LAB))
    assert not {"typer", "click"} & tops(modules)
    assert "typer" in tops(loaded("validate", "--", str(LOCAL_LAB)))
    bad = REPO / "examples" / "bad" / "multi-error.yaml"
    for spec in (str(LOCAL_LAB), str(bad), str(tmp_path / "missing.yaml"), f"./{LOCAL_LAB.relative_to(REPO)}"):
        for extra in ((), ("--json",)):
            quick = grid("validate", spec, *extra, cwd=REPO)
            typed = grid("validate", *extra, "--", spec, cwd=REPO)
            assert (quick.code, quick.stdout, quick.stderr) == (typed.code, typed.stdout, typed.stderr), spec
    assert grid("validate", str(bad)).code == 1


def test_validate_runs_no_pydantic_plugin_scan() -> None:
    """pydantic's plugin loader imports importlib.metadata and scans every installed distribution (~10 ms); the
    console entry stands in for it (cli.main), and the spec is still checked by its models."""
    modules = loaded("validate", str(LOCAL_LAB))
    assert "importlib.metadata" not in modules and "email" not in tops(modules)
    assert "grid.spec.model" in modules
    # A pydantic that asks its loader for more than get_plugins gets the real loader.
    probe = ("import sys\nfrom grid.cli import main\nmain._without_pydantic_plugins()\nimport grid.spec\n"
             "assert 'importlib.metadata' not in sys.modules\nfrom pydantic.plugin._loader import get_plugins\n"
             "assert tuple(get_plugins()) == ()\nfrom pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP\n"
             "assert PYDANTIC_ENTRY_POINT_GROUP == 'pydantic'\n")
    passes(probe)


def test_a_command_imports_with_the_gc_paused_and_freezes_them_once() -> None:
    """grid.startup.importing: a command's modules load with the cyclic GC paused and move to the permanent
    generation (no later collection, nor the one at exit, rescans them); the command then runs with the GC on,
    as the caller had it, and a second command in the same process freezes nothing more (the caller's garbage
    stays collectable; frozen objects freed since leave the count)."""
    probe = (
        "import gc, io, sys, contextlib\n"
        "from grid.cli import main\n"
        "def command(*args):\n"
        "    sys.argv = ['grid', *args]\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            main.run()\n"
        "        except SystemExit:\n"
        "            pass\n"
        "assert gc.get_freeze_count() == 0\n"
        f"command('validate', {str(LOCAL_LAB)!r})\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen > 10_000 and gc.isenabled(), (frozen, gc.isenabled())\n"
        "kept = [[] for _ in range(1000)]\n"
        "command('--version')\n"
        "assert gc.get_freeze_count() <= frozen and gc.isenabled(), (gc.get_freeze_count(), frozen)\n"
        "gc.disable()\n"
        "command('--help')\n"
        "assert not gc.isenabled()\n"
    )
    passes(probe)


def test_the_state_lock_s_host_name_needs_no_socket_module() -> None:
    """The holder of the state lock names this host as socket.gethostname() does, without loading socket (~8 ms
    of a no-op `grid up`, which loads it for nothing else)."""
    probe = ("import socket, sys\n"
             "del sys.modules['socket']\n"
             "from grid.state._osutil import this_host\n"
             "assert 'socket' not in sys.modules, 'socket loaded'\n"
             "assert this_host() == socket.gethostname(), (this_host(), socket.gethostname())\n")
    passes(probe)


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
    passes(probe)
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


def test_only_up_of_a_local_spec_starts_the_early_podman_listing(tmp_path: Path) -> None:
    """`grid up` of a local spec lists podman while it loads (grid.drivers.podman_listing); `--help`, another
    command, or a spec of another target start nothing."""
    assert "grid.drivers.podman_listing" not in loaded("up", "--help")
    assert "grid.drivers.podman_listing" not in loaded("validate", str(LOCAL_LAB))
    existing = tmp_path / "cluster.yaml"
    existing.write_text(LOCAL_LAB.read_text().replace("target: local", "target: existing"))
    probe = ("import sys\n"
             "from grid.cli import main\n"
             "from grid.drivers import podman_listing\n"
             "main._start_podman_listing(sys.argv[1:])\n"
             "print(podman_listing._early is not None)\n"
             "podman_listing._discard()\n")
    started = {spec: subprocess.run([sys.executable, "-c", probe, "--no-color", "up", "--workdir", str(tmp_path),
                                     spec, "--yes"], capture_output=True, text=True, timeout=60).stdout.strip()
               for spec in (str(LOCAL_LAB), str(existing), str(tmp_path / "missing.yaml"))}
    assert started == {str(LOCAL_LAB): "True", str(existing): "False", str(tmp_path / "missing.yaml"): "False"}


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
