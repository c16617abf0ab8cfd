# Rendered by grid from templates/ansible/action_plugins/grid_hosts_block.py; grid rewrites it.
"""Keep grid's marked block in a host's hosts file, with no Python on the host.

What ansible.builtin.blockinfile does for this one file (same markers, same result: a block
blockinfile wrote is found and kept), computed on the controller: one shell command reads the file
with its mode and owner, one writes it (a temp file beside it, renamed into place) only when it
differs. When nodes come or go, every other host runs only this task: a Python module there costs
the host about 0.2 s of CPU each time (AnsiballZ), this costs two shell commands. Check and diff
mode work as blockinfile's (grid drift reports a changed table).
"""

from __future__ import annotations

import base64
import shlex
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

MISSING = "grid-hosts-block: missing"


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        path = str(args["path"])
        marker = str(args.get("marker", "# {mark} ANSIBLE MANAGED BLOCK"))
        mode, owner, group = (str(args.get(key, default)) for key, default in
                              (("mode", "0644"), ("owner", "root"), ("group", "root")))
        read = self._low_level_execute_command(with_args(_READ, [path]), sudoable=True)
        if read.get("rc") != 0:
            return {**result, "failed": True, "msg": f"cannot read {path}: {read.get('stderr', '').strip()}"}
        head, _, body = str(read["stdout"]).partition("\n")
        exists = head.strip() != MISSING
        original = base64.b64decode(body) if exists else b""
        updated = with_block(original, marker.encode(), str(args.get("block", "")).encode())
        attrs_ok = exists and head.split() == [mode.lstrip("0").rjust(3, "0"), owner, group]
        changed = updated != original or not attrs_ok
        if self._task.diff:
            result["diff"] = {"before": original.decode(errors="replace"), "after": updated.decode(errors="replace"),
                              "before_header": f"{path} (content)", "after_header": f"{path} (content)"}
        if changed and not self._task.check_mode:
            script = _WRITE if updated != original or not exists else _ATTRS
            wrote = self._low_level_execute_command(with_args(script, [path, owner, group, mode]), sudoable=True,
                                                    in_data=updated)
            if wrote.get("rc") != 0:
                return {**result, "failed": True, "msg": f"cannot write {path}: {wrote.get('stderr', '').strip()}"}
        return {**result, "changed": changed}


# $1 path. First line: "mode owner group" (or the missing marker), then the content in base64: a
# connection may give the command a terminal (mitogen does without stdin), which would turn \n into \r\n.
_READ = (f'if [ -f "$1" ]; then stat -L -c "%a %U %G" "$1" && base64 "$1"; '
         f'else echo "{MISSING}"; fi')
# $1 path, $2 owner, $3 group, $4 mode; the content on stdin. The rename makes the change atomic; `install`
# writes the temp file with its owner and mode in one process, anew (a link at its name is removed, not followed).
_WRITE = ('set -e; real=$(readlink -f "$1"); d=${real%/*}; [ -z "$d" ] || [ -d "$d" ] || mkdir -p "$d"; '
          'temp="$real.grid-$$"; trap \'rm -f "$temp"\' EXIT; install -m "$4" -o "$2" -g "$3" /dev/stdin "$temp"; '
          'mv -f "$temp" "$real"; trap - EXIT')
_ATTRS = 'set -e; cat > /dev/null; chown "$2:$3" "$1"; chmod "$4" "$1"'


def with_args(script: str, words: list[str]) -> str:
    """`script` with `words` as its arguments ($1...), run by the shell Ansible starts (no second shell: each
    process counts on a node with a fraction of a CPU)."""
    return " ".join(["set --", *(shlex.quote(word) for word in words)]) + "; " + script


def with_block(original: bytes, marker: bytes, block: bytes) -> bytes:
    """`original` with the marked block replaced, or added at the end: blockinfile's insertafter=EOF."""
    begin, end = marker.replace(b"{mark}", b"BEGIN") + b"\n", marker.replace(b"{mark}", b"END") + b"\n"
    lines = original.splitlines(True)
    first = last = None
    for index, line in enumerate(lines):
        if line == begin:
            first = index
        if line == end:
            last = index
    if first is None or last is None:
        at = len(lines)
    else:
        low, high = min(first, last), max(first, last)
        del lines[low:high + 1]
        at = low
    if at > 0 and not lines[at - 1].endswith(b"\n"):
        lines[at - 1] += b"\n"
    if block:
        body = block if block.endswith(b"\n") else block + b"\n"
        lines[at:at] = [begin, *body.splitlines(True), end]
    return b"".join(lines)
