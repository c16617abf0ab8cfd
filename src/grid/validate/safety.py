"""Validators: the spec never hands grid's powers to the system itself.

grid gives every account in `users` a login shell, the listed keys and (with `sudo`) passwordless sudo;
mounts shared storage over whatever path a storage names, on every node that uses it; and writes the
sysctls into /etc/sysctl.d as root. So a system account as a user, a system directory as a mount point,
or a sysctl that makes the kernel run a program is a way into, or out of, every node: refused here, each
at its own field. The lists live in this module only, so tests and documentation point at one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from grid.diagnostics import Diagnostic, Path, error
from grid.spec.model import Cluster
from grid.validate.base import Validator
from grid.validate.storage import mount_entries

CONFIGURATION: Path = ("spec", "configuration")

SYSTEM_ACCOUNTS = frozenset({
    # Debian's base-passwd (every Debian and Ubuntu node has these; gnats only before bookworm).
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody",
    # Created by the packages of the grid node image (images/node/packages.txt: apt, openssh-server).
    "_apt", "sshd",
    # Usual services of cluster nodes: D-Bus, systemd, time, NFS, HPC scheduling and authentication.
    "messagebus", "polkitd", "tss", "uuidd", "tcpdump", "ntp", "ntpsec", "statd", "avahi", "dnsmasq", "postfix",
    "munge", "slurm", "nvidia-persistenced", "rtkit", "usbmux", "syslog", "landscape", "pollinate",
    "lxd", "fwupd-refresh", "dhcpcd", "uml-net", "sssd", "nslcd", "nscd", "ganglia", "nagios", "prometheus",
})
"""Accounts that exist on nodes before grid arrives (tests/validate/test_safety.py compares them with the
built node image). grid would take one over: give it a shell, keys and perhaps sudo; for root, a login."""

SYSTEM_ACCOUNT_PREFIXES = ("_", "systemd-")
"""Debian names accounts created by packages `_name` (policy 9.2.1); systemd's own are `systemd-*`."""

SYSTEM_TREES: dict[str, str] = {
    "/etc": "the node's configuration: accounts, sudoers, SSH host keys",
    "/root": "root's home and its SSH keys",
    "/proc": "the kernel's view of processes",
    "/sys": "the kernel's devices and drivers",
    "/dev": "device files",
    "/boot": "the kernel and boot loader",
    "/efi": "the boot loader",
    "/usr": "installed programs and libraries",
    "/bin": "installed programs",
    "/sbin": "installed programs",
    "/lib": "installed libraries",
    "/lib32": "installed libraries",
    "/lib64": "installed libraries",
    "/libx32": "installed libraries",
    "/run": "runtime state: PID files, sockets, the SSH daemon's own directory",
    "/var/run": "runtime state: PID files, sockets, the SSH daemon's own directory",
    "/var/lock": "lock files",
    "/var/lib": "the state of packages and services (dpkg, apt, systemd)",
    "/var/log": "the node's logs",
    "/var/spool": "queues of cron, mail and printing",
    "/var/mail": "mailboxes",
    "/var/cache": "caches of packages and services",
    "/var/backups": "backups of accounts and package state",
    # Temporary trees look like scratch space but are refused: they are world-writable, so any local user can
    # plant a symlink where the mount point will be and have the storage mounted over a system path; and
    # programs keep per-node lock files and sockets there, which a shared mount would mix between nodes.
    "/tmp": "world-writable temporary files of this node",
    "/var/tmp": "world-writable temporary files of this node",
}
"""System directories: shared storage mounted at one of them, or inside one, replaces the node's own files
on every node that uses it (one /etc means one SSH host key for all nodes: host-key pinning defeated)."""

SYSTEM_PARENTS: dict[str, str] = {
    "/": "the whole file system",
    "/var": "the system trees /var/lib, /var/log, /var/spool and /var/cache",
}
"""Directories refused themselves (a mount would hide the system trees inside them), but not below:
/var/www or /var/opt are ordinary places for data. /home, /srv, /opt, /mnt, /scratch and /data are fine."""

MOUNT_HINT = "mount shared storage at a directory of its own, such as /shared, /scratch, /data, /srv/NAME or /home"

PROGRAM_SYSCTLS: dict[str, str] = {
    "kernel.modprobe": "the program the kernel runs, as root, to load a module",
    "kernel.hotplug": "the program the kernel runs, as root, on every device event",
    "kernel.poweroff_cmd": "the program the kernel runs, as root, to power the node off",
    "kernel.reboot-cmd": "the command the firmware runs to reboot the node",
}
"""Sysctls whose value is a program the kernel executes: any value is a way to run code as root."""

PROGRAM_SYSCTL_PREFIXES: dict[str, str] = {
    "kernel.usermodehelper.": "the capabilities of every program the kernel starts",
    "fs.binfmt_misc.": "the interpreters the kernel runs for matching files",
}

CORE_PATTERN = "kernel.core_pattern"
CORE_DUMP_TREES = tuple(sorted(set(SYSTEM_TREES) - {"/tmp", "/var/tmp", "/var/log", "/var/cache"}))
"""Where a core file must not be written: places the system reads as configuration or runs as programs
(a core dump in /etc/cron.d is a classic way to root). Temporary, log and cache trees stay allowed."""


def is_system_account(name: str) -> bool:
    return name in SYSTEM_ACCOUNTS or name.startswith(SYSTEM_ACCOUNT_PREFIXES)


def normalised(path: str) -> str | None:
    """`path` without repeated or trailing slashes and '.' segments; None when it is not absolute or has a
    '..' segment (what it names depends on symlinks on the node)."""
    if not path.startswith("/"):
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        return None
    return "/" + "/".join(parts)


def tree_of(path: str, trees: Iterable[str]) -> str | None:
    """The one of `trees` that `path` (normalised) is, or lies inside; None when none."""
    return next((tree for tree in trees if path == tree or path.startswith(tree + "/")), None)


def system_tree(path: str) -> str | None:
    """The system directory a mount at `path` (normalised) would cover or go into; None for a fine place."""
    return tree_of(path, SYSTEM_TREES) or (path if path in SYSTEM_PARENTS else None)


def users_not_system_accounts(cluster: Cluster) -> Iterator[Diagnostic]:
    config = cluster.spec.configuration
    admin = config.admin_user
    if admin != "root" and is_system_account(admin):  # root has its own finding in references.py
        yield error(f"admin_user '{admin}' is a system account of the nodes", (*CONFIGURATION, "admin_user"),
                    code="safety.system-account",
                    detail="grid gives the admin user a login shell, the cluster key and passwordless sudo; "
                           "on a system account that hands the service's identity to whoever holds the key",
                    hint="use a dedicated name such as 'gridadmin'")
    connect_as = cluster.spec.defaults.ssh.user
    for i, user in enumerate(config.users):
        path = (*CONFIGURATION, "users", i, "name")
        if is_system_account(user.name):
            yield error(f"user '{user.name}' is a system account of the nodes", path, code="safety.system-account",
                        detail="grid gives every user a login shell, its keys and, with sudo, passwordless sudo: "
                               f"that would open '{user.name}' to logins"
                               + (" as root" if user.name == "root" else ""),
                        hint="give each person an account of their own (e.g. 'alice'); 'sudo: true' grants "
                             "administration without sharing a system account")
        elif user.name == connect_as:
            yield error(f"user '{user.name}' is the account grid connects as (defaults.ssh.user)", path,
                        code="safety.connection-account",
                        detail="grid manages the keys of its users; managing its own login account could lock "
                               "grid out of the nodes",
                        hint="remove it from users or give the person another name")


def mounts_not_system_paths(cluster: Cluster) -> Iterator[Diagnostic]:
    """Every mount point grid creates on nodes: each mount of each storage (scratch directories too)."""
    for r, region in enumerate(cluster.spec.regions):
        for s, storage in enumerate(region.storage):
            for path, entry in mount_entries(r, s, storage):
                yield from _mount_not_system_path(storage.name, entry.path, path)


def _mount_not_system_path(name: str, given: str, path: Path) -> Iterator[Diagnostic]:
    mount = normalised(given)
    if mount is None:
        yield error(f"storage '{name}' mounts at {given}, which is not an absolute path without '..'", path,
                    code="safety.mount-path", hint=MOUNT_HINT)
        return
    tree = system_tree(mount)
    if tree is None:
        return
    holds = SYSTEM_TREES.get(tree) or SYSTEM_PARENTS[tree]
    where = "a system directory" if mount == tree else f"inside the system directory {tree}"
    yield error(f"storage '{name}' mounts at {mount}, {where}", path, code="safety.system-mount",
                detail=f"{tree} holds {holds}; the storage would replace it on every node that uses it",
                hint=MOUNT_HINT)


def _program_sysctl(key: str) -> str | None:
    if key in PROGRAM_SYSCTLS:
        return PROGRAM_SYSCTLS[key]
    return next((what for prefix, what in PROGRAM_SYSCTL_PREFIXES.items() if key.startswith(prefix)), None)


def sysctls_run_no_program(cluster: Cluster) -> Iterator[Diagnostic]:
    for key, value in cluster.spec.configuration.sysctl.items():
        path = (*CONFIGURATION, "sysctl", key)
        what = _program_sysctl(key)
        if what is not None:
            yield error(f"sysctl {key} makes the kernel run a program", path, code="safety.program-sysctl",
                        detail=f"it sets {what}; grid does not let a spec change that",
                        hint="remove it: the node's own default is the safe one (a role can change it if needed)")
            continue
        if key != CORE_PATTERN or not isinstance(value, str):
            continue
        pattern = value.lstrip()  # sysctl strips leading blanks: ' |prog' is a pipe too
        if pattern.startswith("|"):
            yield error(f"sysctl {key} pipes core dumps to a program", path, code="safety.program-sysctl",
                        detail="a value starting with '|' makes the kernel run that program as root for every "
                               "crash",
                        hint="give a file pattern such as /var/crash/core.%e.%p, or remove the key")
        elif pattern.startswith("/"):
            target = normalised(pattern)
            if target is None:
                yield error(f"sysctl {key} has a '..' segment", path, code="safety.core-dump-path",
                            detail="where the kernel writes core dumps would depend on symlinks on the node",
                            hint="give the directory plainly, such as /var/crash/core.%e.%p")
            elif (tree := tree_of(target.rsplit("/", 1)[0], CORE_DUMP_TREES)) is not None:
                yield error(f"sysctl {key} writes core dumps into {tree}", path, code="safety.core-dump-path",
                            detail=f"{tree} holds {SYSTEM_TREES[tree]}: the system reads files there as "
                                   "configuration or programs, and a crash could plant one",
                            hint="write core dumps to a directory of their own, such as /var/crash/core.%e.%p")

VALIDATORS: list[Validator] = [users_not_system_accounts, mounts_not_system_paths, sysctls_run_no_program]
