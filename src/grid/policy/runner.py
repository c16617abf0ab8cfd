"""Running packs against a plan document: in a worker process, so a policy that crashes, hangs or exits
becomes an `error` finding naming it (one line, no traceback) and grid goes on.

The worker limits each policy's time itself (grid.policy.worker); should a policy hang so that even that does
not stop it, the worker is killed here after the limit plus a grace, and a new one carries on after it.
A pack's Rego files run in `opa eval` beside the worker (grid.policy.rego); their findings follow the pack's
Python ones.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grid.policy import rego
from grid.policy.packs import Pack, combined_digest
from grid.policy.report import PackRun, PolicyFinding, PolicyReport

GRACE_SECONDS = 3.0  # beyond a policy's own limit, before its worker is killed
START_SECONDS = 20.0  # for the worker to start and read the plan document (a national plan: ~20 MB)


@dataclass
class _Progress:
    """What the workers reported so far: the policies of each file, findings, and where to resume."""

    jobs: Sequence[tuple[Pack, Path]]
    names: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # job -> (policy, level)
    findings: list[tuple[tuple[int, int], PolicyFinding]] = field(default_factory=list)
    current: tuple[int, int] | None = None  # (job, policy; -1: its import) running now
    finished: bool = False

    def level(self, job: int, name: str, declared: str) -> str:
        return str(self.jobs[job][0].levels.get(name, declared))

    def add(self, job: int, policy: int, finding: PolicyFinding) -> None:
        self.findings.append(((job, policy), finding))

    def error(self, job: int, policy: int, message: str) -> None:
        pack, file = self.jobs[job]
        if policy < 0:
            self.add(job, policy, PolicyFinding(pack.name, file.stem, "error", f"{file.name}: {message}",
                                                blocking=True))
            return
        name, level = self.names.get(job, [])[policy] if policy < len(self.names.get(job, [])) else (file.stem,
                                                                                                     "mandatory")
        if level != "disabled":
            self.add(job, policy, PolicyFinding(pack.name, name, "error", message, blocking=level != "advisory"))


def evaluate(packs: Sequence[Pack], document: Mapping[str, Any], *, now: datetime | None = None) -> PolicyReport:
    """Run every policy of `packs` against the plan document; findings in pack, file and policy order."""
    progress = _Progress([(pack, file) for pack in packs for file in pack.files])
    moment = (now or datetime.now().astimezone()).isoformat()
    with tempfile.TemporaryDirectory(prefix="grid-policy-") as scratch:
        document_file = Path(scratch) / "plan.json"
        document_file.write_text(json.dumps(document))
        rego_runs = [rego.start(pack, document_file, Path(scratch), number)
                     for number, pack in enumerate(packs) if pack.rego]
        try:
            if progress.jobs:  # a pack of only Rego needs no worker
                _run_python(progress, Path(scratch), document_file, moment)
            rego_done = {id(run.pack): rego.finish(run) for run in rego_runs}
        finally:
            for run in rego_runs:
                rego.stop(run)
    return _report(packs, progress, rego_done)


def _run_python(progress: _Progress, scratch: Path, document_file: Path, moment: str) -> None:
    """Run the Python policies in workers, a new one after each that had to be stopped."""
    jobs = progress.jobs
    resume = (0, -1)
    while not progress.finished:
        jobs_file = scratch / "jobs.json"
        jobs_file.write_text(json.dumps({
            "document": str(document_file), "now": moment, "resume": list(resume),
            "jobs": [{"file": str(file), "config": dict(pack.config), "levels": dict(pack.levels),
                      "timeout": pack.timeout} for pack, file in jobs]}))
        stopped = _run_worker(jobs_file, scratch / "stderr", progress)
        if progress.finished:
            break
        failed = progress.current or (resume[0], -1)
        progress.error(*failed, stopped)
        progress.current = None
        resume = (failed[0] + 1, -1) if failed[1] < 0 else (failed[0], failed[1] + 1)
        if resume[0] >= len(jobs):
            break


def _run_worker(jobs_file: Path, stderr_file: Path, progress: _Progress) -> str:
    """Run one worker until it ends or hangs; returns why it stopped early (used only if it did)."""
    with open(stderr_file, "wb") as stderr:
        process = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-B", "-m", "grid.policy.worker", str(jobs_file)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = time.monotonic() + START_SECONDS
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                limit = progress.jobs[progress.current[0]][0].timeout if progress.current else START_SECONDS
                return f"did not finish within {limit:g}s (stopped)"
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            if not chunk:
                process.wait()
                return _ended(process.returncode, stderr_file)
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                _record(event, progress)
                if progress.finished:
                    return ""
                if progress.current is not None:
                    deadline = time.monotonic() + progress.jobs[progress.current[0]][0].timeout + GRACE_SECONDS
    finally:
        selector.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()


def _ended(code: int, stderr_file: Path) -> str:
    lines = [line for line in stderr_file.read_text(errors="replace").splitlines() if line.strip()]
    last = f": {lines[-1].strip()[:300]}" if lines else ""
    return f"its process ended (exit code {code}) while it ran{last}"


def _record(event: Mapping[str, Any], progress: _Progress) -> None:
    kind, job = event["e"], event.get("job", 0)
    if kind == "end":
        progress.finished = True
    elif kind == "begin":
        progress.current = (job, event["policy"])
    elif kind == "load-error":
        progress.error(job, -1, f"could not be loaded: {event['message']}")
        progress.current = None
    elif kind == "loaded":
        pack, file = progress.jobs[job]
        names = [(p["name"], progress.level(job, p["name"], p["level"])) for p in event["policies"]]
        progress.names[job] = names
        if not names:
            progress.add(job, -1, PolicyFinding(pack.name, file.stem, "error", f"{file.name} defines no policy "
                                                "(no function marked with @policy)", blocking=True))
        progress.current = None
    elif kind == "result":
        progress.current = None
        name, level = progress.names[job][event["policy"]]
        pack = progress.jobs[job][0]
        if level == "disabled":
            return
        if "error" in event:
            progress.error(job, event["policy"], event["error"])
            return
        for found in event.get("findings", []):
            progress.add(job, event["policy"], PolicyFinding(
                pack.name, name, level, found["message"], found["address"],
                blocking=level == "mandatory"))


def _report(packs: Sequence[Pack], progress: _Progress, rego_done: Mapping[int, rego.RegoRun]) -> PolicyReport:
    python = sorted(progress.findings, key=lambda item: item[0])
    ordered: list[PolicyFinding] = []
    runs = []
    for pack in packs:
        ordered += [finding for (job, _), finding in python if progress.jobs[job][0] is pack]
        names = [name for job, (owner, _) in enumerate(progress.jobs) if owner is pack
                 for name, _ in progress.names.get(job, [])]
        if id(pack) in rego_done:
            ordered += rego_done[id(pack)].findings
            names += rego.policy_names(rego_done[id(pack)])
        runs.append(PackRun(pack.name, str(pack.path), pack.digest, tuple(names)))
    return PolicyReport(tuple(runs), tuple(ordered), combined_digest((str(p.path), p.digest) for p in packs))
