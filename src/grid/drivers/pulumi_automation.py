"""Pulumi's Automation API for one region's stack: inline programs, recovery after kills, events.

Runs inside grid.drivers.pulumi_worker (one process per region operation: Pulumi's Python runtime
keeps per-program settings in process globals). Inline programs let the Automation API host the
language runtime in this process, so no `pulumi-language-python` plugin is needed.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from grid.drivers.launchers import write_launcher
from grid.drivers.pulumi import (
    MADE_OPS,
    PULUMI_MISSING,
    MadeFn,
    PreviewResult,
    ProgressFn,
    PulumiFailed,
    StackResult,
    _last_lines,
    backend_url_for,
    file_backend_regions,
)
from grid.drivers.pulumi_history import prune_history
from grid.drivers.pulumi_locks import clear_stale_locks
from grid.drivers.pulumi_workspace import EventStack, Workspace, cli_command, pending_operations
from grid.plan.contract import ALLOWANCE_ENV, Allowance


class AutomationEngine:
    """Runs the region stacks of one cluster against a DIY backend under the work directory."""

    def __init__(self, *, project: str, target: str, workdir: Path, backend_url: str | None = None,
                 passphrase_file: Path, env: Mapping[str, str] | None = None) -> None:
        """`env`: what the backend needs in Pulumi's environment (e.g. PGPASSWORD), for its processes only."""
        self.project = project
        self.backend_env = dict(env or {})
        self.target = target
        # Absolute: Pulumi runs in its own work directory, where relative paths would mean something else.
        self.workdir = workdir.resolve()
        self.backend_url = backend_url_for(workdir, backend_url)
        self.passphrase_file = passphrase_file.resolve()

    # -- plumbing -------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return {
            "PULUMI_BACKEND_URL": self.backend_url,
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(self.passphrase_file),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PATH": os.environ.get("PATH", ""),
            # The dynamic-provider process must run the python that has grid installed, and start
            # in grid.stacks.provider_host (which ends it when the engine is killed).
            "PULUMI_PYTHON_CMD": str(self._provider_launcher()),
            **self.backend_env,
        }

    def _provider_launcher(self) -> Path:
        """An executable that `pulumi-resource-pulumi-python` runs as `CMD -u -m pulumi.dynamic ADDR`."""
        path = self.workdir / "pulumi-work" / "provider-python"
        text = ("#!/bin/sh\n# Written by grid: Pulumi's dynamic providers start here (grid.stacks.provider_host).\n"
                f'exec {shlex.quote(sys.executable)} -u -m grid.stacks.provider_host "$@"\n')
        return write_launcher(path, text)  # region workers may write it at once

    def _stack(self, region: str, data: dict[str, Any], allowed: Allowance | None = None) -> EventStack:
        if self.backend_url.startswith("file://"):
            Path(self.backend_url[len("file://"):]).mkdir(parents=True, exist_ok=True)
            self._repair_sidecars(region)
        if shutil.which("pulumi") is None:
            raise PulumiFailed(region, PULUMI_MISSING)
        work = self.workdir / "pulumi-work" / region
        work.mkdir(parents=True, exist_ok=True)
        env = self._env()
        # What the plan keeps, for grid's providers to hold every replace and delete against (they run in
        # Pulumi's provider process, which inherits this environment). Absent: nothing to hold against.
        allowance_file = work / "plan-allowance.json"
        allowance_file.unlink(missing_ok=True)
        if allowed is not None:
            allowance_file.write_text(json.dumps(allowed.to_dict()))
            env[ALLOWANCE_ENV] = str(allowance_file)
        module = importlib.import_module(f"grid.stacks.{self.target}")

        def program() -> None:
            module.program(data)

        settings = auto.ProjectSettings(name=self.project, runtime="python", main=str(work),
                                        backend=auto.ProjectBackend(url=self.backend_url))
        try:
            workspace = Workspace(exists=self._stack_exists,
                                  work_dir=str(work), program=program, env_vars=env,
                                  project_settings=settings,
                                  pulumi_command=cli_command(self.workdir / "pulumi-work"))
            return EventStack(region, workspace)
        except auto.CommandError as exc:
            raise PulumiFailed(region, _last_lines(str(exc))) from None

    def _stack_exists(self, region: str) -> bool | None:
        """Known for a DIY file backend (a stack is its checkpoint file); None: ask the CLI."""
        return None if self._backend_dir() is None else self._checkpoint(region) is not None

    def _checkpoint(self, region: str) -> Path | None:
        """The region's stack checkpoint in a DIY file backend, if the stack exists there."""
        root = self._backend_dir()
        path = root / "stacks" / self.project / f"{region}.json" if root is not None else None
        return path if path is not None and path.is_file() else None

    def _recover(self, stack: auto.Stack, region: str) -> None:
        """Undo what a killed run left behind, before an operation that writes the stack.

        Callers hold grid's state lock, so no other grid is updating this stack. A killed `pulumi`
        leaves its DIY lock file (every later update would refuse to start) and pending operations
        in the checkpoint: stale locks are removed, pending operations dropped, and refresh lets
        the providers' `read` report what really exists. Pulumi's history of the stack is kept to its
        newest entries (grid.drivers.pulumi_history).
        """
        self._clear_stale_locks(region)
        prune_history(self.backend_url, self.project, region, env=self.backend_env)
        self._restore_checkpoint(region)
        checkpoint = self._checkpoint(region)
        if checkpoint is not None and pending_operations(checkpoint) is False:
            return  # read from the file: `stack export` would cost a CLI run
        try:
            deployment = stack.export_stack()
        except auto.CommandError:
            return
        body = dict(deployment.deployment or {})
        if body.get("pending_operations"):
            body["pending_operations"] = []
            stack.import_stack(auto.Deployment(version=deployment.version, deployment=body))
            stack.refresh(color="never")

    def _backend_dir(self) -> Path | None:
        return Path(self.backend_url[len("file://"):]) / ".pulumi" if self.backend_url.startswith("file://") else None

    def _repair_sidecars(self, region: str) -> list[Path]:
        """Remove torn `.attrs` files of the region's stack in the DIY backend; returns them.

        The file backend (gocloud fileblob) writes an object's metadata sidecar by truncating it and then
        writing it: a kill in between leaves an empty file, and every later command fails with "failed to
        load checkpoint: EOF". A missing sidecar means "no metadata" to fileblob, so removing a torn one
        is always safe, even without grid's lock.
        """
        import json

        root = self._backend_dir()
        if root is None:
            return []
        removed = []
        for path in [root / "meta.yaml.attrs", *root.glob(f"stacks/{self.project}/{region}.json*.attrs")]:
            try:
                if isinstance(json.loads(path.read_bytes() or b"null"), dict):
                    continue
            except FileNotFoundError:
                continue
            except ValueError:
                pass
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    def _restore_checkpoint(self, region: str) -> None:
        """Under grid's lock, before the region's operation: drop temp files of its killed writes (only its
        own: other regions' workers may be writing theirs); bring back a checkpoint that does not parse from
        the `.bak` Pulumi keeps (the file backend renames complete files into place: a second line of defence).
        """
        import json

        root = self._backend_dir()
        if root is None:
            return
        for temp in root.glob(f"stacks/{self.project}/{region}.json*.tmp"):
            temp.unlink(missing_ok=True)
        for checkpoint in root.glob(f"stacks/{self.project}/{region}.json"):
            backup = checkpoint.with_name(checkpoint.name + ".bak")
            try:
                json.loads(checkpoint.read_bytes())
                continue
            except ValueError:
                if not backup.is_file():
                    continue
            temp = checkpoint.with_name(checkpoint.name + ".grid-restore")
            temp.write_bytes(backup.read_bytes())
            os.replace(temp, checkpoint)
            checkpoint.with_name(checkpoint.name + ".attrs").unlink(missing_ok=True)

    def _clear_stale_locks(self, region: str) -> list[Path]:
        """Remove this stack's locks whose `pulumi` process is gone from this host (grid.drivers.pulumi_locks)."""
        return clear_stale_locks(self.backend_url, self.project, region, env=self.backend_env)

    # -- operations -----------------------------------------------------------------------------------
    def up(self, region: str, data: dict[str, Any], progress: ProgressFn | None = None, *,
           refresh: bool = True, made: MadeFn | None = None, allowed: Allowance | None = None) -> StackResult:
        stack = self._stack(region, data, allowed)
        try:
            self._recover(stack, region)
            result = stack.up(color="never", on_event=_event_handler(progress, stack.record, made), refresh=refresh,
                              suppress_progress=True)
        except auto.CommandError as exc:
            raise PulumiFailed(region, _last_lines(str(exc))) from None
        outputs = {key: value.value for key, value in result.outputs.items()}
        return StackResult(region, outputs, _counts(result.summary.resource_changes))

    def preview(self, region: str, data: dict[str, Any], *, refresh: bool) -> PreviewResult:
        stack = self._stack(region, data)
        steps: dict[str, str] = {}

        def record(event: auto.EngineEvent) -> None:
            pre = event.resource_pre_event
            if pre is not None and pre.metadata is not None:
                steps[_address(pre.metadata.urn)] = str(pre.metadata.op.value if pre.metadata.op else "")

        try:
            # Read-only: runs without grid's lock (plan --refresh, drift), so it never repairs the stack.
            result = stack.preview(color="never", on_event=record, refresh=refresh)
        except auto.CommandError as exc:
            raise PulumiFailed(region, _last_lines(str(exc))) from None
        return PreviewResult(region, _counts(result.change_summary), steps)

    def destroy(self, region: str, data: dict[str, Any], progress: ProgressFn | None = None) -> None:
        stack = self._stack(region, data)
        try:
            self._recover(stack, region)
            stack.destroy(color="never", on_event=_event_handler(progress, stack.record), suppress_progress=True)
            stack.workspace.remove_stack(region)
        except auto.CommandError as exc:
            raise PulumiFailed(region, _last_lines(str(exc))) from None

    def regions(self) -> list[str]:
        return file_backend_regions(self.backend_url, self.project)


def _counts(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """Pulumi's change counts keyed by operation name ("create", ...), not by its OpType enum."""
    return {str(getattr(op, "value", op)): count for op, count in (summary or {}).items()}


def _address(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _event_handler(progress: ProgressFn | None, record: Callable[[auto.EngineEvent], None],
                   made: MadeFn | None = None) -> Callable[[auto.EngineEvent], None]:
    """Every event to `record` (the stack keeps outputs and counts); resource steps to `progress`, and
    resources made to `made` with their outputs."""

    def handle(event: auto.EngineEvent) -> None:
        record(event)
        outputs = event.res_outputs_event.metadata if event.res_outputs_event else None
        if (made is not None and outputs is not None and outputs.new is not None and outputs.op is not None
                and outputs.op.value in MADE_OPS and _reportable(outputs.type)):
            made(_address(outputs.urn), dict(outputs.new.outputs or {}))
        if progress is None:
            return
        if event.resource_pre_event and event.resource_pre_event.metadata:
            meta = event.resource_pre_event.metadata
            if _reportable(meta.type) and meta.op and meta.op.value not in ("same", "read", "refresh"):
                progress(_address(meta.urn), meta.op.value, "started")
        elif event.res_outputs_event and event.res_outputs_event.metadata:
            meta = event.res_outputs_event.metadata
            if _reportable(meta.type) and meta.op and meta.op.value not in ("same", "read", "refresh"):
                progress(_address(meta.urn), meta.op.value, "done")
        elif event.res_op_failed_event and event.res_op_failed_event.metadata:
            meta = event.res_op_failed_event.metadata
            progress(_address(meta.urn), meta.op.value if meta.op else "", "failed")

    return handle


def _reportable(resource_type: str) -> bool:
    """Resources a user knows by address; not the stack itself or Pulumi's provider instances."""
    return resource_type != "pulumi:pulumi:Stack" and not resource_type.startswith("pulumi:providers:")
