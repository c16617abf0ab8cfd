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
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grid.drivers import pulumi_shards as shards
from grid.engines import EngineFailed, MadeFn, PreviewResult, ProgressFn, StackEngine, StackResult

if TYPE_CHECKING:
    from grid.engines import RegionInput
    from grid.plan.contract import Allowance

__all__ = ["MADE_OPS", "EngineFailed", "MadeFn", "PreviewResult", "ProcessStackEngine", "ProgressFn", "PulumiFailed",
           "StackEngine", "StackResult"]

MADE_OPS = ("create", "create-replacement", "update")
TARGET_ENV = "GRID_STACK_TARGET"
"""The target whose stack program a worker loads while it waits for its request (grid.drivers.pulumi_worker)."""


class PulumiFailed(EngineFailed):
    """Pulumi (or its worker) failed on a region's stack."""


PULUMI_MISSING = ("the pulumi CLI is not on PATH: `make setup` builds it into .tools/bin and "
                  "`source scripts/env.sh` puts that first on PATH (an official pulumi on PATH works too); "
                  "`grid doctor` lists what else is missing")


def backend_url_for(workdir: Path, backend_url: str | None) -> str:
    """The backend: the given URL, else a DIY file backend in the work directory (absolute: Pulumi runs
    in its own work directory, where a relative path would mean something else)."""
    return backend_url or f"file://{workdir.resolve() / 'pulumi-backend'}"


def file_backend_stacks(backend_url: str, project: str) -> list[str] | None:
    """The stacks of `project` in a DIY file backend (a region's, and node shards `region.pool.k`); None for
    other backends (they cannot be listed without the CLI)."""
    if not backend_url.startswith("file://"):
        return None
    root = Path(backend_url[len("file://"):]) / ".pulumi" / "stacks" / project
    return sorted(p.name[:-len(".json")] for p in root.glob("*.json")) if root.is_dir() else []


def file_backend_regions(backend_url: str, project: str) -> list[str]:
    """The regions with stacks of `project` in a DIY file backend; [] for other backends."""
    return sorted({shards.region_of(stack) for stack in file_backend_stacks(backend_url, project) or ()})


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
        self.notes: list[str] = []  # what the user should know of how regions are split (pulumi_shards.Layout)

    def warm(self, env: Mapping[str, str] | None = None) -> None:
        """Start a worker now, to take the next operation: its ~0.2 s of imports overlap planning. Unused, it
        ends with grid (its stdin closes). `env`: added to the worker's environment (e.g. grid's run tag)."""
        with self._lock:
            if self._spare is None:
                self._spare = self._spawn(env)

    def _spawn(self, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "grid.drivers.pulumi_worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **self._engine_env, **(env or {}),
                                     TARGET_ENV: str(self._request["target"])})

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

    # A region's operations run on its stacks: one, or the split of a big region (grid.drivers.pulumi_shards).
    def up(self, region: str, data: RegionInput, progress: ProgressFn | None = None, *,
           refresh: bool = True, made: MadeFn | None = None, allowed: Allowance | None = None) -> StackResult:
        def one(stack: str, part: RegionInput) -> dict[str, Any]:
            return self._run("up", stack, part, progress, made, refresh=refresh, report_made=made is not None,
                             allowed=allowed.to_dict() if allowed is not None else None)

        finals = self._each_stack(region, data, one, progress)
        return StackResult(region, shards.merge_outputs([f.get("outputs", {}) for f in finals]),
                           shards.merge_changes([f.get("changes", {}) for f in finals]))

    def preview(self, region: str, data: RegionInput, *, refresh: bool) -> PreviewResult:
        finals = self._each_stack(region, data, lambda stack, part: self._run("preview", stack, part, None,
                                                                              refresh=refresh), None, write=False)
        return PreviewResult(region, shards.merge_changes([f.get("changes", {}) for f in finals]),
                             {k: v for f in finals for k, v in f.get("steps", {}).items()})

    def destroy(self, region: str, data: RegionInput, progress: ProgressFn | None = None) -> None:
        stacks = [s for s in self.stacks() or () if s != region and shards.region_of(s) == region]
        self._sharded(region, [partial(self._run, "destroy", s, data, progress) for s in stacks])
        self._run("destroy", region, data, progress)

    def regions(self) -> list[str]:
        return file_backend_regions(self.backend_url, self.project)

    def stacks(self) -> list[str] | None:
        """The project's stacks in the backend (regions and node shards); None when the backend cannot say."""
        return file_backend_stacks(self.backend_url, self.project)

    def _each_stack(self, region: str, data: RegionInput, one: Callable[[str, RegionInput], dict[str, Any]],
                    progress: ProgressFn | None, *, write: bool = True) -> list[dict[str, Any]]:
        """`one` on each of the region's stacks: the region's own first, then its node shards at once; node
        shards left without nodes are destroyed (`write`)."""
        layout = shards.layout(region, data, self.stacks())
        if layout.note is not None and layout.note not in self.notes:
            self.notes.append(layout.note)
        (first, first_data), *rest = layout.stacks
        finals = [one(first, first_data)]
        finals += self._sharded(region, [partial(one, s, d) for s, d in rest])
        if write:
            self._sharded(region, [partial(self._run, "destroy", s, shards.empty(data), progress)
                                   for s in layout.gone])
        return finals

    @staticmethod
    def _sharded(region: str, jobs: list[Callable[[], Any]]) -> list[Any]:
        """Jobs on a region's node shards, at once; a shard's failure is the region's."""
        try:
            return shards.run_all(jobs)
        except PulumiFailed as exc:
            raise PulumiFailed(region, f"stack {exc.region}: {exc.message}") from None
