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
"""

from grid.operations.apply_saved import ApplySavedOptions, SavedPlan, apply_saved, load_saved_plan, spec_of
from grid.operations.check import Checks, check
from grid.operations.destroy import DestroyOptions, destroy
from grid.operations.drift import drift
from grid.operations.engines import Engines
from grid.operations.outcome import Outcome
from grid.operations.planning import Planned, PlanOptions, plan
from grid.operations.status import Status, status
from grid.operations.up import UpOptions, up

__all__ = [
    "ApplySavedOptions", "Checks", "DestroyOptions", "Engines", "Outcome", "PlanOptions", "Planned", "SavedPlan",
    "Status", "UpOptions",
    "apply_saved", "check", "destroy", "drift", "load_saved_plan", "plan", "spec_of", "status", "up",
]
