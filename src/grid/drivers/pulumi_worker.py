"""One region's stack operation in its own process.

Pulumi's Python runtime keeps per-program settings in process globals, so two inline
programs cannot run in one process at once; grid runs each region in a worker process
(which also uses both cores). Protocol: a JSON request on stdin, JSON lines on stdout:
{"event": "progress", ...} while working, then one {"event": "result"|"error", ...}.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from grid.startup import importing, keep_dataclass_code

keep_dataclass_code("pulumi-worker")
with importing():  # Pulumi's ~0.2 s of imports, with the cyclic GC paused (grid.startup)
    from grid.drivers.pulumi import TARGET_ENV, PulumiFailed
    from grid.drivers.pulumi_automation import AutomationEngine
    from grid.killpoints import kill_point
    from grid.plan.contract import Allowance


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def preload(target: str) -> None:
    """The target's stack program and its providers, loaded before the request comes (~0.15 s for the local
    target's): a worker started early does it while grid plans. Unknown here, it fails later, as it would."""
    if target.isidentifier():
        with contextlib.suppress(ImportError):
            importlib.import_module(f"grid.stacks.{target}")


def main() -> int:
    with importing():
        preload(os.environ.get(TARGET_ENV, ""))
    text = sys.stdin.read()
    if not text.strip():
        return 0  # a spare worker grid did not need (grid.drivers.pulumi.ProcessStackEngine.warm)
    request = json.loads(text)
    engine = AutomationEngine(
        project=request["project"], target=request["target"], workdir=Path(request["workdir"]),
        backend_url=request.get("backend_url"), passphrase_file=Path(request["passphrase_file"]),
    )
    region, data, op = request["region"], request["data"], request["op"]

    def progress(address: str, operation: str, status: str) -> None:
        kill_point("worker.progress")
        _emit({"event": "progress", "address": address, "op": operation, "status": status})

    def made(address: str, outputs: dict[str, Any]) -> None:
        _emit({"event": "made", "address": address, "outputs": outputs})

    kill_point("worker.started")
    try:
        if op == "up":
            allowed = request.get("allowed")
            result = engine.up(region, data, progress, refresh=bool(request.get("refresh", True)),
                               made=made if request.get("report_made") else None,
                               allowed=Allowance.from_dict(allowed) if isinstance(allowed, dict) else None)
            kill_point("worker.finished")
            _emit({"event": "result", "outputs": result.outputs, "changes": result.changes})
        elif op == "preview":
            preview = engine.preview(region, data, refresh=bool(request.get("refresh")))
            _emit({"event": "result", "changes": preview.changes, "steps": preview.steps})
        elif op == "destroy":
            engine.destroy(region, data, progress)
            _emit({"event": "result"})
        else:
            _emit({"event": "error", "message": f"unknown operation {op}"})
            return 2
    except PulumiFailed as exc:
        _emit({"event": "error", "message": exc.message})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
