"""Package names that load their module on first use (a package's `__getattr__`, PEP 562).

A process that needs one small module of a package (Pulumi's worker the lock's constants, its provider the
plan's allowance) should not pay for everything the package's `__init__` would import with it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def loader(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: each name in `homes` (name -> module) is imported when first asked for
    and kept in the package, so later lookups are plain attribute reads."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
