# Rendered by grid from templates/ansible/action_plugins/grid_accounts.py; grid rewrites it.
"""The spec's accounts made, and those grid made that the spec no longer has removed, with no Python on the host.

grid keeps the names of the accounts it manages (the admin and the spec's users) in a file on each
node (`path`, one name a line). An account listed there that is no longer wanted is removed with
`userdel --remove` (its home with its authorized_keys goes too) after its processes are ended; its
sudo rights go with the sudoers drop-ins, which grid rewrites from the spec. Accounts grid never
listed are never touched, nor `keep` (root, the account grid connects as), nor system accounts (UID
below the node's UID_MIN): those only lose their authorized_keys. Then the file lists `wanted`.

`accounts` ({name, shell}; no shell: `default_shell`): each is made if missing (`useradd --create-home`,
password `*`: no password login, but not locked, which sshd refuses even for keys without PAM) or given its
shell, and gets its home if that is missing: what ansible.builtin.user did in a task of its own, a loop item
each (a Python module run on the host per account, and a turn of the strategy per task).

One shell command reads the file, which listed accounts still exist and each wanted account's entry; one
more runs only when something must change. Check and diff mode report the accounts that would go or be
made (grid drift names an account grid manages that the spec no longer has, or a wrong shell).
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
        shells = {str(a["name"]): str(a.get("shell") or args.get("default_shell") or "/bin/bash")
                  for a in args.get("accounts") or []}
        read = self._low_level_execute_command(with_args(_READ, [path, *shells]), sudoable=True)
        if read.get("rc") != 0:
            return {**result, "failed": True, "msg": f"cannot read {path}: {read.get('stderr', '').strip()}"}
        listed, existing = parse_listing(str(read["stdout"]))
        entries = parse_entries(str(read["stdout"]))
        stale = stale_accounts(listed, existing, wanted, keep)
        # name, shell, and whether it is new: "new" (useradd), "shell" (usermod), "home" (only its home is missing)
        made = [(name, shell, how) for name, shell in shells.items()
                if (how := account_change(entries.get(name), shell))]
        before = "".join(f"{name}\n" for name in listed) if listed is not None else ""
        after = "".join(f"{name}\n" for name in wanted)
        changed = bool(stale) or listed != wanted or bool(made)
        if self._task.diff:
            result["diff"] = {"before": before, "after": after,
                              "before_header": f"{path} (accounts grid manages)", "after_header": path}
        if changed and not self._task.check_mode:
            words = [path, *stale, "--", *(w for entry in made for w in entry)]
            done = self._low_level_execute_command(with_args(_APPLY, words), sudoable=True, in_data=after.encode())
            if done.get("rc") != 0:
                return {**result, "failed": True,
                        "msg": f"cannot remove {', '.join(stale) or 'no account'} or write {path}: "
                               f"{done.get('stderr', '').strip()}"}
        said = [f"removed accounts: {', '.join(stale)}"] if stale else []
        said += [f"accounts made or changed: {', '.join(name for name, _, _ in made)}"] if made else []
        return {**result, "changed": changed, "removed": stale, "made": [name for name, _, _ in made],
                "msg": "; ".join(said) or "accounts as the spec says"}


def with_args(script: str, words: list[str]) -> str:
    """`script` with `words` as its arguments ($1...), run by the shell Ansible starts (no second shell: each
    process counts on a node with a fraction of a CPU)."""
    return " ".join(["set --", *(shlex.quote(word) for word in words)]) + "; " + script


def parse_entries(stdout: str) -> dict[str, tuple[str, bool]]:
    """{account: (its shell, whether its home exists)} for the wanted accounts that exist (`@ ` lines)."""
    out: dict[str, tuple[str, bool]] = {}
    for line in stdout.replace("\r", "").splitlines():
        if line.startswith("@ "):
            _, name, home, shell = [*line.split(" ", 3), "", "", ""][:4]
            out[name] = (shell, home == "home")
    return out


def account_change(entry: tuple[str, bool] | None, shell: str) -> str:
    """What an account needs: "new", "shell", "home", or "" (nothing)."""
    if entry is None:
        return "new"
    if entry[0] != shell:
        return "shell"
    return "" if entry[1] else "home"


def parse_listing(stdout: str) -> tuple[list[str] | None, set[str]]:
    """(the names the file lists, sorted, or None when there is no file; those of them that exist)."""
    lines = [line.strip() for line in stdout.replace("\r", "").splitlines()
             if line.strip() and not line.startswith("@ ")]  # the wanted accounts' entries: parse_entries
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


# $1 the list, then the wanted accounts. Per wanted account that exists: "@ name home|nohome shell"; then one
# line per listed name: "name present|absent" (or the missing marker). Names are grid's own (validated user
# names), so a line holds no space of its own.
_READ = ('list=$1; shift; for name; do e=$(getent passwd "$name") || continue; '
         '  h=$(printf "%s" "$e" | cut -d: -f6); [ -d "$h" ] && d=home || d=nohome; '
         '  echo "@ $name $d $(printf "%s" "$e" | cut -d: -f7)"; done; '
         'if [ ! -f "$list" ]; then echo "grid-accounts: no list"; exit 0; fi; '
         'while IFS= read -r name; do [ -n "$name" ] || continue; '
         'if id -u -- "$name" >/dev/null 2>&1; then echo "$name present"; else echo "$name absent"; fi; '
         'done < "$list"')
# $1 the list, then the accounts to remove, `--`, triples "name shell new|shell|home" of the accounts to make
# or change; the new list on stdin, renamed into place once all are gone.
_APPLY = ('set -e; list="$1"; shift; '
          'uid_min=$(awk \'$1 == "UID_MIN" {print $2}\' /etc/login.defs 2>/dev/null); uid_min=${uid_min:-1000}; '
          'while [ $# -gt 0 ] && [ "$1" != -- ]; do name=$1; shift; '
          '  uid=$(id -u -- "$name" 2>/dev/null) || continue; '
          '  if [ "$uid" -lt "$uid_min" ]; then '
          '    home=$(getent passwd "$name" | cut -d: -f6); rm -f "$home/.ssh/authorized_keys"; continue; '
          '  fi; '
          '  pkill -KILL -u "$name" 2>/dev/null || true; '
          # --force: processes of the account may still be ending; 12: its home was already gone.
          '  rc=0; userdel --force --remove "$name" || rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 12 ] || exit "$rc"; '
          'done; [ $# -gt 0 ] && shift; '
          'while [ $# -ge 3 ]; do name=$1; shell=$2; how=$3; shift 3; '
          '  case $how in new) useradd --create-home --shell "$shell" --password "*" "$name" ;; '
          '    shell) usermod --shell "$shell" "$name" ;; esac; '
          '  home=$(getent passwd "$name" | cut -d: -f6); '
          '  if [ ! -d "$home" ]; then mkdir -p "$home"; cp -rT /etc/skel "$home" 2>/dev/null || true; '
          '    chown -R "$name": "$home"; chmod 0750 "$home"; fi; '
          'done; '
          'd=${list%/*}; [ -z "$d" ] || [ -d "$d" ] || mkdir -p "$d"; temp="$list.grid-$$"; '
          'trap \'rm -f "$temp"\' EXIT; install -m 0644 /dev/stdin "$temp"; mv -f "$temp" "$list"; trap - EXIT')
