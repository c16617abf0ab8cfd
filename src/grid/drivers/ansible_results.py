"""What an Ansible run says, per host: ansible-runner's events folded into typed outcomes (grid.drivers.ansible).

A host's outcome counts its changes and failures from the run's final stats when they came (a run cut short
has none: a host that failed nothing by then is not configured, and says so), keeps each failed task's own
words (a command's stderr before Ansible's "non-zero return code"), and marks what check mode could not verify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNVERIFIABLE_KEY = "grid_unverifiable"
"""A task result holding this key (`debug: var=grid_unverifiable`) was not verifiable in check mode."""

EventCallback = Callable[[str, str, str], None]
"""on_event(host, task, status); status: start, ok, changed, failed, skipped, unreachable, unverifiable."""


@dataclass(frozen=True)
class HostOutcome:
    ok: bool
    changed: int
    failed: int
    unreachable: bool
    changed_tasks: list[str] = field(default_factory=list)
    failed_tasks: list[tuple[str, str]] = field(default_factory=list)
    unverifiable_tasks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for messages: why the host failed, else what changed."""
        if self.unreachable or self.failed_tasks:
            head = "unreachable: " if self.unreachable else ""
            return head + "; ".join(f"{task}: {message}" for task, message in self.failed_tasks[:3])
        if self.failed:
            return f"{self.failed} task(s) failed"
        return f"{self.changed} change(s)" if self.changed else "ok"


@dataclass(frozen=True)
class PlaybookResult:
    ok: bool
    hosts: dict[str, HostOutcome]
    rc: int
    output_tail: str = ""  # the end of Ansible's output when the run failed, for the error message
    strategy: str = ""


@dataclass
class _Host:
    changed_tasks: list[str] = field(default_factory=list)
    failed_tasks: list[tuple[str, str]] = field(default_factory=list)
    unverifiable_tasks: list[str] = field(default_factory=list)
    changed: int = 0
    failed: int = 0
    unreachable: bool = False


class Collector:
    """Folds ansible-runner events into per-host outcomes (counts from the final stats when present)."""

    def __init__(self, *, check: bool, on_event: EventCallback | None) -> None:
        self.check = check
        self.on_event = on_event
        self.hosts: dict[str, _Host] = {}
        self.stats: Mapping[str, Any] | None = None

    def handle(self, event: Mapping[str, Any]) -> bool:
        kind = str(event.get("event", ""))
        data: Mapping[str, Any] = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            self.stats = data
            return False
        host = data.get("host")
        if not host or not kind.startswith("runner_on_"):
            return False
        task = _task_name(data)
        acc = self.hosts.setdefault(str(host), _Host())
        res: Mapping[str, Any] = data.get("res") or {}
        status = kind.removeprefix("runner_on_")
        if kind == "runner_on_ok":
            if res.get("changed") or _censored_change(res, event):
                status = "changed"
                acc.changed += 1
                _add(acc.changed_tasks, task)
            reasons = _unverifiable(res, self.check)
            if reasons is not None:
                status = "unverifiable"
                for reason in reasons or [""]:
                    _add(acc.unverifiable_tasks, f"{task}: {reason}" if reason else task)
        elif kind == "runner_on_failed":
            if data.get("ignore_errors"):
                status = "ok"
            else:
                acc.failed += 1
                acc.failed_tasks.append((task, _message(res)))
        elif kind == "runner_on_unreachable":
            acc.unreachable = True
            acc.failed_tasks.append((task, _message(res)))
        if self.on_event is not None:
            self.on_event(str(host), task, status)
        return False

    def outcomes(self) -> dict[str, HostOutcome]:
        stats = self.stats or {}
        finished = self.stats is not None
        names = set(self.hosts)
        for key in ("processed", "ok", "changed", "failures", "dark"):
            names.update((stats.get(key) or {}).keys())
        out: dict[str, HostOutcome] = {}
        for name in sorted(names):
            acc = self.hosts.get(name, _Host())
            changed = int((stats.get("changed") or {}).get(name, acc.changed)) if stats else acc.changed
            failed = int((stats.get("failures") or {}).get(name, acc.failed)) if stats else acc.failed
            unreachable = acc.unreachable or bool((stats.get("dark") or {}).get(name, 0))
            failed_tasks = acc.failed_tasks
            if not finished and not failed_tasks and not unreachable:
                # No final stats: the run was cut short (cancelled at a Ctrl-C, or killed); a host that
                # failed nothing so far is not configured for that.
                failed_tasks = [*failed_tasks, ("Ansible", "the run ended before this host was done")]
            out[name] = HostOutcome(
                ok=finished and not unreachable and failed == 0, changed=changed, failed=failed,
                unreachable=unreachable, changed_tasks=acc.changed_tasks, failed_tasks=failed_tasks,
                unverifiable_tasks=acc.unverifiable_tasks)
        return out


def _censored_change(res: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """A no_log task's result reaches the events censored to one key, `changed` gone with the rest; the
    display line still says `changed: [host]` (a munge key replaced by hand is drift too)."""
    return "censored" in res and str(event.get("stdout") or "").lstrip().startswith("changed:")


def _command_words(res: Mapping[str, Any]) -> str:
    """The last lines a failed command printed: stderr, else stdout (the script module's pty merges them), without
    SSH's own `Shared connection to … closed.`."""
    for key in ("stderr", "stdout"):
        lines = [line for line in str(res.get(key) or "").splitlines()
                 if line.strip() and not line.startswith("Shared connection to ")]
        if lines:
            return "\n".join(lines[-5:])
    return ""


def _task_name(data: Mapping[str, Any]) -> str:
    task = str(data.get("task") or data.get("task_action") or "?")
    role = data.get("role")
    return f"{role} : {task}" if role else task


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _unverifiable(res: Mapping[str, Any], check: bool) -> list[str] | None:
    """Why a result could not be verified (the marker key, or a check-mode skip inside a loop), else None."""
    results = res.get("results")
    reasons: list[str] = []
    found = False
    for item in [res, *(results if isinstance(results, list) else [])]:
        if not isinstance(item, Mapping):
            continue
        if UNVERIFIABLE_KEY in item:
            found = True
            reasons.append(str(item[UNVERIFIABLE_KEY] or ""))
        elif check and item.get("skipped") and "check mode" in str(item.get("msg", "")):
            found = True
            reasons.append(str(item.get("msg")))
    return [r for r in reasons if r] if found else None


def _message(res: Mapping[str, Any]) -> str:
    # A command's own words first: its msg is only "non-zero return code" (grid-daemon says what did not start).
    if res.get("msg") == "non-zero return code" and (words := _command_words(res)):
        return words[:2000]
    for key in ("msg", "stderr", "reason"):
        value = res.get(key)
        if value:
            return str(value).strip()[:2000]
    results = res.get("results")
    if isinstance(results, list):
        for item in results:
            if isinstance(item, Mapping) and item.get("failed"):
                return _message(item)
    return "failed"
