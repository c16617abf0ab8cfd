# Rendered by grid from templates/ansible/action_plugins/grid_mounts.py; grid rewrites it.
"""Every storage mount point of the node is a directory and, unless read-only, writable. One task.

What four tasks did (stat each mount point, assert it is a directory, a write probe, and in check mode
the probe said to be unverifiable), with one shell command on the host: each task costs every host a
turn of the strategy, a skipped one too. The write probe is a real write, not a prediction: it writes and
removes `.grid-probe-<hostname>` in one go and leaves nothing behind, so it reports no change. Check mode
must not write: each probe is reported as unverifiable instead (the `grid_unverifiable` key of a result
per mount, as a debug task's loop gave them).
"""

from __future__ import annotations

import shlex
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

UNVERIFIABLE_KEY = "grid_unverifiable"  # grid.drivers.ansible_results.UNVERIFIABLE_KEY


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        mounts = [(str(m["name"]), str(m["mount"])) for m in args.get("mounts") or []]
        probe = boolean(args.get("probe", True), strict=False)
        written = list(dict.fromkeys(str(m["mount"]) for m in args.get("write_to") or [])) if probe else []
        if not mounts:
            return {**result, "changed": False, "msg": "no mounts"}
        to_write = [] if self._task.check_mode else written
        words = [str(args["hostname"]), *(path for _, path in mounts), "--", *to_write]
        done = self._low_level_execute_command(with_args(_CHECK, words), sudoable=True)
        if done.get("rc") != 0 and not str(done.get("stdout", "")).strip():
            return {**result, "failed": True, "msg": f"cannot look at the mount points: "
                                                     f"{str(done.get('stderr', '')).strip()}"}
        dirs = {line.strip() for line in str(done.get("stdout", "")).replace("\r", "").splitlines()}
        missing = [f"{path} (storage {name}) is not a directory on this node" for name, path in mounts
                   if f"dir {path}" not in dirs]
        if missing:
            return {**result, "failed": True, "msg": "; ".join(missing)}
        if done.get("rc") != 0:
            return {**result, "failed": True, "msg": f"write probe failed: {str(done.get('stderr', '')).strip()}"}
        if self._task.check_mode and written:
            result["results"] = [{UNVERIFIABLE_KEY: f"write probe of {path} needs a real write"} for path in written]
        return {**result, "changed": False, "msg": f"{len(mounts)} mount point(s), {len(written)} written to"}


def with_args(script: str, words: list[str]) -> str:
    """`script` with `words` as its arguments ($1...), run by the shell Ansible starts (no second shell: each
    process counts on a node with a fraction of a CPU)."""
    return " ".join(["set --", *(shlex.quote(word) for word in words)]) + "; " + script


# $1 the hostname, then the mount points, `--`, the mount points to write to. Prints `dir PATH` for each
# mount point that is a directory (a link to one counts, as stat follows it); fails on a write that fails.
_CHECK = ('h=$1; shift; while [ $# -gt 0 ] && [ "$1" != -- ]; do '
          '  if [ -d "$1" ]; then echo "dir $1"; fi; shift; done; '
          '[ $# -gt 0 ] && shift; '
          'for m; do [ -d "$m" ] || exit 0; p="$m/.grid-probe-$h"; '
          '  echo "grid write probe" > "$p" && rm -f "$p" || { echo "cannot write to $m" >&2; exit 1; }; done')
