"""Drift by digest: what grid's playbook would leave on each host, as digests known from what grid renders.

`grid drift` used to run the whole playbook in check mode on every host. Now one probe per host (a small
POSIX sh script, one SSH round trip) prints the actual digests of what grid manages there; only hosts whose
digests differ from the expected ones (or that grid cannot fully describe by digests) get Ansible's check
mode, which explains the difference in the same words as before. A digest only ever selects hosts for check
mode, so a digest grid gets wrong costs time, never a wrong report.

Covered by digests (the roles base, fabric and storage-client): the sysctl drop-in, the node facts file,
the sudoers files and the hosts block (contents, modes, owners), the accounts (shell), their ~/.ssh and
authorized_keys (contents, modes, owners), root's grid key line, each fabric interface's MTU, the running
hostname and every mount point being a directory; and (grid.drift_digest_roles) the network policy, Slurm, the
spec's own limits and scripts, storage directories and the leftovers of the spec last applied. A host with work
no digest stands for (the user's own roles) goes to check mode as before. tests/drift/test_drift_digest.py
lists the roles' tasks each digest stands for, so a task added to those roles without a digest fails a test
instead of going unseen.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shlex
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid import drift_digest_roles as roles
from grid.drivers.ssh import KeyPair, PinnedRemote
from grid.identity import MUNGE_KEY
from grid.render import names
from grid.render.ansible import AnsibleInputs, collect_inputs, group_name
from grid.render.leftovers import Leftovers
from grid.resources import ResourceGraph
from grid.workspace import Workspace

DIGEST_ROLES = frozenset({"base", "fabric", "storage-client", "firewall", "own-config", "slurm"})
"""The roles whose every drift-finding task has a digest here."""
SYSCTL_FILE = "/etc/sysctl.d/90-grid.conf"
FACTS_FILE = "/etc/grid/node.json"
HOSTS_FILE = "/etc/hosts"
SUDOERS = ("/etc/sudoers.d/grid-admin", "/etc/sudoers.d/grid-users")
MANAGED_USERS = "/etc/grid/managed-users"
ATTRS = {"/etc/grid": "dir 755 root root", "/etc/sysctl.d": "dir 755 root root", HOSTS_FILE: "file 644 root root"}
"""Directories and files whose kind, mode and owner grid sets, apart from their contents."""
KEYS_HEADER = "# Managed by grid (cluster {cluster}): keys not in the spec are removed.\n"
WRITE_PROBE_TASK = "storage-client : Mount points are writable directories"
POOL_VARS = frozenset({"grid_own_roles", "grid_limits", "grid_scripts", "grid_sysctl", "grid_users"})
"""A pool's group_vars the digests know (grid.render.own.pool_vars); any other (a role's variables) may change
what grid's roles do there: such a pool's hosts go to check mode."""
PROBE_LOG = "drift-probe.json"
"""In the work directory: what the last digest probe found and which hosts went to check mode (a `--region`
run: drift-probe-REGIONS.json)."""
PROBES_AT_ONCE = 32
"""SSH probes in flight at once: each is one round trip, mostly waiting on the node."""


@dataclass(frozen=True)
class Expected:
    """One host's expected digests ({key: value}, as the probe prints them) and what check mode would list as
    unverifiable on a clean host (the storage write probes)."""

    hostname: str
    cluster: str
    connect: str  # the address grid connects to (ansible_host)
    digests: Mapping[str, str]
    unverifiable: tuple[str, ...] = ()
    nonce: str = ""  # keys the munge key's digest (grid.drift_digest_roles): worthless outside this run


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def expected_digests(inputs: AnsibleInputs, leftovers: Leftovers, munge_key: bytes | None = None,
                     nonce: str = "") -> dict[str, Expected | None]:
    """{hostname: its expected digests}, None for a host the digests do not fully cover (check mode for it).
    `munge_key`: the cluster's (a scheduler), compared through a digest keyed with `nonce` (made here if "")."""
    if not set(inputs.play_roles) <= DIGEST_ROLES:
        return dict.fromkeys(inputs.hosts)
    nonce = nonce or secrets.token_hex(16)
    ctx = roles.role_context(inputs, munge_key, nonce)
    out: dict[str, Expected | None] = {}
    for hostname, host_vars in inputs.hosts.items():
        pool_group = group_name("pool", str(host_vars["grid_region"]), str(host_vars["grid_pool"]))
        pool_vars = inputs.pool_vars.get(pool_group, {})
        more = None if set(pool_vars) - POOL_VARS else roles.role_digests(inputs, leftovers, hostname, host_vars,
                                                                          pool_vars, ctx)
        if more is None:
            out[hostname] = None
            continue
        host = _expected_host({**inputs.all_vars, **pool_vars}, hostname, host_vars)
        out[hostname] = Expected(host.hostname, host.cluster, host.connect, {**host.digests, **more},
                                 host.unverifiable, nonce)
    return out


def _expected_host(all_vars: Mapping[str, Any], hostname: str, host_vars: Mapping[str, Any]) -> Expected:
    cluster = str(all_vars["grid_cluster"])
    digests = {
        f"file:{SYSCTL_FILE}": _file(sysctl_text(cluster, all_vars["grid_sysctl"]), "644", "root", "root"),
        f"file:{FACTS_FILE}": _file(facts_text(hostname, host_vars), "644", "root", "root"),
        f"block:{HOSTS_FILE}": sha256(hosts_block_text(cluster, names.hosts_block_entries(
            all_vars, hostname, str(host_vars["ansible_host"])))),
        # configuration.names: dns (grid.render.names): resolv.conf; on a region's server its records, dnsmasq.
        **names.expected_digests(all_vars, hostname, str(host_vars["grid_region"])),
        # grid_accounts compares the list only: its mode and owner are not grid's to keep.
        f"content:{MANAGED_USERS}": sha256("".join(f"{n}\n" for n in sorted({str(a["name"]) for a in
                                                                           accounts_wanted(all_vars)}))),
        **{f"attrs:{path}": value for path, value in ATTRS.items()},
    }
    for path, text in sudoers_texts(cluster, all_vars).items():
        digests[f"file:{path}"] = _file(text, "440", "root", "root")
    admin_key = str(all_vars["grid_admin_pubkey"]).strip()
    connect_user = str(all_vars.get("ansible_user") or "")
    for account in accounts_wanted(all_vars):
        name = str(account["name"])
        keys = [str(k) for k in account["authorized_keys"]]
        digests[f"account:{name}"] = str(account["shell"])
        digests[f"sshdir:{name}"] = f"700 {name}"
        digests[f"keys:{name}"] = f"{sha256(account_keys(cluster, keys, admin_key if name == connect_user else ''))}" \
                                  f" 600 {name}"
    if admin_key and "root" not in {str(a["name"]) for a in accounts_wanted(all_vars)}:
        digests[f"rootkey:grid-{cluster}"] = sha256(admin_key + "\n")
    for fabric in host_vars["grid_fabrics"]:
        digests[f"mtu:{fabric['ip']}"] = str(fabric["mtu"])
    # base: the running hostname is the inventory's (set, or asserted where grid may not set it).
    digests[f"hostname:{hostname}"] = hostname
    # storage-client: every mount point (read-only ones too) is a directory.
    for mount in [*host_vars["grid_storage"], *host_vars.get("grid_mounts", [])]:
        digests[f"isdir:{mount['mount']}"] = "dir"
    mounts = [*host_vars["grid_storage"], *(m for m in host_vars.get("grid_mounts", []) if not m.get("read_only"))]
    unverifiable = tuple(dict.fromkeys(f"{WRITE_PROBE_TASK}: write probe of {m['mount']} needs a real write"
                                       for m in mounts))
    return Expected(hostname, cluster, str(host_vars["ansible_host"]), digests, unverifiable)


def _file(text: str, mode: str, owner: str, group: str) -> str:
    return f"{sha256(text)} {mode} {owner} {group}"


def sysctl_text(cluster: str, sysctl: Mapping[str, Any]) -> str:
    """templates/ansible/roles/base/templates/sysctl.conf.j2, rendered."""
    lines = [f"# Managed by grid (cluster {cluster}): local edits are drift and are reverted.\n"]
    return "".join([*lines, *(f"{key} = {_jinja(sysctl[key])}\n" for key in sorted(sysctl))])


def facts_text(hostname: str, host_vars: Mapping[str, Any]) -> str:
    """/etc/grid/node.json: base_node_facts (roles/base/vars/main.yml) through Ansible's to_nice_json."""
    facts = {"address": host_vars["grid_address"], "hostname": hostname, "region": host_vars["grid_region"],
             "pool": host_vars["grid_pool"], "index": host_vars["grid_index"],
             "accelerator": host_vars["grid_accelerator"], "accelerators": host_vars["grid_accelerators"],
             "fabrics": host_vars["grid_fabrics"], "storage": host_vars["grid_storage"]}
    return json.dumps(facts, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def hosts_block_text(cluster: str, grid_hosts: list[Mapping[str, Any]]) -> str:
    """grid's marked block of /etc/hosts (roles/base/templates/hosts_block.j2 between blockinfile's markers)."""
    block = "".join(f"{h['ip']}\t{h['hostname']}\n" for h in grid_hosts).strip()
    body = f"{block}\n" if block else ""
    return f"# BEGIN grid cluster {cluster}\n{body}# END grid cluster {cluster}\n"


def sudoers_texts(cluster: str, all_vars: Mapping[str, Any]) -> dict[str, str]:
    """roles/base/templates/sudoers.j2 for each of base_sudoers (roles/base/vars/main.yml)."""
    users = {SUDOERS[0]: [str(all_vars["grid_admin_user"])],
             SUDOERS[1]: sorted(str(u["name"]) for u in all_vars["grid_users"] if u["sudo"])}
    return {path: f"# Managed by grid (cluster {cluster}).\n" + "".join(f"{n} ALL=(ALL) NOPASSWD:ALL\n" for n in names)
            for path, names in users.items()}


def accounts_wanted(all_vars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """base_accounts_wanted: the admin (with the cluster key), then the spec's users (roles/base/vars)."""
    admin_key = str(all_vars["grid_admin_pubkey"]).strip()
    admin = {"name": all_vars["grid_admin_user"], "shell": "/bin/bash",
             "authorized_keys": [admin_key] if admin_key else []}
    return [admin, *({"shell": "/bin/bash", **u} for u in all_vars["grid_users"])]


def account_keys(cluster: str, keys: list[str], connect_key: str) -> str:
    """An account's whole authorized_keys (action_plugins/grid_authorized_keys.py's account_keys)."""
    extra = [connect_key] if connect_key and connect_key not in keys else []
    return KEYS_HEADER.format(cluster=cluster) + "".join(f"{key}\n" for key in [*keys, *extra])


def _jinja(value: Any) -> str:
    return str(value)  # what `{{ value }}` prints for the YAML scalars a sysctl value can be


# -- the probe -----------------------------------------------------------------------------------------------
# One sh script a host: one `getent` for the accounts, one `ip` for the addresses, one `stat` for every mode and
# owner, one `sha256sum` for every content (texts grid only owns part of — its hosts block, its root key line,
# the rules file with grid's address — cut out with builtins and hashed through here-docs); then each key's line
# with builtins. Before: a process or three per key (~65 a lab host, ~50 ms of CPU; at 1/4 CPU ~0.2 s).

_FUNCTIONS = r"""
st() { case $S in *"$nl$1|"*) ;; *) return 1 ;; esac; e=${S#*"$nl$1|"}; e=${e%%"$nl"*}
  sk=${e%%|*}; e=${e#*|}; sm=${e%%|*}; e=${e#*|}; su=${e%%|*}; sg=${e#*|}; }
hs() { case $H in *"  $1$nl"*) ;; *) return 1 ;; esac; r=${H%%"  $1$nl"*}; r=${r##*"$nl"}; }
hm() { h=; case $P in *"$nl$1:"*) e=${P#*"$nl$1:"}; e=${e%%"$nl"*}; e=${e#*:*:*:*:}; h=${e%%:*}; sh=${e#*:} ;;
  *) return 1 ;; esac; }
s() { if st "$1"; then case $sk in directory) sk=dir ;; "regular file"|"regular empty file") sk=file ;;
  "symbolic link") printf 'attrs:%s missing\n' "$1"; return 0 ;; *) sk=other ;; esac
  printf 'attrs:%s %s %s %s %s\n' "$1" "$sk" "$sm" "$su" "$sg"; else printf 'attrs:%s missing\n' "$1"; fi; }
c() { if [ -f "$1" ] && hs "$1"; then printf 'content:%s %s\n' "$1" "$r"; else printf 'content:%s missing\n' "$1"; fi; }
f() { if [ -f "$1" ] && [ ! -L "$1" ] && st "$1" && hs "$1"; then
  printf 'file:%s %s %s %s %s\n' "$1" "$r" "$sm" "$su" "$sg"; else printf 'file:%s missing\n' "$1"; fi; }
bt() { T=; n=0; [ -f "$1" ] || return 0; z=0
  while IFS= read -r l || [ -n "$l" ]; do
    if [ $z = 0 ] && [ "$l" = "# BEGIN grid cluster $2" ]; then z=1; fi
    if [ $z = 1 ]; then if [ $n = 0 ]; then T=$l; else T="$T$nl$l"; fi; n=$((n + 1))
      if [ "$l" = "# END grid cluster $2" ]; then z=0; fi; fi; done < "$1"; }
b() { if [ -f "$1" ] && hs "$2"; then printf 'block:%s %s\n' "$1" "$r"; else printf 'block:%s missing\n' "$1"; fi; }
a() { hm "$1" || { printf 'account:%s missing\n' "$1"; return 0; }; printf 'account:%s %s\n' "$1" "$sh"
  if [ -d "$h/.ssh" ] && [ ! -L "$h/.ssh" ] && st "$h/.ssh"; then printf 'sshdir:%s %s %s\n' "$1" "$sm" "$su";
  else printf 'sshdir:%s missing\n' "$1"; fi
  k="$h/.ssh/authorized_keys"
  if [ -f "$k" ] && [ ! -L "$k" ] && st "$k" && hs "$k"; then printf 'keys:%s %s %s %s\n' "$1" "$r" "$sm" "$su";
  else printf 'keys:%s missing\n' "$1"; fi; }
rt() { T=; n=0; hm root; [ -f "$h/.ssh/authorized_keys" ] || return 0
  while IFS= read -r l || [ -n "$l" ]; do case $l in *" $1")
    if [ $n = 0 ]; then T=$l; else T="$T$nl$l"; fi; n=$((n + 1)) ;; esac; done < "$h/.ssh/authorized_keys"; }
r() { hs "$2"; printf 'rootkey:%s %s\n' "$1" "$r"; }
n() { x=; read -r x < /proc/sys/kernel/hostname; printf 'hostname:%s %s\n' "$1" "$x"; }
p() { if [ -d "$1" ]; then printf 'isdir:%s dir\n' "$1"; else printf 'isdir:%s missing\n' "$1"; fi; }
m() { i=; while read -r _ y _ x _; do if [ "${x%%/*}" = "$1" ]; then i=${y%%@*}; break; fi; done <<GRID_I
$I
GRID_I
  x=; if [ -n "$i" ] && { read -r x < "/sys/class/net/$i/mtu"; } 2>/dev/null; then printf 'mtu:%s %s\n' "$1" "$x";
  else printf 'mtu:%s missing\n' "$1"; fi; }
y() { i=; { read -r i < "$1"; } 2>/dev/null; x=; [ -n "$i" ] && { read -r x < "/proc/$i/comm"; } 2>/dev/null
  [ -n "$x" ] && while read -r k v _; do [ "$k" = State: ] || continue; [ "$v" = Z ] && x=zombie; break
  done 2>/dev/null < "/proc/$i/status"; printf 'pid:%s %s\n' "$1" "${x:-none}"; }
"""
"""The lookups: st PATH sets sk sm su sg (kind, mode, owner, group: the one `stat`), hs NAME sets r (its
sha256), hm NAME sets h and sh (home, shell: the one `getent`). bt, rt: the texts of the hosts block and root's
grid key lines (as `sed -n '/BEGIN/,/END/p'` and `grep ' KEY$'` print them) for the one `sha256sum`."""


def _step(kind: str, subject: str, expected: Expected) -> roles.Step:
    path = shlex.quote(subject)
    if kind == "attrs":
        return roles.Step(f"s {path}", stat=path)
    if kind == "content":
        return roles.Step(f"c {path}", sha=f"[ -f {path} ] && set -- \"$@\" {path}")
    if kind == "file":
        return roles.Step(f"f {path}", stat=path, sha=f"[ -f {path} ] && set -- \"$@\" {path}")
    if kind == "block":
        return roles.Step(f"b {path} @FD@", text=f"bt {path} {shlex.quote(expected.cluster)}")
    if kind == "account":
        keys = '"$h/.ssh/authorized_keys"'
        return roles.Step(f"a {path}", stat=f'"$h/.ssh" {keys}', sha=f"[ -f {keys} ] && set -- \"$@\" {keys}",
                          accounts=(subject,))
    if kind == "rootkey":
        return roles.Step(f"r {path} @FD@", text=f"rt {path}", accounts=("root",))
    if kind == "mtu":
        return roles.Step(f"m {path}", addresses=True)
    if kind in _BUILTIN:
        return roles.Step(f"{_BUILTIN[kind]} {path}")
    found = roles.step(kind, subject, expected.nonce)
    if found is None:
        raise ValueError(f"no probe for digest {kind}:{subject!r}")
    return found


_BUILTIN = {"hostname": "n", "isdir": "p", "pid": "y"}
_IMPLIED = ("sshdir", "keys")  # printed by `a` with its account
_TEXT_FDS = range(3, 10)  # one here-doc per text: sh redirects only fds 0-9


def probe_script(expected: Expected) -> str:
    """The sh script that prints `KEY VALUE` for every key of `expected` (nothing secret: paths, names, the
    nonce). Its first argument: the address grid connects from, as the node sees it (the firewall's rules)."""
    steps = [_step(kind, subject, expected) for kind, _, subject in (key.partition(":") for key in expected.digests)
             if kind not in _IMPLIED]
    texts = [s for s in steps if s.text]
    stdin = [s.stdin for s in steps if s.stdin]
    if len(texts) > len(_TEXT_FDS) or len(stdin) > 1:
        raise ValueError(f"a probe for {len(texts)} texts and {len(stdin)} inputs")
    accounts = list(dict.fromkeys(a for s in steps for a in s.accounts))
    lines = ['A=${1:-}', "nl='\n'", "S=; H=; P=; I=", _FUNCTIONS.strip(), roles.FUNCTIONS.strip()]
    if accounts:
        lines.append(f"P=$nl$(getent passwd {' '.join(map(shlex.quote, accounts))} 2>/dev/null)$nl")
    if any(s.addresses for s in steps):
        lines.append("I=$(ip -o -4 addr show 2>/dev/null)")
    stats = [s for s in steps if s.stat]
    if stats:
        lines.append("set --")
        lines.extend(f"{_home(s)}set -- \"$@\" {s.stat}" for s in stats)
        lines.append("S=$nl$(stat -c '%n|%F|%a|%U|%G' -- \"$@\" 2>/dev/null)$nl")
    fds = []
    for fd, text in zip(_TEXT_FDS, texts, strict=False):
        lines.append(f"{text.text}; T{fd}=$T; F{fd}=/dev/fd/{fd}; [ $n -gt 0 ] || F{fd}=/dev/null")
        fds.append(fd)
    lines.append("set -- /dev/null")  # never no file: sha256sum would read the SSH session's stdin
    lines.extend(f"{_home(s)}{s.sha}" for s in steps if s.sha)
    pipe = f"{stdin[0]} | " if stdin else ""
    files = "".join(f' "$F{fd}"' for fd in fds) + (" -" if stdin else "")
    docs = "".join(f"\n$T{fd}\nGRID_T{fd}" for fd in fds)
    lines.append(f"H=$nl$({pipe}sha256sum -- \"$@\"{files} 2>/dev/null{''.join(f' {fd}<<GRID_T{fd}' for fd in fds)}"
                 f"{docs}\n)$nl")
    by_step = dict(zip(map(id, texts), fds, strict=False))
    lines.extend(s.line.replace("@FD@", f'"$F{by_step[id(s)]}"') if s.text else s.line for s in steps)
    return "\n".join(lines) + "\n"


def _home(step: roles.Step) -> str:
    """`hm NAME; ` before a step's words that name its account's home ($h)."""
    return "".join(f"hm {shlex.quote(a)}; " for a in step.accounts)


def parse_probe(output: str) -> dict[str, str]:
    """The probe's `KEY VALUE` lines as {key: value}; lines of any other form are ignored."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.strip().partition(" ")
        if ":" in key and value:
            found[key] = value.strip()
    return found


def differing(expected: Expected, actual: Mapping[str, str]) -> tuple[str, ...]:
    """The keys whose actual digest is not the expected one (absent from the probe's output counts)."""
    return tuple(key for key, value in expected.digests.items() if actual.get(key) != value)


def probe_hosts(expected: Mapping[str, Expected], remote: PinnedRemote, *, sudo: bool,
                timeout: float = 30.0) -> dict[str, tuple[str, ...] | None]:
    """{hostname: the keys that differ (empty: clean), None when the probe could not run (unreachable, failed)}:
    one SSH round trip per host, all hosts at once."""
    def one(host: Expected) -> tuple[str, tuple[str, ...] | None]:
        # SSH_CONNECTION is read by the login shell, before sudo (which drops it from the environment).
        command = f"sh -c {shlex.quote(probe_script(host))} probe \"${{SSH_CONNECTION%% *}}\""
        code, out, _ = remote.execute(host.connect, f"sudo -n {command}" if sudo else command, timeout=timeout)
        return host.hostname, (differing(host, parse_probe(out)) if code == 0 else None)

    hosts = list(expected.values())
    if not hosts:
        return {}
    with ThreadPoolExecutor(max_workers=min(PROBES_AT_ONCE, len(hosts))) as pool:
        return dict(pool.map(one, hosts))


def triage(ws: Workspace, graph: ResourceGraph, keys: KeyPair, known_hosts: Path, hostnames: list[str],
           leftovers: Leftovers) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """({hostname: what check mode would list as unverifiable} for the hosts whose digests all match, the hosts
    check mode must look at: digests differ, not covered, or the probe did not run). What it found is written
    to the work directory's drift-probe.json (which hosts, which keys: names and digests, nothing secret)."""
    inputs = collect_inputs(ws.cluster, graph, keys.public_key, None, ws.own)
    munge = ws.workdir / "secrets" / MUNGE_KEY
    expected = expected_digests(inputs, leftovers, munge.read_bytes() if inputs.slurm_vars and munge.is_file()
                                else None)
    covered = {h: e for h in hostnames if (e := expected.get(h)) is not None}
    user = str(inputs.all_vars["ansible_user"])
    remote = PinnedRemote(user=user, private_key=keys.private_path, known_hosts=known_hosts,
                          port=int(inputs.all_vars["ansible_port"]), also=keys.also)
    try:
        found = probe_hosts(covered, remote, sudo=inputs.become and user != "root")
    finally:
        remote.close()
    clean = {h: covered[h].unverifiable for h, keys_differ in found.items() if keys_differ == ()}
    checked = [h for h in hostnames if h not in clean]
    log = {"format": "grid-drift-probe/v1", "probed": sorted(covered), "clean": sorted(clean),
           "differ": {h: list(d) for h, d in sorted(found.items()) if d},
           "not_probed": sorted(h for h, d in found.items() if d is None),
           "not_covered": sorted(set(hostnames) - set(covered)), "checked": checked}
    # A `--region` run has a file of its own: runs of other regions at the same time keep theirs.
    name = PROBE_LOG if ws.regions is None else PROBE_LOG.replace(".json", f"-{'+'.join(ws.regions)}.json")
    (ws.workdir / name).write_text(json.dumps(log, indent=2) + "\n")
    return clean, checked
