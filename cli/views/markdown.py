"""A compact plan summary for a pull-request comment."""

from __future__ import annotations

from grid.plan import Action, Plan


def plan_markdown(plan: Plan) -> str:
    counts = plan.counts()
    lines = [f"### grid plan: `{plan.cluster}` ({plan.target})", ""]
    if not plan.has_changes:
        lines.append("**No changes.** The cluster matches the spec.")
    else:
        lines.append(f"**{counts['create']}** to create, **{counts['update']}** to update, "
                     f"**{counts['replace']}** to replace, **{counts['delete']}** to delete, "
                     f"**{len(plan.config)}** host(s) to configure.")
    replaced = [c for c in plan.changes if c.action is Action.REPLACE]
    if replaced:
        lines += ["", f"**Replaced ({len(replaced)})** — these lose their local state:", ""]
        lines += [f"- `{c.address}`: " + ", ".join(a.name for a in c.attributes) for c in replaced[:30]]
        if len(replaced) > 30:
            lines.append(f"- … and {len(replaced) - 30} more")
    deleted = [c for c in plan.changes if c.action is Action.DELETE]
    if deleted:
        lines += ["", f"**Deleted ({len(deleted)}):** " + ", ".join(f"`{c.address}`" for c in deleted[:20])]
    if plan.drifted:
        lines += ["", f"**Drift repaired:** {len(plan.drifted)} resource(s)"]
    for error in plan.errors:
        lines += ["", f"> **Error:** {error}"]
    summary = plan.capacity.get("summary")
    if summary:
        change = {r["name"]: r["figures"] for r in plan.capacity.get("change", {}).get("regions", [])}
        lines += ["", "| region | nodes | accelerators | PFLOPS | facility MW | headroom MW | MWh/yr | tCO2/yr |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in [*summary["regions"], {**summary["total"], "name": "**total**"}]:
            figures = change.get(row["name"], {})
            delta = figures.get("nodes", {}).get("delta", 0) if figures else 0
            nodes = f"{row['nodes']:,}" + (f" ({delta:+,})" if delta else "")
            lines.append(f"| {row['name']} | {nodes} | {row['accelerators']:,} | {row['peak_pflops']:,.0f} | "
                         f"{row['facility_mw']:,.2f} | {row['headroom_mw']:,.2f} | {row['annual_mwh']:,.0f} | "
                         f"{row['tco2_per_year']:,.0f} |")
    return "\n".join(lines) + "\n"
