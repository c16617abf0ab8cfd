"""The source tree maps onto the one package `grid` without symlinks: pyproject.toml lists every package."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_folders() -> dict[str, Path]:
    """Import name -> folder of every package found in the folders pyproject.toml maps (`package-dir`)."""
    found: dict[str, Path] = {}
    for prefix, folder in SETUPTOOLS["package-dir"].items():
        root = REPO / folder
        if not prefix:  # "" = "src": the top-level packages inside src/
            for child in sorted(root.iterdir()):
                if (child / "__init__.py").is_file():
                    found.update(_walk(child, child.name))
        else:
            found.update(_walk(root, prefix))
    return found


def _walk(folder: Path, name: str) -> dict[str, Path]:
    found = {name: folder} if (folder / "__init__.py").is_file() else {}
    for child in sorted(folder.iterdir()):
        if child.is_dir() and (child / "__init__.py").is_file():
            found.update(_walk(child, f"{name}.{child.name}"))
    return found


def test_every_package_of_the_tree_ships_in_the_wheel() -> None:
    listed = set(SETUPTOOLS["packages"])
    missing = sorted(set(_package_folders()) - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert sorted(listed - set(_package_folders())) == [], "pyproject.toml lists a package that has no folder"


def test_the_design_card_folders_are_grid_packages() -> None:
    folders = _package_folders()
    for name in ("grid.cli", "grid.stacks", "grid.templates", "grid.inventories"):
        assert folders[name] == REPO / name.removeprefix("grid."), name


def test_no_symlinks_in_the_source_tree() -> None:
    links = []
    for top in ("src", "cli", "stacks", "templates", "inventories", "lab", "tests", "bench", "scripts", "examples"):
        for dirpath, dirnames, filenames in os.walk(REPO / top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            links += [path for n in dirnames + filenames if os.path.islink(path := os.path.join(dirpath, n))]
    assert links == []


def test_data_files_are_read_through_importlib_resources() -> None:
    """`Path(__file__)` would find a data file in a source checkout but not in every installed form."""
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("src", "cli", "stacks")
        for path in sorted((REPO / folder).rglob("*.py"))
        if "Path(__file__)" in path.read_text()
    ]
    assert offenders == []
