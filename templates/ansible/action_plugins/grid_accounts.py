# Rendered by grid from templates/ansible/action_plugins/grid_accounts.py; grid rewrites it.
"""Remove the accounts grid made that the spec no longer has, with no Python on the host.

grid keeps the names of the accounts it manages (the admin and the spec's users) in a file on each
node (`path`, one name a line). An account listed there that is no longer wanted is removed with
`userdel --remove` (its home with its authorized_keys goes too) after its processes are ended; its
sudo rights go with the sudoers drop-ins, which grid rewrites from the spec. Accounts grid never
listed are never touched, nor `keep` (root, the account grid connects as), nor system accounts (UID
below the node's UID_MIN): those only lose their authorized_keys. Then the file lists `wanted`.

One shell command reads the file and which listed accounts still exist; one more runs only when
something must change. Check and diff mode report the accounts that would go (grid drift names an
account grid manages that the spec no longer has).
"""

from __future__ import annotations

import shlex
from typing import Any

from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

MISSING = "grid-accounts: no list"


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        path = str(args["path"])
        wanted = sorted({str(name) for name in args.get("wanted") or []})
        keep = {str(name) for name in args.get("keep") or []}
        read = self._low_level_execute_command(
            f"sh -c {shlex.quote(_READ)} grid-accounts {shlex.quote(path)}", sudoable=True)
        if read.get("rc") != 0:
            return {**result, "failed": True, "msg": f"cannot read {path}: {read.get('stderr', '').strip()}"}
        listed, existing = parse_listing(str(read["stdout"]))
        stale = stale_accounts(listed, existing, wanted, keep)
        before = "".join(f"{name}\n" for name in listed) if listed is not None else ""
        after = "".join(f"{name}\n" for name in wanted)
        changed = bool(stale) or listed != wanted
        if self._task.diff:
            result["diff"] = {"before": before, "after": after,
                              "before_header": f"{path} (accounts grid manages)", "after_header": path}
        if changed and not self._task.check_mode:
            command = f"sh -c {shlex.quote(_APPLY)} grid-accounts " + " ".join(
                shlex.quote(word) for word in (path, *stale))
            done = self._low_level_execute_command(command, sudoable=True, in_data=after.encode())
            if done.get("rc") != 0:
                return {**result, "failed": True,
                        "msg": f"cannot remove {', '.join(stale) or 'no account'} or write {path}: "
                               f"{done.get('stderr', '').strip()}"}
        return {**result, "changed": changed, "removed": stale,
                "msg": f"removed accounts: {', '.join(stale)}" if stale else "no account to remove"}


def parse_listing(stdout: str) -> tuple[list[str] | None, set[str]]:
    """(the names the file lists, sorted, or None when there is no file; those of them that exist)."""
    lines = [line.strip() for line in stdout.replace("\r", "").splitlines() if line.strip()]
    if lines and lines[0] == MISSING:
        return None, set()
    listed: set[str] = set()
    existing: set[str] = set()
    for line in lines:
        name, _, present = line.partition(" ")
        listed.add(name)
        if present == "present":
            existing.add(name)
    return sorted(listed), existing


def stale_accounts(listed: list[str] | None, existing: set[str], wanted: list[str], keep: set[str]) -> list[str]:
    """Accounts grid listed that still exist and that the spec no longer has, except `keep`."""
    return sorted(name for name in listed or [] if name in existing and name not in wanted and name not in keep)


# $1 the list. One line per listed name: "name present|absent" (or the missing marker). Names are
# grid's own (validated user names), so a line holds no space of its own.
_READ = ('if [ ! -f "$1" ]; then echo "grid-accounts: no list"; exit 0; fi; '
         'while IFS= read -r name; do [ -n "$name" ] || continue; '
         'if id -u -- "$name" >/dev/null 2>&1; then echo "$name present"; else echo "$name absent"; fi; '
         'done < "$1"')
# $1 the list, then the accounts to remove; the new list on stdin, renamed into place once all are gone.
_APPLY = ('set -e; list="$1"; shift; '
          'uid_min=$(awk \'$1 == "UID_MIN" {print $2}\' /etc/login.defs 2>/dev/null); uid_min=${uid_min:-1000}; '
          'for name; do '
          '  uid=$(id -u -- "$name" 2>/dev/null) || continue; '
          '  if [ "$uid" -lt "$uid_min" ]; then '
          '    home=$(getent passwd "$name" | cut -d: -f6); rm -f "$home/.ssh/authorized_keys"; continue; '
          '  fi; '
          '  pkill -KILL -u "$name" 2>/dev/null || true; '
          # --force: processes of the account may still be ending; 12: its home was already gone.
          '  rc=0; userdel --force --remove "$name" || rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 12 ] || exit "$rc"; '
          'done; '
          'mkdir -p "$(dirname "$list")"; temp=$(mktemp "$list.grid-XXXXXX"); trap \'rm -f "$temp"\' EXIT; '
          'cat > "$temp"; chmod 0644 "$temp"; mv -f "$temp" "$list"; trap - EXIT')
