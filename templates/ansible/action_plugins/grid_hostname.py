# Rendered by grid from templates/ansible/action_plugins/grid_hostname.py; grid rewrites it.
"""The running hostname is the inventory's: set where grid may (`manage`), else asserted. One task.

What three tasks did (slurp /proc/sys/kernel/hostname, ansible.builtin.hostname when it differs, an assert
where grid may not set it), with one shell command on the host: each task costs every host a turn of the
strategy, a skipped one too. Only a hostname that differs and may be set runs ansible.builtin.hostname (it
knows each system's way to keep it); check mode reports that as a change.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        wanted = str(self._task.args["name"])
        manage = boolean(self._task.args.get("manage", False), strict=False)
        read = self._low_level_execute_command("cat /proc/sys/kernel/hostname", sudoable=False)
        if read.get("rc") != 0:
            return {**result, "failed": True, "msg": f"cannot read the hostname: {read.get('stderr', '').strip()}"}
        running = str(read.get("stdout", "")).strip()
        if running == wanted:
            return {**result, "changed": False, "msg": f"hostname is {wanted}"}
        if not manage:
            return {**result, "failed": True, "msg": f"hostname is {running}, expected {wanted}"}
        done = self._execute_module(module_name="ansible.builtin.hostname", module_args={"name": wanted},
                                    task_vars=task_vars)
        return {**result, **done}
