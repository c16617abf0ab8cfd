# Rendered by grid from templates/ansible/action_plugins/grid_node_ready.py; grid rewrites it.
"""Wait, on the controller, until grid has made this host's node.

grid starts the Ansible run for new and changed nodes while their infrastructure is still being made
(Ansible's own start-up then costs nothing) and writes `<gate>/<inventory_hostname>` when it is done:
`ready` (the node exists and its host key is pinned) or why it is not. Never connects to the host.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

POLL_SECONDS = 0.05


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        gate = Path(str(self._task.args["gate"])) / str((task_vars or {})["inventory_hostname"])
        owner = int(self._task.args.get("owner", 0))
        deadline = time.monotonic() + float(self._task.args.get("timeout", 3600))
        while not gate.is_file():
            if owner and not _alive(owner):
                return {**result, "failed": True, "msg": f"grid (pid {owner}) ended before making the node"}
            if time.monotonic() > deadline:
                return {**result, "failed": True, "msg": "timed out waiting for grid to make the node"}
            time.sleep(POLL_SECONDS)
        state = gate.read_text().strip()
        if state != "ready":
            return {**result, "failed": True, "msg": f"grid did not make the node: {state}"}
        return {**result, "changed": False}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
