"""What `grid up --heal` shows once it is done: the health run, each pool's decision, what was quarantined,
resumed and replaced (and by which slot), and why it stopped when it did."""

from __future__ import annotations

from typing import Any

from grid.operations.heal import Healed

from .. import console
from .result import Result


def heal_lines(healed: Healed) -> list[str]:
    report = healed.report
    lines = [f"health (quick): {report.passed} of {len(report.nodes)} node(s) passed"
             + (f", failing: {', '.join(report.failing)}" if report.failing else "")]
    lines += [f"  {r.line()}" for n in report.nodes for r in n.failed]
    lines += [f"{key}: {decision.message}" for key, decision in healed.decisions]
    lines += [f"quarantined {a} (drained in Slurm; jobs elsewhere untouched)" for a in healed.quarantined]
    lines += [f"resumed {a} (passes again)" for a in healed.resumed]
    lines += [f"replacing {old} by {new} (the pool's next free slot)" for old, new in healed.replacing]
    if healed.gate is not None:
        lines.append(f"health gate: {healed.gate.passed} of {len(healed.gate.nodes)} replacement(s) passed")
    lines += [f"replaced {old} by {new}; {old} removed" for old, new in healed.replaced]
    if healed.stopped:
        lines.append(f"stopped: {healed.stopped}")
    elif not (healed.quarantined or healed.resumed or healed.replacing or healed.replaced):
        lines.append("nothing to heal")
    return lines


def heal_document(healed: Healed) -> dict[str, Any]:
    return {"health": healed.report.to_dict(),
            "decisions": [{"pool": key, "quarantine": list(d.quarantine), "stop": d.stop, "message": d.message}
                          for key, d in healed.decisions],
            "quarantined": list(healed.quarantined), "resumed": list(healed.resumed),
            "replacing": [{"node": old, "replacement": new} for old, new in healed.replacing],
            "replaced": [{"node": old, "replacement": new} for old, new in healed.replaced],
            "gate": healed.gate.to_dict() if healed.gate is not None else None,
            "stopped": healed.stopped}


def show_healed(healed: Healed, report: Result) -> None:
    """Prints the lines (stderr under --json), finishes the result document; exit 1 when the heal stopped."""
    out = console.errout() if report.enabled else console.out()
    for line in heal_lines(healed):
        out.print(line, markup=False)
    last = healed.applies[-1] if healed.applies else None
    report.finish("healed" if healed.ok else "stopped", plan=last.plan if last else None,
                  applied=last.applied if last else None, serial=last.serial if last else None,
                  heal=heal_document(healed))
    if not healed.ok:
        report.doc["ok"] = False
        raise console.CommandFailed(healed.stopped or "a run of the heal did not work",
                                    hint="the messages above say which step; `grid up --heal` goes on from there")
