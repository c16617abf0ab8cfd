"""The process policies run in (`python -m grid.policy.worker JOBS`), so that none can hang or crash grid.

It reads the plan document once, imports each policy file, runs each policy under a time limit (SIGALRM) and
writes one JSON line per event on its own stdout; whatever the policies print goes to stderr. Events:
`begin` (a file's import, policy -1, or a policy starts), `loaded` (the policies a file holds), `result` (a
policy's findings, or its error). grid.policy.runner reads them and kills the process when one hangs anyway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from grid.policy.api import Finding, PolicyInfo, info_of
from grid.policy.view import PlanView

MAX_FINDINGS = 200  # per policy: a policy listing every node of a national cluster says enough with 200
MAX_MESSAGE = 500


class PolicyTimeout(BaseException):
    """Raised in the policy by the alarm; a BaseException, so that a policy's `except Exception` lets it pass."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise PolicyTimeout


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[:MAX_MESSAGE - 1] + "…"


def _findings(produced: Iterable[Finding | str] | None) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    more = 0
    for item in produced or ():
        if isinstance(item, Finding):
            entry = {"message": _clip(item.message), "address": _clip(item.address)}
        elif isinstance(item, str):
            entry = {"message": _clip(item), "address": ""}
        else:
            raise TypeError(f"a policy returns Finding or str values, not {type(item).__name__}")
        if len(out) < MAX_FINDINGS:
            out.append(entry)
        else:
            more += 1
    if more:
        out.append({"message": f"… and {more} more finding(s)", "address": ""})
    return out


def _timed(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _load(number: int, job: dict[str, Any]) -> list[tuple[str, Any, PolicyInfo]]:
    path = Path(job["file"])
    spec = importlib.util.spec_from_file_location(f"grid_policy_pack_{number}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(path.parent))  # a policy may import helpers of its pack (files named _*.py)
    try:
        spec.loader.exec_module(module)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(path.parent))
    found = []
    for name, value in vars(module).items():
        info = info_of(value)
        if info is not None and getattr(value, "__module__", None) == spec.name:
            found.append((name, value, info))
    return found


def run(jobs_file: Path, out: IO[str]) -> None:
    jobs = json.loads(jobs_file.read_text())
    with open(jobs["document"]) as handle:
        document = json.load(handle)
    view = PlanView(document, datetime.fromisoformat(jobs["now"]))
    resume_job, resume_policy = jobs.get("resume", [0, -1])

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    signal.signal(signal.SIGALRM, _alarm)
    for number, job in enumerate(jobs["jobs"]):
        if number < resume_job:
            continue
        timeout = float(job["timeout"])
        emit({"e": "begin", "job": number, "policy": -1})
        try:
            _timed(timeout)
            policies = _load(number, job)
            _timed(0)
        except BaseException as exc:  # noqa: BLE001 - whatever a file does on import is its error finding
            _timed(0)
            reason = f"did not load within {timeout:g}s" if isinstance(exc, PolicyTimeout) else one_line(exc)
            emit({"e": "load-error", "job": number, "message": reason})
            continue
        emit({"e": "loaded", "job": number,
              "policies": [{"name": i.name, "level": i.level, "description": i.description}
                           for _, _, i in policies]})
        for index, (_, function, info) in enumerate(policies):
            if number == resume_job and index < resume_policy:
                continue
            emit({"e": "begin", "job": number, "policy": index})
            result: dict[str, Any] = {"e": "result", "job": number, "policy": index, "name": info.name}
            try:
                _timed(timeout)
                produced = function(view, job["config"])
                result["findings"] = _findings(produced)  # a generator runs here, under the same alarm
                _timed(0)
            except BaseException as exc:  # noqa: BLE001 - a crashing policy is an error finding, not a traceback
                _timed(0)
                result["error"] = (f"did not finish within {timeout:g}s" if isinstance(exc, PolicyTimeout)
                                   else f"failed: {one_line(exc)}")
            emit(result)
    emit({"e": "end"})


def main() -> None:
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what policies print (even from C) goes to stderr, never into the events
    sys.stdout = sys.stderr
    sys.dont_write_bytecode = True  # no __pycache__ in the pack: its digest covers its files
    run(Path(sys.argv[1]), out)


if __name__ == "__main__":
    main()
