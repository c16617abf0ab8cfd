"""The Automation API's workspace and stack, minus the CLI runs whose answers grid already has.

Each `pulumi` run costs 0.2-0.6 s here (a Go binary that logs into the backend). Around one `up`
the Automation API adds five: `version` (per workspace), `stack select` (when every command names
its stack with --stack anyway), `stack output` twice and `stack history` (the outputs and the change
counts the run's own engine events already carried). On a +1 node change that is half the region's
time. These classes answer from what grid knows and fall back to the CLI whenever they do not know.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation._stack import StackInitMode  # the public factories hard-code `Stack`
from pulumi.automation.errors import StackNotFoundError
from semver import VersionInfo

ROOT_TYPE = "pulumi:pulumi:Stack"


def cli_command(cache_dir: Path) -> auto.PulumiCommand:
    """The `pulumi` on PATH with its version, asked once per binary (cached by path, size and mtime)."""
    binary = shutil.which("pulumi") or "pulumi"
    try:
        stat = os.stat(binary)
        key = f"{os.path.realpath(binary)}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        return auto.PulumiCommand(skip_version_check=True)
    cache = cache_dir / "pulumi-cli-version.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return KnownVersionCommand(binary, VersionInfo.parse(cached["version"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    command = auto.PulumiCommand(skip_version_check=True)  # runs `pulumi version`
    if command.version is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temp = cache.with_name(f".{cache.name}.{os.getpid()}")
        temp.write_text(json.dumps({"key": key, "version": str(command.version)}))
        os.replace(temp, cache)
    return command


class KnownVersionCommand(auto.PulumiCommand):
    """A PulumiCommand whose version is already known (its constructor would run `pulumi version`)."""

    def __init__(self, command: str, version: VersionInfo) -> None:  # no super().__init__: it would run the CLI
        self.command = command
        self.version = version


class Workspace(auto.LocalWorkspace):
    """Selects a stack without the CLI when `exists` knows the answer: every command of a Stack passes
    --stack, so selecting an existing stack does nothing grid needs, and a missing one is created."""

    def __init__(self, *, exists: Callable[[str], bool | None], **options: Any) -> None:
        super().__init__(**options)
        self._exists = exists

    def select_stack(self, stack_name: str) -> None:
        known = self._exists(stack_name)
        if known is None:
            super().select_stack(stack_name)
        elif not known:
            raise StackNotFoundError(CommandResult(stdout="", stderr=f"no stack named {stack_name}", code=255))


class EventStack(auto.Stack):
    """A Stack whose outputs and last summary come from the events of its own run, when they carried them.

    `record` must see every engine event of the run (grid chains it into on_event).
    """

    def __init__(self, name: str, workspace: auto.LocalWorkspace) -> None:
        super().__init__(name, workspace, StackInitMode.CREATE_OR_SELECT)
        self._outputs: dict[str, Any] | None = None
        self._changes: dict[Any, int] | None = None
        self._started = datetime.now()

    def record(self, event: auto.EngineEvent) -> None:
        if event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            if meta.type == ROOT_TYPE and meta.new is not None:
                self._outputs = dict(meta.new.outputs or {})
        elif event.summary_event is not None:
            self._changes = dict(event.summary_event.resource_changes or {})

    def outputs(self) -> auto.OutputMap:
        if self._outputs is None or _has_secret(self._outputs):
            return super().outputs()
        return {key: auto.OutputValue(value=value, secret=False) for key, value in self._outputs.items()}

    def info(self, show_secrets: bool = True) -> auto.UpdateSummary | None:
        if self._changes is None:
            return super().info(show_secrets)
        return auto.UpdateSummary(kind="update", start_time=self._started, message="", environment={},
                                  config={}, result="succeeded", end_time=datetime.now(),
                                  resource_changes=self._changes)


def _has_secret(value: Any) -> bool:
    """Events show secret outputs masked; such outputs are read with the CLI (grid's stacks export none)."""
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return isinstance(value, str) and value == "[secret]"


def pending_operations(checkpoint: Path) -> bool | None:
    """Whether a DIY backend's stack checkpoint holds pending operations; None when it cannot tell."""
    try:
        body = json.loads(checkpoint.read_bytes())
        latest = body["checkpoint"].get("latest") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return bool(latest.get("pending_operations")) if isinstance(latest, dict) else None
