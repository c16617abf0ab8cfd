"""The use cases: one function per command that changes or inspects a cluster.

Each takes a Workspace, one frozen options value and the engines it may drive (`Engines`: real ones by
default, fakes in tests), and returns a value the CLI picks a view for. The state is read once per run and
under the lock when the run writes; the spec is expanded once; host digests are computed once
(`Planned` carries them from the plan into the apply). Failures users can act on are `GridError`s
(grid.errors): message + hint.

    grid plan         → plan()          → Planned
    grid up           → up()            → Outcome
    grid apply PLAN   → apply_saved()   → Outcome
    grid destroy      → destroy()       → Outcome
    grid drift        → drift()         → DriftReport
    grid check        → check()         → Checks
    grid status       → status()        → Status
    grid state migrate → migrate_state() → Migrated   (grid.operations.migrate)

Each name is imported from its module when first used (PEP 562), so a command loads its own operation and not
the others' (`grid up` needs neither drift's nor status's machinery): start-up is mostly imports (issue 20).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid.operations.apply_saved import ApplySavedOptions, SavedPlan, apply_saved, load_saved_plan, spec_of
    from grid.operations.check import Checks, check
    from grid.operations.destroy import DestroyOptions, destroy
    from grid.operations.drift import drift
    from grid.operations.engines import Engines
    from grid.operations.outcome import Outcome
    from grid.operations.planning import Planned, PlanOptions, plan
    from grid.operations.status import Status, status
    from grid.operations.up import UpOptions, up

_HOMES = {
    "ApplySavedOptions": "apply_saved", "SavedPlan": "apply_saved", "apply_saved": "apply_saved",
    "load_saved_plan": "apply_saved", "spec_of": "apply_saved", "Checks": "check", "check": "check",
    "DestroyOptions": "destroy", "destroy": "destroy", "drift": "drift", "Engines": "engines",
    "Outcome": "outcome", "Planned": "planning", "PlanOptions": "planning", "plan": "planning",
    "Status": "status", "status": "status", "UpOptions": "up", "up": "up",
}
"""Each name of the package and the module it comes from."""

__all__ = [
    "ApplySavedOptions", "Checks", "DestroyOptions", "Engines", "Outcome", "PlanOptions", "Planned", "SavedPlan",
    "Status", "UpOptions",
    "apply_saved", "check", "destroy", "drift", "load_saved_plan", "plan", "spec_of", "status", "up",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Importing grid.operations.up binds the package's `up` to that module (the import system does so for every
    submodule); the package's `up` is the operation, as it was when the package imported every module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
