# Rendered by grid from templates/ansible/action_plugins/grid_command.py; grid rewrites it.
"""ansible.builtin.command's `argv` form, as one shell command on the host: no Python runs there.

The command module is a Python module: each run ships and starts an AnsiballZ payload on the host (~0.6 s of
a 1/4-CPU lab node's time without mitogen, and mitogen's own bootstrap before that). The name service's tasks
are small shell scripts; run as a low-level command they cost one round trip. Same result keys as command's
(rc, stdout, stderr and their lines), the same failure on a non-zero exit ("non-zero return code"), and, as
command, skipped in check mode unless the task says `check_mode: false`. Under a tty (Ansible's SSH gives
one to become-able commands) stderr arrives in stdout and lines end in CR LF: the CRs are dropped.
"""

from __future__ import annotations

import shlex
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = False  # ActionBase skips the task in check mode, as command's own check does
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        argv = [str(word) for word in self._task.args.get("argv") or []]
        if not argv:
            return {**result, "failed": True, "msg": "grid_command needs argv"}
        done = self._low_level_execute_command(shlex.join(argv), sudoable=True)
        stdout = str(done.get("stdout", "")).replace("\r", "").rstrip("\n")
        stderr = str(done.get("stderr", "")).replace("\r", "").rstrip("\n")
        rc = int(done.get("rc", 1))
        out = {**result, "changed": True, "rc": rc, "cmd": argv, "stdout": stdout, "stderr": stderr,
               "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
        if rc != 0:
            out.update(failed=True, msg="non-zero return code")
        return out
