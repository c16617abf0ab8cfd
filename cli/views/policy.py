"""What the policy packs said of a plan: the "Policies:" section of the text plan and the table of the
markdown plan (a pull-request comment)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # grid.policy is loaded by the runs that have packs
    from grid.plan import Plan
    from grid.policy import PolicyFinding, PolicyReport

STYLE = {"mandatory": "bold red", "advisory": "yellow", "error": "bold red"}
MAX_ROWS = 50  # findings listed in the markdown table; the plan document has them all


def _mark(finding: PolicyFinding) -> str:
    if finding.level == "error":
        return "ERROR" if finding.blocking else "error (advisory policy)"
    return "FAIL" if finding.blocking else "advisory"


def _headline(report: PolicyReport) -> str:
    policies = sum(len(p.policies) for p in report.packs)
    packs = ", ".join(p.name for p in report.packs)
    if report.passed:
        verdict = "passed" + (f" with {len(report.findings)} advisory finding(s)" if report.findings else "")
    else:
        verdict = f"FAILED: {len(report.blocking)} mandatory finding(s) block applying this plan"
    return f"{policies} polic{'y' if policies == 1 else 'ies'} in {len(report.packs)} pack(s) ({packs}): {verdict}"


def policy_lines(plan: Plan) -> Iterator[tuple[str, str]]:
    """(text, style) lines of the text plan; nothing when no pack ran."""
    report = plan.policy
    if report is None:
        return
    yield "Policies:", "bold"
    yield f"  {_headline(report)}", "bold green" if report.passed else "bold red"
    for finding in report.findings:
        yield f"  {_mark(finding):>8}  {finding.line()}", STYLE[finding.level]


def policy_markdown(plan: Plan) -> list[str]:
    report = plan.policy
    if report is None:
        return []
    icon = "✅" if report.passed else "⛔"
    lines = ["", "#### Policies", "", f"{icon} {_headline(report)}."]
    if report.findings:
        lines += ["", "| result | policy | about | finding |", "|---|---|---|---|"]
        for finding in report.findings[:MAX_ROWS]:
            lines.append(f"| {'**' + _mark(finding) + '**' if finding.blocking else _mark(finding)} | "
                         f"`{finding.pack}/{finding.policy}` | {_cell(finding.address) or '-'} | "
                         f"{_cell(finding.message)} |")
        if len(report.findings) > MAX_ROWS:
            lines.append(f"| | … and {len(report.findings) - MAX_ROWS} more (the saved plan lists them all) | | |")
    lines += ["", f"<sub>policy digest `{report.digest[:19]}…`</sub>"]
    return lines


def _cell(text: str, limit: int = 200) -> str:
    short = text if len(text) <= limit else text[:limit - 1] + "…"
    return short.replace("|", "\\|").replace("\n", " ").replace("`", "'")
