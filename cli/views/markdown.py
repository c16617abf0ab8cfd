"""The plan as a pull-request comment (`grid plan SPEC --format markdown`).

Made for a reviewer who reads it on a PR: the headline counts first, then what is costly — replaced nodes
(they lose local disks and running jobs), deletions, drift repairs, errors — then every change folded away in a
<details> block (long runs of identical node changes collapsed), and the energy and capacity figures with
their change. Stays well under GitHub's 65,536-character comment limit however large the cluster.
"""

from __future__ import annotations

from typing import Any

from grid.physics.units import UNKNOWN
from grid.plan import SCOPES, Action, Plan

from .partial import markdown_lines
from .plan import NO_POLICY, change_runs, made_word
from .policy import policy_markdown

MAX_ROWS = 150  # change rows listed in the folded table; the plan artifact has them all
MAX_CALLOUTS = 30  # replaced/deleted resources named in the call-outs


def _cell(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else str(value)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any, limit: int = 60) -> str:
    return "`" + _cell(value, limit).replace("`", "'") + "`"


def _headline(plan: Plan) -> str:
    counts = plan.counts()
    if not plan.has_changes:
        return "**No changes.** The cluster matches the spec (`has_changes: false`)."
    made = made_word(plan)
    parts = [f"**{counts[made]}** to {made}", f"**{counts['update']}** to update",
             f"**{counts['replace']}** to replace", f"**{counts['delete']}** to delete",
             f"**{len(plan.config)}** host(s) to configure"]
    if plan.moved is not None and plan.moved.resources:
        parts.insert(4, f"**{len(plan.moved.resources)}** moved")
    return "Plan: " + ", ".join(parts) + "."


def _callouts(plan: Plan) -> list[str]:
    lines: list[str] = []
    replaced = [c for c in plan.changes if c.action is Action.REPLACE]
    if replaced:
        nodes = sum(1 for c in replaced if c.kind == "node")
        lines += ["", f"> **Warning: {len(replaced)} resource(s) replaced** ({nodes} node(s)): a replaced node "
                  "is destroyed and created again — its local disks and running jobs are lost.", "",
                  "| replaced | kind | why | attributes |", "|---|---|---|---|"]
        for c in replaced[:MAX_CALLOUTS]:
            attrs = "; ".join(f"{_code(a.name, 30)}: {_code(a.before, 24)} → {_code(a.after, 24)}"
                              for a in c.attributes[:4]) or "-"
            lines.append(f"| {_code(c.address)} | {c.kind} | {_cell(c.reason or c.cause.value)} | {attrs} |")
        if len(replaced) > MAX_CALLOUTS:
            lines.append(f"| … and {len(replaced) - MAX_CALLOUTS} more | | | |")
    deleted = [c for c in plan.changes if c.action is Action.DELETE]
    if deleted:
        named = ", ".join(_code(c.address) for c in deleted[:MAX_CALLOUTS])
        more = f" and {len(deleted) - MAX_CALLOUTS} more" if len(deleted) > MAX_CALLOUTS else ""
        lines += ["", f"**Deleted ({len(deleted)}):** {named}{more}"]
    if plan.jobs is not None:
        lines += ["", "**Slurm nodes removed** (drained first; their jobs waited for):", ""]
        lines += [f"- {_cell(line, 400)}" for line in plan.jobs.lines()[:MAX_CALLOUTS]]
    if plan.drifted:
        lines += ["", f"**Drift repaired:** {len(plan.drifted)} resource(s) differ from the state and are put "
                  "back: " + ", ".join(_code(c.address) for c in plan.drifted[:MAX_CALLOUTS])]
    if plan.unfinished:
        lines += ["", "**Unfinished:** the last run of " + ", ".join(_code(r) for r in plan.unfinished)
                  + " did not finish; `grid up` runs it again to complete it"]
    if plan.moved is not None and plan.moved.resources:
        moved = plan.moved.resources
        lines += ["", f"**Moved ({len(moved)}, same objects, nothing replaced):** " + ", ".join(
            f"{_code(m.previous)} → {_code(m.address)}" for m in moved[:MAX_CALLOUTS])
            + (f" and {len(moved) - MAX_CALLOUTS} more" if len(moved) > MAX_CALLOUTS else "")]
    for warning in plan.moved.warnings if plan.moved is not None else ():
        lines += ["", f"> **Warning:** {_cell(warning, 400)}"]
    for error in plan.errors:
        lines += ["", f"> **Error:** {_cell(error, 400)}"]
    return lines


def _changes_table(plan: Plan) -> list[str]:
    rows: list[str] = []
    for run in change_runs(plan.pending):
        first = run[0]
        address = _code(first.address) if len(run) == 1 else (
            f"{_code(first.address)} … {_code(run[-1].address.rsplit('/', 1)[-1])} ({len(run)} nodes)")
        why = f"drift: {first.reason}" if first.cause.value == "drift" else first.reason
        policy = "" if first.action in NO_POLICY else first.policy.value
        rows.append(f"| `{first.action.symbol}` | {address} | {first.kind} | {_cell(why)} | {policy} |")
    if not rows:
        return []
    shown = rows[:MAX_ROWS]
    if len(rows) > MAX_ROWS:
        shown.append(f"| | … and {len(rows) - MAX_ROWS} more rows (the saved plan lists every change) | | | |")
    lines = ["", f"<details><summary>All changes ({len(plan.pending)})</summary>", "",
             "| | address | kind | why | policy |", "|---|---|---|---|---|", *shown]
    if plan.config:
        counts = {scope: sum(1 for h in plan.config if h.scope == scope) for scope in SCOPES}
        lines += ["", "Configuration (Ansible): " + ", ".join(
            f"{SCOPES[scope]} on {count} host(s)" for scope, count in counts.items() if count) + "."]
    return [*lines, "", "</details>"]


def _delta(figures: dict[str, Any], key: str, digits: int) -> str:
    change = figures.get(key, {}).get("delta") if figures else None
    return f" ({change:+,.{digits}f})" if change is not None and round(change, digits) != 0 else ""


def _fig(row: dict[str, Any], key: str, digits: int) -> str:
    """A figure rounded once, here; an unknown one (`null`) as a dash, never as 0."""
    value = row.get(key)
    return UNKNOWN if value is None else f"{value:,.{digits}f}"


def _energy(capacity: dict[str, Any]) -> list[str]:
    summary = capacity.get("summary")
    if not summary:
        return []
    change = {r["name"]: r["figures"] for r in capacity.get("change", {}).get("regions", [])}
    total, tchange = summary["total"], capacity.get("change", {}).get("total", {}).get("figures", {})
    lines = ["", "#### Energy and capacity", "",
             f"Facility power **{_fig(total, 'facility_mw', 2)} MW**{_delta(tchange, 'facility_mw', 2)} of "
             f"{_fig(total, 'power_budget_mw', 2)} MW budgeted · **{_fig(total, 'annual_mwh', 0)} MWh/yr**"
             f"{_delta(tchange, 'annual_mwh', 0)} · **{_fig(total, 'tco2_per_year', 0)} tCO2/yr**"
             f"{_delta(tchange, 'tco2_per_year', 0)} · peak **{_fig(total, 'peak_pflops', 1)} PFLOPS**"
             f"{_delta(tchange, 'peak_pflops', 1)} (utilisation {summary['utilization']:.0%})."]
    over = [r["name"] for r in summary["regions"] if (r.get("headroom_mw") or 0) < 0]
    if over:
        lines += ["", "> **Warning:** over the site power budget in " + ", ".join(over) + "."]
    lines += ["", "| region | nodes | accelerators | PFLOPS | facility MW | headroom MW | MWh/yr | tCO2/yr |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in [*summary["regions"], total]:
        name = row["name"] if row is not total else "**total**"
        figures = change.get(row["name"], {}) if row is not total else tchange
        lines.append(
            f"| {name} | {row['nodes']:,}{_delta(figures, 'nodes', 0)} | "
            f"{row['accelerators']:,}{_delta(figures, 'accelerators', 0)} | "
            f"{_fig(row, 'peak_pflops', 1)}{_delta(figures, 'peak_pflops', 1)} | "
            f"{_fig(row, 'facility_mw', 2)}{_delta(figures, 'facility_mw', 2)} | "
            f"{_fig(row, 'headroom_mw', 2)} | {_fig(row, 'annual_mwh', 0)}{_delta(figures, 'annual_mwh', 0)} | "
            f"{_fig(row, 'tco2_per_year', 0)}{_delta(figures, 'tco2_per_year', 0)} |")
    return lines


def plan_markdown(plan: Plan, *, spec_path: str = "", grid_version: str = "") -> str:
    lines = [f"### grid plan: `{plan.cluster}` (target {plan.target})", "", _headline(plan)]
    lines += markdown_lines(plan)  # a partial plan (--target/--exclude) says so first
    lines += policy_markdown(plan)  # a blocked plan shows why near the top of the comment
    lines += _callouts(plan)
    lines += _changes_table(plan)
    lines += _energy(plan.capacity)
    facts = [f"state serial {plan.state_serial}", f"spec {_code(plan.spec_digest[:19] + '…')}"]
    if spec_path:
        facts.insert(0, _code(spec_path))
    if plan.refreshed:
        facts.append("refreshed against the live target")
    if grid_version:
        facts.append(f"grid {grid_version}")
    lines += ["", "<sub>" + " · ".join(facts) + "</sub>"]
    return "\n".join(lines) + "\n"
