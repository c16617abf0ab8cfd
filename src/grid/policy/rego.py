"""Rego policies of a pack, evaluated by the OPA CLI (`opa eval`), the way conftest reads them.

Each Rego package of a pack's `.rego` files (not `*_test.rego`: those are for `opa test`) is one policy, named by
its package path (`package freeze` → `freeze`, `package grid["allowed-accelerators"]` →
`grid.allowed-accelerators`). Its `deny` rule (a set or array of strings, or of objects with `msg` and optionally
`address`) gives `mandatory` findings, its `warn` rule `advisory` ones; `levels` in pack.yaml sets the level of
all of a package's findings, or `disabled` leaves it out of the query. The plan document is `input`, the pack's
`config` is `data.config`.

One `opa eval` per pack, started before the Python worker so both run at once (a national plan document is
~20 MB: OPA reads it once per pack); it is killed when it runs past the pack's time limit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grid.policy.packs import Pack
from grid.policy.report import FindingLevel, PolicyFinding

OPA_MISSING = ("the OPA CLI (`opa`) is not on PATH, so the pack's Rego policies could not run: `make setup` "
               "builds it into .tools/bin (then `source scripts/env.sh`)")
RULE_LEVELS: Mapping[str, FindingLevel] = {"deny": "mandatory", "warn": "advisory"}
MAX_FINDINGS = 200  # per rule, as for a Python policy
MAX_MESSAGE = 500
# The package clause: the first statement of a Rego file (comments may come before it).
PACKAGE = re.compile(r"^[ \t]*package[ \t]+([^\s#]+)", re.MULTILINE)
SEGMENT = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\]')
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RegoPackage:
    name: str  # the package path without `data.`, dotted
    path: tuple[str, ...]
    file: Path  # where it is first declared


@dataclass
class RegoRun:
    """One pack's `opa eval`, running (or why it could not start)."""

    pack: Pack
    packages: tuple[RegoPackage, ...]
    queried: tuple[RegoPackage, ...]  # the packages not disabled, in query order
    process: subprocess.Popen[bytes] | None = None
    output: Path | None = None
    deadline: float = 0.0
    problem: str = ""  # why it did not run (OPA missing)
    findings: list[PolicyFinding] = field(default_factory=list)


def package_of(text: str) -> tuple[str, ...] | None:
    """The package path a Rego file declares, or None when there is no readable package clause (OPA says why)."""
    match = PACKAGE.search(text)
    if match is None:
        return None
    clause, segments, at = match.group(1), [], 0
    while at < len(clause):
        part = SEGMENT.match(clause, at)
        if part is None or part.end() == at:
            return None
        segments.append(part.group(1) if part.group(1) is not None else json.loads(f'"{part.group(2)}"'))
        at = part.end()
    return tuple(segments) if segments else None


def packages(files: Sequence[Path]) -> tuple[RegoPackage, ...]:
    found: dict[tuple[str, ...], RegoPackage] = {}
    for file in files:
        path = package_of(file.read_text(errors="replace"))
        if path is not None and path not in found:
            found[path] = RegoPackage(".".join(path), path, file)
    return tuple(found.values())


def reference(path: Sequence[str]) -> str:
    return "data" + "".join(f".{s}" if IDENTIFIER.match(s) else f"[{json.dumps(s)}]" for s in path)


def start(pack: Pack, document_file: Path, scratch: Path, number: int) -> RegoRun:
    """Start `opa eval` for the pack's Rego files (nothing runs when every package is disabled)."""
    found = packages(pack.rego)
    queried = tuple(p for p in found if pack.levels.get(p.name) != "disabled")
    run = RegoRun(pack, found, queried)
    if found and not queried:
        return run
    opa = shutil.which("opa")
    if opa is None:
        run.problem = OPA_MISSING
        return run
    data_file = scratch / f"rego-data-{number}.json"
    data_file.write_text(json.dumps({"config": dict(pack.config)}))
    run.output = scratch / f"rego-out-{number}.json"
    # A query with no package still compiles every file, so a pack of only broken files reports its errors.
    query = "\n".join(reference(p.path) for p in queried) or "data.config"
    argv = [opa, "eval", "--format", "json", "--input", str(document_file), "--data", str(data_file)]
    for file in pack.rego:
        argv += ["--data", str(file)]
    with open(run.output, "wb") as out:
        run.process = subprocess.Popen([*argv, query], stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    run.deadline = time.monotonic() + pack.timeout
    return run


def finish(run: RegoRun) -> RegoRun:
    """Wait for the pack's `opa eval` (until its deadline) and turn what it said into findings."""
    if run.problem:
        run.findings.append(_error(run, run.problem))
        return run
    if run.process is None or run.output is None:
        return run
    try:
        run.process.wait(timeout=max(0.0, run.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        stop(run)
        run.findings.append(_error(run, f"did not finish within {run.pack.timeout:g}s (stopped)"))
        return run
    text = run.output.read_text(errors="replace")
    try:
        answer = json.loads(text)
    except ValueError:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        run.findings.append(_error(run, f"opa eval failed (exit code {run.process.returncode})"
                                        + (f": {lines[-1][:300]}" if lines else "")))
        return run
    if answer.get("errors"):
        for problem in answer["errors"][:MAX_FINDINGS]:
            run.findings.append(_error(run, _located(run.pack, problem)))
        return run
    results = answer.get("result") or [{}]
    values = [e.get("value") for e in results[0].get("expressions", [])]
    for package, value in zip(run.queried, values, strict=False):
        run.findings.extend(_package_findings(run.pack, package, value if isinstance(value, dict) else {}))
    if not run.queried or not any(isinstance(v, dict) and (v.keys() & RULE_LEVELS.keys()) for v in values):
        run.findings.append(_error(run, "the .rego files define no policy (no deny or warn rule in any package)"))
    return run


def stop(run: RegoRun) -> None:
    """Kill the pack's `opa eval` if it still runs (grid is leaving early)."""
    if run.process is not None and run.process.poll() is None:
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait()


def policy_names(run: RegoRun) -> tuple[str, ...]:
    return tuple(p.name for p in run.packages)


def _package_findings(pack: Pack, package: RegoPackage, value: Mapping[str, Any]) -> list[PolicyFinding]:
    found: list[PolicyFinding] = []
    override = pack.levels.get(package.name)
    for rule, declared in RULE_LEVELS.items():
        if rule not in value:
            continue
        level: FindingLevel = "advisory" if override == "advisory" else "mandatory" if override else declared
        entries = _entries(value[rule])
        if entries is None:
            found.append(PolicyFinding(pack.name, package.name, "error", f"{package.file.name}: `{rule}` must be a "
                                       "set or array of strings or of objects with msg", blocking=level != "advisory"))
            continue
        for message, address in entries[:MAX_FINDINGS]:
            found.append(PolicyFinding(pack.name, package.name, level, message, address,
                                       blocking=level == "mandatory"))
        if len(entries) > MAX_FINDINGS:
            found.append(PolicyFinding(pack.name, package.name, level,
                                       f"… and {len(entries) - MAX_FINDINGS} more finding(s)",
                                       blocking=level == "mandatory"))
    return found


def _entries(value: Any) -> list[tuple[str, str]] | None:
    """(message, address) of each element of a deny/warn value; None when it is not a collection."""
    if isinstance(value, bool):
        return [("denied", "")] if value else []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return None
    entries = []
    for item in value:
        if isinstance(item, dict):
            message = item.get("msg", item.get("message"))
            text = message if isinstance(message, str) else json.dumps(item, sort_keys=True)
            entries.append((_clip(text), _clip(str(item.get("address") or ""))))
        else:
            entries.append((_clip(item if isinstance(item, str) else json.dumps(item)), ""))
    return entries


def _located(pack: Pack, problem: Mapping[str, Any]) -> str:
    location = problem.get("location") or {}
    file = str(location.get("file") or "")
    shown = Path(file).name if file else ""
    where = f"{shown}:{location.get('row')}: " if shown and location.get("row") else f"{shown}: " if shown else ""
    return f"{where}{_clip(str(problem.get('message', 'error')))} ({problem.get('code', 'opa error')})"


def _error(run: RegoRun, message: str) -> PolicyFinding:
    """An error of the pack's Rego as a whole: it blocks unless every package it queried is advisory."""
    names = [p.name for p in run.queried] or [p.stem for p in run.pack.rego]
    blocking = any(run.pack.levels.get(n) != "advisory" for n in names) if names else True
    return PolicyFinding(run.pack.name, ", ".join(names) or "rego", "error", message, blocking=blocking)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[:MAX_MESSAGE - 1] + "…"
