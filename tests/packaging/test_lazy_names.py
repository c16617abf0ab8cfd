"""Packages whose names load on first use (grid.lazy_names) still answer like plain packages."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["grid.plan", "grid.state"])
def test_every_exported_name_resolves_and_an_unknown_one_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = module.nothing_here
    assert not hasattr(module, "nothing_here")


def test_a_name_is_the_defining_modules_own_object() -> None:
    from grid.state import FileStateStore
    from grid.state.store import FileStateStore as defined

    assert FileStateStore is defined
    from grid.plan import Plan
    from grid.plan.model import Plan as plan_defined

    assert Plan is plan_defined
