# Rendered by grid from templates/ansible/action_plugins/grid_files.py; grid rewrites it.
"""Several small files and their directories in one action, with no Python on the host.

What ansible.builtin.file (directories), template and copy (files, with `validate`) and a handler
(`then`: a command after a file changed) did in one task each, computed on the controller: one shell
command reads every path with its kind, mode and owner (and each file's content), one more makes the
directories and writes the files that differ (a temp file beside each, validated, renamed into place),
then runs each changed file's `then` command, best effort (sysctl -p in an unprivileged container
fails for net.*: the file is the desired state). On a new node a task costs every host a turn of the
controller's strategy, wanted or not (a skipped one too): five tasks and a handler become one.
Check and diff mode report what would change (grid drift's check mode names the files).

A link at a file's path is replaced by the file, never written through.
"""

from __future__ import annotations

import base64
import shlex
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        dirs = [_entry(item, "0755") for item in args.get("directories") or []]
        files = [_entry(item, "0644") for item in args.get("files") or []]
        paths = [entry["path"] for entry in [*dirs, *files]]
        read = self._low_level_execute_command(with_args(_READ, paths), sudoable=True)
        found = parse_report(str(read.get("stdout", "")))
        if read.get("rc") != 0 or set(found) != set(paths):
            return {**result, "failed": True, "msg": f"cannot read {', '.join(paths)}: "
                                                     f"{str(read.get('stderr', '')).strip()}"}
        stale_dirs = [d for d in dirs if found[d["path"]][:4] != ("dir", *_attrs(d))]
        stale_files = [f for f in files if found[f["path"]] != ("file", *_attrs(f), f["content"])]
        changed = [entry["path"] for entry in [*stale_dirs, *stale_files]]
        if self._task.diff:
            result["diff"] = [{"before": (found[f["path"]][4] or b"").decode(errors="replace"),
                               "after": f["content"].decode(errors="replace"),
                               "before_header": f["path"], "after_header": f["path"]} for f in stale_files]
        if changed and not self._task.check_mode:
            words = [word for d in stale_dirs for word in ("d", d["path"], f"{d['owner']}:{d['group']}", d["mode"],
                                                           "", "")]
            words += [word for f in stale_files for word in
                      ("f", f["path"], f"{f['owner']}:{f['group']}", f["mode"], f["validate"],
                       base64.b64encode(f["content"]).decode())]
            wrote = self._low_level_execute_command(with_args(_WRITE, words), sudoable=True)
            if wrote.get("rc") != 0:
                return {**result, "failed": True, "msg": f"cannot write {', '.join(changed)}: "
                                                         f"{str(wrote.get('stderr', '')).strip()}"}
            for entry in stale_files:
                if entry["then"]:  # best effort, as the handler it replaces (failed_when: false)
                    self._low_level_execute_command(" ".join(shlex.quote(w) for w in entry["then"]), sudoable=True)
        return {**result, "changed": bool(changed), "written": changed,
                "msg": f"written: {', '.join(changed)}" if changed else "as wanted"}


def with_args(script: str, words: list[str]) -> str:
    """`script` with `words` as its arguments ($1...), run by the shell Ansible starts (no second shell: each
    process counts on a node with a fraction of a CPU)."""
    return " ".join(["set --", *(shlex.quote(word) for word in words)]) + "; " + script


def _entry(item: dict[str, Any], mode: str) -> dict[str, Any]:
    content = item.get("content")
    return {"path": str(item["path"]), "mode": str(item.get("mode") or mode), "owner": str(item.get("owner", "root")),
            "group": str(item.get("group", "root")), "validate": _validate(str(item.get("validate") or "")),
            "then": [str(word) for word in item.get("then") or []],
            "content": None if content is None else str(content).encode()}


def _validate(command: str) -> str:
    """The validate command as sh words, the temp file (`"$temp"` in _WRITE) for its %s."""
    return " ".join('"$temp"' if word == "%s" else shlex.quote(word) for word in shlex.split(command))


def _attrs(entry: dict[str, Any]) -> tuple[str, str, str]:
    """(mode as stat prints it, owner, group)."""
    return (str(entry["mode"]).lstrip("0").rjust(3, "0"), entry["owner"], entry["group"])


def parse_report(stdout: str) -> dict[str, tuple[str, str, str, str, bytes | None]]:
    """The read command's output: {path: (kind, mode, owner, group, content or None)}."""
    found: dict[str, tuple[str, str, str, str, bytes | None]] = {}
    header: list[str] | None = None
    chunks: list[str] = []

    def close() -> None:
        if header is not None and len(header) == 7:  # else the path goes unreported: the task fails
            _, kind, mode, owner, group, read, path = header
            found[path] = (kind, mode, owner, group, base64.b64decode("".join(chunks)) if read == "read" else None)

    for line in stdout.replace("\r", "").splitlines():
        if line.startswith("@ "):
            close()
            header, chunks = line.split(" ", 6), []
        elif header is not None:
            chunks.append(line.strip())
    close()
    return found


# Arguments: paths. Per path a line "@ kind mode owner group read|- path" (kind: dir, file, link, other, missing),
# then a regular file's content in base64: a connection may give the command a terminal, turning \n into \r\n.
_READ = ('for p; do '
         '  if [ -L "$p" ]; then echo "@ link - - - - $p"; '
         '  elif [ -d "$p" ]; then echo "@ dir $(stat -c "%a %U %G" "$p") - $p"; '
         '  elif [ -f "$p" ]; then echo "@ file $(stat -c "%a %U %G" "$p") read $p"; base64 "$p"; '
         '  elif [ -e "$p" ]; then echo "@ other - - - - $p"; else echo "@ missing - - - - $p"; fi; '
         'done')
# Arguments: sextuples "d|f path owner:group mode validate content-in-base64". A directory: made (a link or
# a file in its place removed first), its owner and mode set. A file: written to a temp file beside it,
# validated (`validate` with %s for the temp file), renamed into place over whatever was there. `install`
# makes a file or directory with its owner and mode in one process; it removes whatever is at the temp
# file's name first and creates the file anew (O_EXCL), so a link there is never followed.
_WRITE = ('set -e; temp=; trap \'[ -z "$temp" ] || rm -f "$temp"\' EXIT; '
          'while [ $# -ge 6 ]; do '
          '  kind=$1; p=$2; owner=${3%%:*}; group=${3#*:}; mode=$4; check=$5; content=$6; shift 6; '
          '  if [ "$kind" = d ]; then '
          '    if [ -L "$p" ] || { [ -e "$p" ] && [ ! -d "$p" ]; }; then rm -f "$p"; fi; '
          '    install -d -m "$mode" -o "$owner" -g "$group" "$p"; continue; fi; '
          '  d=${p%/*}; [ "$d" != "$p" ] || d=.; [ -z "$d" ] || [ -d "$d" ] || mkdir -p "$d"; temp="$p.grid-$$"; '
          '  printf "%s" "$content" | base64 -d | install -m "$mode" -o "$owner" -g "$group" /dev/stdin "$temp"; '
          '  if [ -n "$check" ]; then '
          '    eval "$check" >&2 || '
          '      { echo "$p: validation failed: $check" >&2; exit 1; }; fi; '
          '  if [ -d "$p" ] && [ ! -L "$p" ]; then rm -rf "$p"; fi; '
          '  mv -fT "$temp" "$p"; temp=; '
          'done')
