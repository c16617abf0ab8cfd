"""The built wheel is grid: installed into a fresh venv it validates and renders like the development install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "local-lab" / "cluster.yaml"
DEV_GRID = Path(sys.executable).parent / "grid"  # the development install's console script


def _run(argv: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _build_wheel(tmp: Path) -> Path:
    """Build from a copy of what the build reads (pyproject.toml, README.md, the mapped folders), so that
    nothing but the declared layout (no stale build/ of the checkout) reaches the wheel."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for folder in sorted(set(package_dir.values())):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp / "dist"
    # No build isolation: the venv's setuptools (a dev extra) builds it offline.
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", dist,
          source], cwd=tmp)
    (wheel,) = dist.glob("grid-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; its dependencies come from this environment's site-packages,
    added only after the install (so pip never sees the development install of grid)."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel], cwd=tmp)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site) / "_grid_test_dependencies.pth").write_text("".join(f"{path}\n" for path in deps))
    return venv


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_installed_wheel_validates_and_renders_like_the_development_install(tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    where = _run([venv / "bin" / "python", "-c",
                  "import grid, grid.cli.main, grid.stacks.local, grid.templates, grid.inventories\n"
                  "for m in (grid, grid.cli.main, grid.stacks.local, grid.templates, grid.inventories):"
                  " print(m.__file__)"], cwd=tmp_path).stdout.split()
    assert all(Path(path).is_relative_to(venv) for path in where), where  # the wheel's grid, not the checkout's

    validated = _run([venv / "bin" / "grid", "validate", SPEC], cwd=tmp_path)
    assert "valid" in validated.stdout

    _run([venv / "bin" / "grid", "render", SPEC, "-o", tmp_path / "wheel", "--workdir", tmp_path / "wheel-work"],
         cwd=tmp_path)
    _run([DEV_GRID, "render", SPEC, "-o", tmp_path / "dev", "--workdir", tmp_path / "dev-work"], cwd=tmp_path)
    wheel, dev = _files(tmp_path / "wheel"), _files(tmp_path / "dev")
    assert len(dev) > 20  # Pulumi projects of both regions, the playbook, roles, action plugins, inventory
    assert sorted(wheel) == sorted(dev)
    assert wheel == dev
