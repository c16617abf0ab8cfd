"""`grid agent run` as a test runs it: a subprocess in a session of its own whose JSON log lines (stderr, one
object per line) the test waits on."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .cli import grid_env
from .paths import GRID

STOP_SECONDS = 240.0  # a SIGTERM lets the step under way finish: a lab apply on a busy machine


class AgentProcess:
    def __init__(self, log: Path, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.log = log
        self._stderr = log.open("w")
        self.process = subprocess.Popen([GRID, "agent", "run", *args], env=grid_env(**(env or {})),
                                        stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def wait(self, test: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        """The first logged event `test` accepts; fails when the agent exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if test(event):
                    return event
            assert self.process.poll() is None, f"the agent exited: {self.log.read_text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"{what} not within {timeout:.0f}s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_SECONDS)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        """kill -9 (what a crash or an OOM kill does); also the clean-up of a failed test."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        if not self._stderr.closed:
            self._stderr.close()
