# Rendered by grid from templates/ansible/action_plugins/grid_authorized_keys.py; grid rewrites it.
"""Every authorized_keys grid writes on a host, in one action, with no Python on the host.

- Each account grid manages (`accounts`: the admin and the spec's users, already made) gets exactly
  the spec's keys: the whole file is grid's (a key replaced or added by hand is removed), plus the
  cluster key for the account grid connects as (or grid would lock itself out). ~/.ssh 0700 and the
  file 0600, owned by the account.
- root is not grid's account: its other keys (the image's, the cloud's) stay; grid's own line (the
  cluster key, comment ` grid-<cluster>`) is replaced, never added to: a rotated key leaves no old one.

What ansible.builtin.file (~/.ssh), template (authorized_keys) and lineinfile (root) did in three tasks
looping over the accounts, computed on the controller: one shell command reads every file with its owner
and mode, one more writes those that differ (a temp file beside each, renamed into place). Each task and
loop item costs the controller a worker and the node a module run: on a new node this is ≈ 0.3 s less,
wall and controller CPU alike (docs/lab-notes.md). Check and diff mode report what would change (grid
drift finds a key added by hand).

A link in a home is never written through: an account could point one at /etc/shadow. A link on the
path is replaced by a real directory or file (root's keys are still read through it: /root is root's).
"""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

HEADER = "# Managed by grid (cluster {cluster}): keys not in the spec are removed.\n"
DIR_MODE, FILE_MODE = "700", "600"


@dataclass(frozen=True)
class Found:
    """One account's ~/.ssh and authorized_keys as the node reported them (kind: dir, file, link, other, missing)."""

    name: str
    home: str | None  # None: no such account
    dir_kind: str
    dir_attrs: tuple[str, str]  # (mode, owner)
    file_kind: str
    file_attrs: tuple[str, str]
    content: bytes | None  # None: not read (no regular file, or behind an account's link)

    @property
    def path(self) -> str:
        return f"{self.home or '~' + self.name}/.ssh/authorized_keys"

    def in_shape(self, content: bytes) -> bool:
        """True when nothing must be written: the right content, kinds, modes and owner."""
        return (self.home is not None and self.content == content
                and (self.dir_kind, self.dir_attrs) == ("dir", (DIR_MODE, self.name))
                and (self.file_kind, self.file_attrs) == ("file", (FILE_MODE, self.name)))


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        cluster = str(args["cluster"])
        admin_key = str(args.get("admin_key") or "").strip()
        accounts: dict[str, bytes] = {}
        for account in args.get("accounts") or []:
            name = str(account["name"])
            accounts[name] = account_keys(cluster, [str(key) for key in account.get("authorized_keys") or []],
                                          admin_key if name == args.get("connect_user") else "")
        names = [*accounts, *(["root"] if admin_key and "root" not in accounts else [])]
        read = self._low_level_execute_command(with_args(_READ, names), sudoable=True)
        found = parse_report(str(read.get("stdout", "")))
        if read.get("rc") != 0 or set(found) != set(names):
            return {**result, "failed": True, "msg": f"cannot read authorized_keys: {read.get('stderr', '').strip()}"}
        wanted = {name: accounts.get(name) or with_grid_line(found[name].content or b"", admin_key, f"grid-{cluster}")
                  for name in names}
        stale = [name for name in names if not found[name].in_shape(wanted[name])]
        missing = [name for name in stale if found[name].home is None]
        if missing and not self._task.check_mode:
            return {**result, "failed": True, "msg": f"no such account on the node: {', '.join(missing)}"}
        if self._task.diff:
            result["diff"] = [{"before": (found[name].content or b"").decode(errors="replace"),
                               "after": wanted[name].decode(errors="replace"),
                               "before_header": found[name].path, "after_header": found[name].path} for name in stale]
        if stale and not self._task.check_mode:
            words = [word for name in stale
                     for word in (name, str(found[name].home), base64.b64encode(wanted[name]).decode())]
            wrote = self._low_level_execute_command(with_args(_WRITE, words), sudoable=True)
            if wrote.get("rc") != 0:
                return {**result, "failed": True, "msg": f"cannot write authorized_keys of {', '.join(stale)}: "
                                                         f"{wrote.get('stderr', '').strip()}"}
        return {**result, "changed": bool(stale), "written": stale,
                "msg": f"authorized_keys written: {', '.join(stale)}" if stale else "authorized_keys as wanted"}


def with_args(script: str, words: list[str]) -> str:
    """`script` with `words` as its arguments ($1...), run by the shell Ansible starts (no second shell: each
    process counts on a node with a fraction of a CPU)."""
    return " ".join(["set --", *(shlex.quote(word) for word in words)]) + "; " + script


def account_keys(cluster: str, keys: list[str], connect_key: str) -> bytes:
    """An account's whole file: the spec's keys, then `connect_key` (grid connects as it) unless already there."""
    extra = [connect_key] if connect_key and connect_key not in keys else []
    return (HEADER.format(cluster=cluster) + "".join(f"{key}\n" for key in [*keys, *extra])).encode()


def with_grid_line(original: bytes, line: str, comment: str) -> bytes:
    """root's file with grid's line (the one ending in ` <comment>`) replaced by `line`, or added at the end;
    root's other lines as they were. lineinfile's regexp=' <comment>$' result, duplicates of grid's line dropped."""
    lines = original.splitlines(True)
    ours = [i for i, text in enumerate(lines) if text.rstrip(b"\r\n").endswith(b" " + comment.encode())]
    for index in reversed(ours[1:]):
        del lines[index]
    new = line.encode() + b"\n"
    if ours:
        lines[ours[0]] = new
        return b"".join(lines)
    if lines and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    return b"".join([*lines, new])


def parse_report(stdout: str) -> dict[str, Found]:
    """The read command's output: per account a header line, then its file in base64 when it was read."""
    found: dict[str, Found] = {}
    header: list[str] | None = None
    chunks: list[str] = []

    def close() -> None:
        if header is not None and len(header) == 10:  # else the account goes unreported: the task fails
            _, name, dir_kind, dir_mode, dir_owner, file_kind, file_mode, file_owner, read, home = header
            found[name] = Found(name, None if home == "-" else home, dir_kind, (dir_mode, dir_owner), file_kind,
                                (file_mode, file_owner), base64.b64decode("".join(chunks)) if read == "read" else None)

    for line in stdout.replace("\r", "").splitlines():
        if line.startswith("@ "):
            close()
            header, chunks = line.split(" ", 9), []
        elif header is not None:
            chunks.append(line.strip())
    close()
    return found


# Arguments: account names. Per account a line "@ name dir-kind mode owner file-kind mode owner read|- home"
# ("-" for what is missing), then, when read, its authorized_keys in base64: a connection may give the command
# a terminal (mitogen does without stdin), which would turn \n into \r\n. An account's file is read only when
# neither it nor ~/.ssh is a link; root's also through one.
_READ = ('describe() { if [ -L "$1" ]; then echo "link - -"; '
         'elif [ -d "$1" ]; then echo "dir $(stat -c "%a %U" "$1")"; '
         'elif [ -f "$1" ]; then echo "file $(stat -c "%a %U" "$1")"; '
         'elif [ -e "$1" ]; then echo "other - -"; else echo "missing - -"; fi; }; '
         'for name; do '
         '  home=$(getent passwd "$name" | cut -d: -f6); '
         '  if [ -z "$home" ]; then echo "@ $name missing - - missing - - - -"; continue; fi; '
         '  keys="$home/.ssh/authorized_keys"; sent=-; '
         '  if [ -f "$keys" ] && { [ "$name" = root ] || { [ ! -L "$home/.ssh" ] && [ ! -L "$keys" ]; }; }; then '
         '    sent=read; fi; '
         '  echo "@ $name $(describe "$home/.ssh") $(describe "$keys") $sent $home"; '
         '  if [ "$sent" = read ]; then base64 "$keys"; fi; '
         'done')
# Arguments: triples "name home content-in-base64". Links and non-directories on the path are removed
# first (never followed); each file goes through a temp file renamed into place.
_WRITE = ('set -e; temp=; trap \'[ -z "$temp" ] || rm -f "$temp"\' EXIT; '
          'while [ $# -ge 3 ]; do '
          '  name=$1; dir="$2/.ssh"; keys="$2/.ssh/authorized_keys"; content=$3; shift 3; '
          '  if [ -L "$dir" ] || { [ -e "$dir" ] && [ ! -d "$dir" ]; }; then rm -f "$dir"; fi; '
          '  mkdir -p "$dir"; chown -h "$name" "$dir"; chmod 0700 "$dir"; '
          '  if [ -L "$keys" ]; then rm -f "$keys"; elif [ -d "$keys" ]; then rm -rf "$keys"; fi; '
          '  temp=$(mktemp "$keys.grid-XXXXXX"); printf "%s" "$content" | base64 -d > "$temp"; '
          '  chown "$name" "$temp"; chmod 0600 "$temp"; mv -f "$temp" "$keys"; temp=; '
          'done')
