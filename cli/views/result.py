"""The final JSON document of a mutating command (`grid up|apply|destroy --json`): format `grid-result/v1`.

One document on stdout, whatever happened — applied, nothing to do, failed part-way, or refused before
starting (then `outcome` is "error" and `error`/`hint` say why). Human progress goes to stderr meanwhile.
Documented in docs/plan-format.md; schema in docs/schemas/grid-result-v1.schema.json.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import console, failures
from .plan import made_word

if TYPE_CHECKING:  # the apply is loaded by the runs that apply
    from grid.apply.engine import ApplyResult
    from grid.plan import Plan

RESULT_FORMAT = "grid-result/v1"


def plan_counts(plan: Plan) -> dict[str, int]:
    counts = plan.counts()
    made = made_word(plan)  # `adopt` for machines grid never creates
    return {made: counts[made], "update": counts["update"], "replace": counts["replace"],
            "delete": counts["delete"], "configure": len(plan.config)}


@dataclass
class Result:
    """What a command knows so far; `emit` prints it once."""

    enabled: bool
    command: str
    cluster: str = ""
    started: float = field(default_factory=time.monotonic)
    printed: bool = False
    doc: dict[str, Any] = field(default_factory=dict)

    def _base(self, outcome: str, ok: bool) -> dict[str, Any]:
        return {"format": RESULT_FORMAT, "command": self.command, "cluster": self.cluster, "outcome": outcome,
                "ok": ok, "elapsed_seconds": round(time.monotonic() - self.started, 1)}

    def finish(self, outcome: str, *, plan: Plan | None = None, applied: ApplyResult | None = None,
               counts: dict[str, int] | None = None, serial: int | None = None, **extra: Any) -> None:
        ok = applied.ok if applied is not None else True
        doc = self._base(outcome if ok else "failed", ok)
        doc["counts"] = counts if counts is not None else (plan_counts(plan) if plan else {})
        # What the run was allowed to do, by address: what it did must be among these (the plan is the contract).
        doc["changes"] = [{"address": c.address, "action": c.action.value, "cause": c.cause.value}
                          for c in (plan.pending if plan else ())]
        doc["failures"] = [{"stage": f.stage, "address": f.address, "message": f.message}
                           for f in (applied.failures if applied else ())]
        doc["state"] = {"serial": serial}
        doc.update(extra)
        self.doc = doc

    def emit(self) -> None:
        if self.enabled and not self.printed and self.doc:
            console.print_json(self.doc)
            self.printed = True

    def fail(self, message: str, hint: str = "") -> None:
        if self.enabled and not self.printed:
            self.doc = {**self._base("error", False), "counts": {}, "failures": [], "state": {"serial": None},
                        "error": message, "hint": hint}
            self.emit()


@contextlib.contextmanager
def reporting(enabled: bool, command: str) -> Iterator[Result]:
    """Yield a Result; make sure a JSON document is printed even when the command is refused or fails."""
    result = Result(enabled, command)
    try:
        yield result
    except console.CommandFailed as exc:
        result.fail(exc.message, exc.hint)
        raise
    except KeyboardInterrupt:
        result.fail("interrupted", "state was saved after each completed step; run the command again to finish")
        raise
    except Exception as exc:
        code = console.exit_code(exc)  # Typer's Exit (a RuntimeError): the messages are out already
        if code is not None:
            if code:
                result.emit()
                result.fail("the command failed; the messages on stderr say why")
            raise
        plain = failures.plain_failure(exc)
        if plain is None:  # a bug: main.run reports it
            raise
        result.fail(plain.message, plain.hint)
        raise plain from exc
    else:
        result.emit()
