"""Policy gates on a plan: which packs a run uses, what they say of its plan, and when a run must refuse.

The packs are the spec's (`spec.policy.packs`, relative to the spec: every plan of the spec runs them — people,
CI, `grid agent`) and those given with `--policy DIR`. A mandatory finding (or an error of a policy that is not
advisory) fails `grid plan` and makes `grid up` refuse before it changes anything; `grid apply PLAN` refuses a
plan with one, and a plan whose packs' files changed since it was made (their digest is in the plan).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grid import __version__
from grid.errors import OperationFailed
from grid.plan import Plan
from grid.workspace import Workspace

if TYPE_CHECKING:  # grid.policy (its API, plan view, Rego runner) is loaded by the runs that have packs
    from grid.policy.packs import Pack

REPLAN = "plan again (`grid plan SPEC --out FILE`), review it, then `grid apply FILE`"
SHOWN = 5  # blocking findings named in a refusal; `grid plan` lists them all


class PolicyRefused(OperationFailed):
    """A mandatory policy failed: nothing was changed."""


def packs_for(ws: Workspace, extra: Iterable[Path] = ()) -> list[Pack]:
    """The spec's packs, then those given on the command line; each directory once."""
    base = ws.spec_path.parent
    wanted = [base / relative for relative in ws.cluster.spec.policy.packs] + list(extra)
    packs: list[Pack] = []
    if not wanted:
        return packs
    from grid.policy.packs import load_pack

    for directory in wanted:
        pack = load_pack(directory)
        if all(p.path != pack.path for p in packs):
            packs.append(pack)
    return packs


def with_policy(ws: Workspace, plan: Plan, extra: Iterable[Path] = (), *, now: datetime | None = None) -> Plan:
    """The plan with what its packs found (unchanged when there is no pack)."""
    packs = packs_for(ws, extra)
    if not packs:
        return plan
    from grid.plan.document import to_document
    from grid.policy.runner import evaluate

    document = to_document(plan, spec_path=str(ws.spec_path), grid_version=__version__)
    return replace(plan, policy=evaluate(packs, document, now=now))


def blocked_message(plan: Plan) -> str | None:
    """Why the plan may not be applied because of its policies, or None when it may."""
    if plan.policy is None or plan.policy.passed:
        return None
    blocking = plan.policy.blocking
    named = "; ".join(f.line() for f in blocking[:SHOWN])
    more = f" (and {len(blocking) - SHOWN} more)" if len(blocking) > SHOWN else ""
    return f"{len(blocking)} mandatory policy finding(s): {named}{more}"


def refuse_if_blocked(plan: Plan, command: str) -> None:
    """Raise PolicyRefused when a mandatory policy failed on `plan`."""
    message = blocked_message(plan)
    if message is not None:
        raise PolicyRefused(f"{command} refused, nothing was changed: {message}",
                            hint="change the spec until `grid plan` passes its policies (or fix the policy), "
                                 "then run it again")


def check_saved(plan: Plan) -> None:
    """A saved plan may be applied only if its policies passed and their files are as they were."""
    message = blocked_message(plan)
    if message is not None:
        raise PolicyRefused(f"the saved plan failed its policies and cannot be applied: {message}",
                            hint="change the spec until `grid plan` passes its policies, then " + REPLAN)
    if plan.policy is None:
        return
    from grid.policy.packs import combined_digest, pack_digest

    changed = []
    for pack in plan.policy.packs:
        directory = Path(pack.path)
        now = pack_digest(directory) if directory.is_dir() else "missing"
        if now != pack.digest:
            changed.append(f"{pack.name} ({pack.path}{': gone' if now == 'missing' else ''})")
    recorded = combined_digest((p.path, p.digest) for p in plan.policy.packs)
    if changed or recorded != plan.policy.digest:
        raise PolicyRefused(
            "the policy files changed since the plan was made: " + (", ".join(changed) or "the packs differ")
            + "; the plan's policy results may no longer hold", hint=REPLAN)
