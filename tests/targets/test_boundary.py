"""The target boundary: one registry, one traits row per target the spec knows, no target names outside it."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from grid.spec.model import CloudTarget, Target
from grid.spec.targets import CLOUD_TARGETS, TARGET_TRAITS, traits_of
from grid.targets import target_for
from support.paths import EXAMPLES
from support.specs import cluster_from

ROOT = Path(__file__).resolve().parents[2]
NAMES = "|".join(TARGET_TRAITS)
# `target == …`, `target != …`, `target in (…)`, `… == "aws"`, `"aws" if …`, `in ("aws", …)`: asking which target
# it is. Allowed only in grid.targets (each target's own module) and the traits table.
ASKING = re.compile(
    rf"""target\w*\s*(==|!=|\bnot\s+in\b|\bin\s*[(\[{{])"""
    rf"""|(==|!=)\s*["']({NAMES})["']|["']({NAMES})["']\s*(==|!=|if\b)"""
    rf"""|\bin\s*[(\[{{]\s*["']({NAMES})["']""")
ALLOWED = ("src/grid/targets/", "src/grid/spec/targets.py")


def test_every_target_the_spec_knows_has_one_traits_row_and_one_module() -> None:
    assert set(TARGET_TRAITS) == set(typing.get_args(Target))
    assert set(CLOUD_TARGETS) == set(typing.get_args(CloudTarget))  # a pool's instance_types keys
    for name, traits in TARGET_TRAITS.items():
        target = target_for(name)
        assert target.name == traits.name == name
        assert target.traits is traits
        assert target_for(name) is target  # chosen once


def test_target_for_a_cluster_is_the_target_its_spec_names() -> None:
    lab = cluster_from(EXAMPLES / "local-lab" / "cluster.yaml")
    assert target_for(lab) is target_for("local")
    assert traits_of(lab) is TARGET_TRAITS["local"]
    with pytest.raises(ValueError, match="unknown target 'azure'"):
        target_for("azure")


def test_nothing_outside_the_targets_asks_which_target_it_is() -> None:
    found: list[str] = []
    for folder in ("src", "cli", "stacks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if ASKING.search(code):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "ask the target's traits (grid.spec.targets) or its Target (grid.targets):\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    'if cluster.spec.target == "existing":', "if target != 'local':", 'if target in ("aws", "openstack"):',
    'first = 4 if kind == "aws" else 2', 'key = "aws" if cloud else "openstack"', 'if name in ("local", "aws"):',
])
def test_the_check_sees_the_usual_ways_of_asking(line: str) -> None:
    assert ASKING.search(line)


@pytest.mark.parametrize("line", [
    "for target in targets:", 'importlib.import_module(f"grid.stacks.{self.target}")', 'settings["aws"]',
])
def test_the_check_leaves_other_uses_of_the_names_alone(line: str) -> None:
    assert not ASKING.search(line)
