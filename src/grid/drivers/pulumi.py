"""Pulumi for grid: the engine behind grid.engines.StackEngine, one worker process per region operation.

The worker (grid.drivers.pulumi_worker) drives the Automation API (grid.drivers.pulumi_automation):
inline programs let it host the language runtime, so no `pulumi-language-python` plugin is needed;
the engine itself is the real `pulumi` CLI. This module does not import the Pulumi SDK (0.1 s of
every grid command's start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grid.engines import EngineFailed, MadeFn, PreviewResult, ProgressFn, RegionInput, StackEngine, StackResult

if TYPE_CHECKING:
    from grid.plan.contract import Allowance

__all__ = ["MADE_OPS", "EngineFailed", "MadeFn", "PreviewResult", "ProcessStackEngine", "ProgressFn", "PulumiFailed",
           "RegionInput", "StackEngine", "StackResult"]

MADE_OPS = ("create", "create-replacement", "update")


class PulumiFailed(EngineFailed):
    """Pulumi (or its worker) failed on a region's stack."""


PULUMI_MISSING = ("the pulumi CLI is not on PATH: `make setup` builds it into .tools/bin and "
                  "`source scripts/env.sh` puts that first on PATH (an official pulumi on PATH works too); "
                  "`grid doctor` lists what else is missing")


def backend_url_for(workdir: Path, backend_url: str | None) -> str:
    """The backend: the given URL, else a DIY file backend in the work directory (absolute: Pulumi runs
    in its own work directory, where a relative path would mean something else)."""
    return backend_url or f"file://{workdir.resolve() / 'pulumi-backend'}"


def file_backend_regions(backend_url: str, project: str) -> list[str]:
    """The stacks (regions) of `project` in a DIY file backend; [] for other backends."""
    if not backend_url.startswith("file://"):
        return []
    root = Path(backend_url[len("file://"):]) / ".pulumi" / "stacks" / project
    return sorted(p.name.split(".")[0] for p in root.glob("*.json")) if root.is_dir() else []


def _last_lines(text: str, count: int = 12) -> str:
    """What went wrong, from a failed Pulumi command's output: its "Diagnostics:" section (the errors, per
    resource) when there is one — the end of the output is only the outputs and the change summary —
    else the error lines, else the last lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    if "Diagnostics:" in lines:
        section = []
        for line in lines[lines.index("Diagnostics:") + 1:]:
            if not line.startswith(" ") and line.endswith(":"):  # the next section: Outputs:, Resources:
                break
            section.append(line)
        if section := _without_tracebacks(section):
            return "\n".join(_dedent(section)[:count * 2])
    errors = [line[line.index("error:"):].strip() for line in lines if "error:" in line]
    return "\n".join(errors[-count:] if errors else lines[-count:])


def _without_tracebacks(lines: list[str]) -> list[str]:
    """A provider's exception without its stack frames (`File "...", line N` and the source line after)."""
    kept: list[str] = []
    skip_source = False
    for line in lines:
        stripped = line.strip()
        if skip_source:
            skip_source = False
            if not stripped.startswith(("File ", "Traceback ")) and not stripped.startswith(("error:", "grid.")):
                continue
        if stripped.startswith("Traceback (most recent call last)") or (stripped and not stripped.strip("^~ ")):
            continue  # the header, and the lines of carets under a frame's source
        if stripped.startswith('File "'):
            skip_source = True
            continue
        kept.append(line.replace(" Traceback (most recent call last):", ""))
    return kept


def _dedent(lines: list[str]) -> list[str]:
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return [line[indent:] for line in lines]


def _reap(process: subprocess.Popen[str]) -> None:
    """Let a worker that has answered exit: its stdin is closed, stdout no longer read, stderr drained."""
    if process.stdout is not None:
        process.stdout.close()
    if process.stderr is not None:
        process.stderr.read()
        process.stderr.close()
    process.wait()


class ProcessStackEngine:
    """`StackEngine` that runs each operation in a `grid.drivers.pulumi_worker` process."""

    def __init__(self, *, project: str, target: str, workdir: Path, passphrase_file: Path,
                 backend_url: str | None = None, engine_env: Mapping[str, str] | None = None) -> None:
        """`engine_env`: what the backend needs in Pulumi's environment (grid.state.PulumiBackend.env, e.g.
        PGPASSWORD): given to the worker processes only — never in their request, a file or grid's own env."""
        self.project = project
        self.backend_url = backend_url_for(workdir, backend_url)
        self._engine_env = dict(engine_env or {})
        self._request = {"project": project, "target": target, "workdir": str(workdir.resolve()),
                         "backend_url": self.backend_url, "passphrase_file": str(passphrase_file.resolve())}
        self._spare: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def warm(self, env: Mapping[str, str] | None = None) -> None:
        """Start a worker now, to take the next operation: its ~0.2 s of imports overlap planning. Unused, it
        ends with grid (its stdin closes). `env`: added to the worker's environment (e.g. grid's run tag)."""
        with self._lock:
            if self._spare is None:
                self._spare = self._spawn(env)

    def _spawn(self, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "grid.drivers.pulumi_worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **self._engine_env, **(env or {})})

    def _run(self, op: str, region: str, data: RegionInput, progress: ProgressFn | None,
             made: MadeFn | None = None, **extra: Any) -> dict[str, Any]:
        request = {**self._request, "op": op, "region": region, "data": data, **extra}
        with self._lock:
            process, self._spare = self._spare or self._spawn(), None
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(request))
        process.stdin.close()
        final: dict[str, Any] | None = None
        for line in process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if message.get("event") == "progress" and progress is not None:
                progress(message["address"], message["op"], message["status"])
            elif message.get("event") == "made" and made is not None:
                made(message["address"], message["outputs"])
            elif message.get("event") in ("result", "error"):
                final = message
                break
        if final is None:
            stderr = process.stderr.read() if process.stderr else ""
            process.wait()
            raise PulumiFailed(region, f"the stack worker exited with {process.returncode}: "
                                       f"{_last_lines(stderr)}")
        # The answer is in; the worker's interpreter takes ~0.15 s more to exit: reap it meanwhile.
        threading.Thread(target=_reap, args=(process,), daemon=True).start()
        if final["event"] == "error":
            raise PulumiFailed(region, str(final.get("message", "")))
        return final

    def up(self, region: str, data: RegionInput, progress: ProgressFn | None = None, *,
           refresh: bool = True, made: MadeFn | None = None, allowed: Allowance | None = None) -> StackResult:
        final = self._run("up", region, data, progress, made, refresh=refresh, report_made=made is not None,
                          allowed=allowed.to_dict() if allowed is not None else None)
        return StackResult(region, final.get("outputs", {}), final.get("changes", {}))

    def preview(self, region: str, data: RegionInput, *, refresh: bool) -> PreviewResult:
        final = self._run("preview", region, data, None, refresh=refresh)
        return PreviewResult(region, final.get("changes", {}), final.get("steps", {}))

    def destroy(self, region: str, data: RegionInput, progress: ProgressFn | None = None) -> None:
        self._run("destroy", region, data, progress)

    def regions(self) -> list[str]:
        return file_backend_regions(self.backend_url, self.project)
