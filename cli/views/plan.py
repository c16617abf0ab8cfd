"""Human view of a plan: one line per address (runs of identical node changes collapsed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from grid.plan import SCOPES, Action, Plan, ResourceChange
from grid.plan.own_changes import OWN_REASONS

from .partial import headline, selection_lines
from .policy import policy_lines

STYLE = {Action.CREATE: "green", Action.ADOPT: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
         Action.DELETE: "red", Action.NOOP: "dim"}

NO_POLICY = (Action.CREATE, Action.ADOPT, Action.DELETE, Action.NOOP)
"""Actions with no update policy to show (nothing is changed in place or replaced)."""


def made_word(plan: Plan) -> str:
    """How the plan counts what is new to grid: `adopt` for machines that exist already, else `create`."""
    return Action.ADOPT.value if plan.adopts else Action.CREATE.value


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def change_runs(changes: tuple[ResourceChange, ...]) -> Iterator[list[ResourceChange]]:
    """Consecutive node changes of one pool that say the same thing, as one run (one line, one table row)."""
    run: list[ResourceChange] = []

    def key(c: ResourceChange) -> tuple[Any, ...]:
        return c.kind, c.action, c.cause, c.reason, c.address.rsplit("/", 1)[0], bool(c.attributes)

    for change in changes:
        if run and change.kind == "node" and not change.attributes and key(change) == key(run[0]):
            run.append(change)
            continue
        if run:
            yield run
        run = [change]
    if run:
        yield run


def plan_lines(plan: Plan, *, show_noop: bool = False) -> Iterator[tuple[str, str]]:
    """(text, style) lines."""
    if (partial := headline(plan)) is not None:
        yield partial, "bold yellow"
    yield (f"Plan for cluster {plan.cluster} (target {plan.target}); state serial {plan.state_serial}"
           + ("; refreshed against the live target" if plan.refreshed else ""), "bold")
    for run in change_runs(plan.changes):
        first = run[0]
        if first.action is Action.NOOP and not show_noop:
            continue
        address = first.address if len(run) == 1 else (
            f"{first.address} … {run[-1].address.rsplit('/', 1)[-1]} ({len(run)} nodes)")
        why = f"drift: {first.reason}" if first.cause.value == "drift" else first.reason
        policy = "" if first.action in NO_POLICY else f"  [{first.policy.value}]"
        yield f"  {first.action.symbol:>3} {address}  ({why}){policy}", STYLE[first.action]
        for attr in first.attributes:
            yield f"        {attr.name}: {_value(attr.before)} → {_value(attr.after)}  [{attr.policy.value}]", ""
    yield from moved_lines(plan)
    for region in plan.unfinished:
        yield (f"  ~ region {region}: its last run did not finish; `grid up` runs it again to complete it",
               "yellow")
    if plan.jobs is not None:
        yield "Slurm nodes this plan removes (drained; their jobs waited for):", "bold"
        rolled = {a for p in plan.roll.pools if p.update is not None for a in p.nodes} if plan.roll else set()
        for line in plan.jobs.lines(rolled):
            yield f"  {line}", "yellow" if plan.jobs.jobs or plan.jobs.unknown else ""
    if plan.roll is not None and any(p.update is not None for p in plan.roll.pools):
        yield "Rolling replacement (each wave drained, replaced, health-gated, resumed):", "bold"
        for line in plan.roll.lines():
            yield f"  {line}", ""
    if plan.slurm:
        yield "Slurm:", "bold"
        for step in plan.slurm:
            yield f"  {step.line()}", "yellow" if step.action.startswith("restart") else ""
    if plan.config:
        yield "Configuration (Ansible, one run):", "bold"
        for scope, words in SCOPES.items():
            hosts = [h for h in plan.config if h.scope == scope]
            if hosts and plan.slurm and scope == "hosts":
                words = "hosts table and Slurm only"  # Slurm's files list every node: they change together
            if hosts:
                yield f"  {words} on {len(hosts)} host(s): {_hosts(hosts)}", "cyan"
        yield from _own_reasons(plan)
    for line in selection_lines(plan):
        yield f"  {line}", "yellow"
    yield from policy_lines(plan)  # what the policy packs found (grid plan --policy, spec.policy)
    counts = plan.counts()
    for error in plan.errors:
        yield f"error: {error}", "bold red"
    made = made_word(plan)
    summary = (f"Plan: {counts[made]} to {made}, {counts['update']} to update, {counts['replace']} to replace, "
               f"{counts['delete']} to delete, {len(plan.config)} host(s) to configure.")
    if plan.moved is not None and plan.moved.resources:
        summary = summary.replace(" to delete, ", f" to delete, {len(plan.moved.resources)} moved, ", 1)
    if plan.drifted:
        summary += f" {len(plan.drifted)} change(s) repair drift."
    if plan.unfinished:
        summary += f" {len(plan.unfinished)} unfinished region(s) to complete."
    unchanged = "No changes in the selection." if plan.selection else "No changes. The cluster matches the spec."
    yield (summary if plan.has_changes else unchanged), "bold"


def moved_lines(plan: Plan) -> Iterator[tuple[str, str]]:
    """`~> old → new (moved)` per renamed resource (a pool's nodes in one line when there are many), then
    the `moved:` entries that match nothing any more."""
    if plan.moved is None:
        return
    resources = plan.moved.resources
    pools: dict[tuple[str, str], list[str]] = {}
    for m in resources:
        if m.kind == "node":
            pools.setdefault((m.previous.rsplit("/", 1)[0], m.address.rsplit("/", 1)[0]), []).append(m.previous)
    for m in resources:
        if m.kind == "node" and len(group := pools[(m.previous.rsplit("/", 1)[0], m.address.rsplit("/", 1)[0])]) > 4:
            if m.previous == group[0]:
                yield (f"  ~> {m.previous} … {group[-1].rsplit('/', 1)[-1]} → {m.address.rsplit('/', 1)[0]}/…  "
                       f"({len(group)} nodes, moved)"), "cyan"
            continue
        yield f"  ~> {m.previous} → {m.address}  (moved)", "cyan"
    for warning in plan.moved.warnings:
        yield f"warning: {warning}", "yellow"


def _own_reasons(plan: Plan) -> Iterator[tuple[str, str]]:
    """ "role nccl-tuning changed: 12 host(s)": what changed in the user's own configuration, and where."""
    counts: dict[str, int] = {}
    for change in plan.config:
        for reason in change.reason.split("; "):
            if reason.startswith(OWN_REASONS):
                counts[reason] = counts.get(reason, 0) + 1
    for reason, count in counts.items():
        yield f"    {reason}: {count} host(s)", "cyan"


def _hosts(items: list[Any], limit: int = 6) -> str:
    names = [h.address for h in items]
    return ", ".join(names[:limit]) + (f", … (+{len(names) - limit})" if len(names) > limit else "")
