"""Drift by digest for grid's roles beyond base, fabric and storage-client's checks: the network policy (firewall),
Slurm, the spec's own configuration (own-config), storage directories and what the spec last applied left.

Each digest stands for exactly what that role's tasks find in check mode, no more: the nftables file (not the
loaded ruleset: the task loading it is a command, skipped in check mode) and whether nft answers; Slurm's tools,
files, pending action, munge key and daemons, and on the primary controller the nodes Slurm holds out of service;
the limits file, the marker of each script run once; each directory (with the mode the spec gives). What cannot
be digested (the user's own roles) returns None: that host goes to check mode as before.

Nothing secret reaches the probe or its log: the munge key is compared by a digest keyed with a nonce made for
this run (sha256 of nonce + key), so the digest is worthless outside it; the log lists keys, never values.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from grid.render.ansible import AnsibleInputs, group_name
from grid.render.leftovers import Leftovers
from grid.render.slurm import CONF_VARS

NFT_FILE = "/etc/nftables.conf"  # roles/firewall/defaults: firewall_file
CONTROLLER_MARK = "@GRID-CONTROLLER@"
"""Stands for the address grid connects from (firewall_controller) in the expected nftables file: the probe puts
it in place of that address, which only the node sees (SSH_CONNECTION)."""
LIMITS_FILE = "/etc/security/limits.d/90-grid.conf"  # roles/own-config/defaults
MARKER_DIR = "/var/lib/grid/scripts"
SLURM_CONF_DIR = "/etc/slurm"  # roles/slurm/defaults
SLURM_TOOLS = ("/usr/local/sbin/grid-daemon", "/usr/local/sbin/grid-slurm-files")
MUNGE_KEY_FILE = "/etc/munge/munge.key"
SLURM_PENDING = "/var/lib/slurm/grid-pending-action"
NODES_LIST = "slurmnodes:list"


@dataclass(frozen=True)
class RoleContext:
    """What the roles' digests need beyond one host's vars."""

    groups: Mapping[str, list[str]]  # inventory pool group -> its hostnames (rules naming `pool:NAME`)
    hostvars: Mapping[str, Mapping[str, Any]]
    munge_digest: str = ""  # sha256(nonce + the cluster's munge key); "" when there is no key here
    nonce: str = ""


def role_context(inputs: AnsibleInputs, munge_key: bytes | None, nonce: str) -> RoleContext:
    groups = {group_name("pool", region, pool): hosts for region, pools in inputs.regions.items()
              for pool, hosts in pools.items()}
    digest = hashlib.sha256(nonce.encode() + munge_key).hexdigest() if munge_key else ""
    return RoleContext(groups, inputs.hosts, digest, nonce)


def role_digests(inputs: AnsibleInputs, leftovers: Leftovers, hostname: str, host_vars: Mapping[str, Any],
                 pool_vars: Mapping[str, Any], ctx: RoleContext) -> dict[str, str] | None:
    """The digests of what these roles leave on `hostname`, None when some of it cannot be digested."""
    own = own_config(inputs, hostname, pool_vars, leftovers)
    slurm = slurm_digests(inputs, hostname, host_vars, ctx) if inputs.slurm_vars else {}
    if own is None or slurm is None:
        return None
    return {**directories(host_vars), **own, **(firewall(inputs, hostname, ctx) if inputs.firewall else {}), **slurm}


def directories(host_vars: Mapping[str, Any]) -> dict[str, str]:
    """storage-client/directories.yml: each is a directory, with the spec's mode where it gives one."""
    out: dict[str, str] = {}
    for item in host_vars.get("grid_directories", []):
        mode = item.get("mode")
        if mode:
            out[f"dir:{item['path']}"] = f"dir {int(str(mode), 8):o}"
        else:
            out[f"isdir:{item['path']}"] = "dir"
    return out


def own_config(inputs: AnsibleInputs, hostname: str, pool_vars: Mapping[str, Any],
               leftovers: Leftovers) -> dict[str, str] | None:
    """own-config's limits file and scripts run once (their markers); the user's roles: None (check mode)."""
    if pool_vars.get("grid_own_roles"):
        return None  # any task at all: only check mode can say what they would change
    cluster = str(inputs.all_vars["grid_cluster"])
    limits = pool_vars.get("grid_limits") or []
    out: dict[str, str] = {}
    if limits:
        text = role_template("own-config", "limits.conf.j2", grid_cluster=cluster, grid_limits=limits)
        out[f"file:{LIMITS_FILE}"] = f"{_sha(text)} 644 root root"
    elif leftovers.limits:
        out[f"absent:{LIMITS_FILE}"] = "missing"  # remove_limits.yml
    once = [s for s in pool_vars.get("grid_scripts") or [] if s["when"] == "once"]
    if once:
        out[f"attrs:{MARKER_DIR}"] = "dir 755 root root"
    for script in once:  # `creates:` the marker: a script whose marker is missing would run (changed)
        out[f"exists:{MARKER_DIR}/{str(script['run']).replace('/', '_')}.{str(script['digest'])[7:]}"] = "present"
    return out


def firewall(inputs: AnsibleInputs, hostname: str, ctx: RoleContext) -> dict[str, str]:
    """firewall/main.yml: nft answers (else its assert fails) and the rules file, with its mode and owner."""
    host_vars = inputs.hosts[hostname]
    text = role_template("firewall", "nftables.conf.j2", grid_cluster=inputs.all_vars["grid_cluster"],
                         grid_firewall=inputs.all_vars["grid_firewall"], firewall_controller=CONTROLLER_MARK,
                         grid_fabrics=host_vars["grid_fabrics"], grid_region=host_vars["grid_region"],
                         groups=ctx.groups, hostvars=ctx.hostvars)
    return {"nftok:tables": "ok", f"nftfile:{NFT_FILE}": f"{_sha(text)} 644 root root"}


def slurm_digests(inputs: AnsibleInputs, hostname: str, host_vars: Mapping[str, Any],
                  ctx: RoleContext) -> dict[str, str] | None:
    """The slurm role's tools, munge key, files and pending action, and the daemons this host runs; None
    without the munge key here (check mode compares it)."""
    if not ctx.munge_digest:
        return None
    values = inputs.slurm_vars
    out = {f"file:{path}": f"{_sha(slurm_tool(path.rsplit('/', 1)[1]))} 755 root root" for path in SLURM_TOOLS}
    out[f"munge:{MUNGE_KEY_FILE}"] = f"{ctx.munge_digest} 400 munge munge"
    out["daemon:munged"] = "running"
    for name, var in sorted(CONF_VARS.items()):  # grid-slurm-files compares contents only; '' = no such file
        text = str(values.get(var) or "")
        out[f"content:{SLURM_CONF_DIR}/{name}"] = _sha(text) if text else "missing"
    out[f"pending:{SLURM_PENDING}"] = "none"
    controllers = values.get("grid_slurm_controllers") or [values.get("grid_slurm_controller")]
    if hostname in controllers:
        out["daemon:slurmctld"] = "running"
    pool = group_name("pool", str(host_vars["grid_region"]), str(host_vars["grid_pool"]))
    if pool in inputs.slurmd_groups:
        out["daemon:slurmd"] = "running"
    if hostname == values.get("grid_slurm_controller"):
        out[NODES_LIST] = _sha("")  # nodes.yml: no node out of service that grid did not take out
    return out


# -- the probe's part ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One key's part of the probe (grid.drift_digest.probe_script), which runs the few commands it needs once
    per host and prints every key's line with sh builtins: ~5 processes a host instead of ~65 (each ~1 ms of
    CPU, more at a node's 1/4 CPU). `@FD@` in `line` stands for the file name its `text` is hashed under."""

    line: str  # prints `KEY VALUE` from what the batched commands found (builtins only)
    stat: str = ""  # shell words added to the one `stat` (lstat, `%n|%F|%a|%U|%G`); may use $h after `hm NAME`
    sha: str = ""  # a command adding the files to hash to "$@" (regular files only: a FIFO would block)
    text: str = ""  # a builtin command setting T, the text to hash, and n, its lines (sent through a here-doc)
    stdin: str = ""  # the command whose output is hashed as `-` (binary: the munge key)
    accounts: tuple[str, ...] = ()  # whose passwd entries the step reads (P: one getent for all)
    addresses: bool = False  # reads the node's addresses (I: one `ip -o -4 addr show`)


FUNCTIONS = r"""
q() { if [ -d "$1" ] && st "$1/."; then printf 'dir:%s dir %s\n' "$1" "$sm";
  else printf 'dir:%s missing\n' "$1"; fi; }
x() { if [ -e "$1" ]; then printf 'exists:%s present\n' "$1"; else printf 'exists:%s missing\n' "$1"; fi; }
o() { if [ -e "$1" ] || [ -L "$1" ]; then printf 'absent:%s present\n' "$1";
  else printf 'absent:%s missing\n' "$1"; fi; }
t() { if nft list tables >/dev/null 2>&1; then printf 'nftok:%s ok\n' "$1"; else printf 'nftok:%s failed\n' "$1"; fi; }
wt() { T=; n=0; [ -f "$1" ] && [ ! -L "$1" ] || return 0; z=0
  while IFS= read -r l || [ -n "$l" ]; do
    if [ $z = 1 ]; then z=0; u="ip saddr $A tcp dport "; e=${l%%"$u"*}
      case $e in "$l"|*[!\ ]*) ;; *) l="${e}ip saddr @GRID-CONTROLLER@ tcp dport ${l#"$e$u"}" ;; esac
    else e=${l%%"# SSH: from grid's own address"*}; case $e in "$l"|*[!\ ]*) ;; *) z=1 ;; esac; fi
    if [ $n = 0 ]; then T=$l; else T="$T$nl$l"; fi; n=$((n + 1)); done < "$1"; }
w() { if [ -f "$1" ] && [ ! -L "$1" ] && st "$1" && hs "$2"; then
  printf 'nftfile:%s %s %s %s %s\n' "$1" "$r" "$sm" "$su" "$sg"; else printf 'nftfile:%s missing\n' "$1"; fi; }
k() { if [ -f "$1" ] && [ ! -L "$1" ] && st "$1" && hs -; then
  printf 'munge:%s %s %s %s %s\n' "$1" "$r" "$sm" "$su" "$sg"; else printf 'munge:%s missing\n' "$1"; fi; }
g() { v=; { while IFS= read -r l || [ -n "$l" ]; do v=$v$l; done < "$1"; } 2>/dev/null
  while :; do case $v in *[[:space:]]*) v=${v%%[[:space:]]*}${v#*[[:space:]]} ;; *) break ;; esac; done
  case "$v" in reconfigure|restart) ;; *) v=none ;; esac; printf 'pending:%s %s\n' "$1" "$v"; }
v() { if [ -x /usr/local/sbin/grid-daemon ]; then
  printf 'daemon:%s %s\n' "$1" "$(/usr/local/sbin/grid-daemon status "$1" 2>/dev/null)";
  else printf 'daemon:%s missing\n' "$1"; fi; }
"""
"""A: the address grid connects from as the node sees it (the script's first argument). st, hs: the base
probe's lookups in what the one `stat` and the one `sha256sum` found (grid.drift_digest). t, v and the Slurm
nodes' list run processes of their own (nft, grid-daemon, python3): on the few hosts with a policy or Slurm."""
CALLS = {"exists": "x", "absent": "o", "pending": "g", "nftok": "t", "daemon": "v"}


def step(kind: str, subject: str, nonce: str) -> Step | None:
    """The probe's part for one key of these roles, None for a kind that is not theirs."""
    import shlex

    path = shlex.quote(subject)
    if kind == "dir":  # the mode of what the path leads to (`x/.`: a link to a directory, followed)
        return Step(f"q {path}", stat=shlex.quote(f"{subject}/."))
    if kind == "nftfile":
        return Step(f"w {path} @FD@", stat=path, text=f"wt {path}")
    if kind == "munge":  # keyed by the nonce, binary: hashed from stdin
        return Step(f"k {path}", stat=path,
                    stdin=f"{{ printf '%s' {shlex.quote(nonce)}; [ -f {path} ] && [ ! -L {path} ] && cat {path}; }}")
    if f"{kind}:{subject}" == NODES_LIST:
        # files/grid-slurm-nodes list, as nodes.yml runs it (python3 on the node): its output, or `failed`.
        script = slurm_tool("grid-slurm-nodes")
        return Step(f"if n=$(python3 - list 2>/dev/null <<'GRID_SLURM_NODES'\n{script}\nGRID_SLURM_NODES\n); then "
                    f"printf '{NODES_LIST} %s\\n' \"$(printf '%s' \"$n\" | sha256sum | cut -d' ' -f1)\"; "
                    f"else printf '{NODES_LIST} failed\\n'; fi")
    if kind in CALLS:
        return Step(f"{CALLS[kind]} {path}")
    return None


# -- the roles' own files ------------------------------------------------------------------------------------

def _roles() -> Any:
    return resources.files("grid.templates") / "ansible" / "roles"


@functools.cache
def slurm_tool(name: str) -> str:
    """roles/slurm/files/NAME, as the role copies it."""
    return str((_roles() / "slurm" / "files" / name).read_text())


@functools.cache
def _template(role: str, name: str) -> jinja2.Template:
    # As Ansible's template module renders (trim_blocks, the trailing newline kept), with the two Ansible
    # filters the firewall's template uses.
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             autoescape=False)
    env.filters["flatten"] = _flatten
    env.filters["extract"] = _extract
    return env.from_string((_roles() / role / "templates" / name).read_text())


def role_template(role: str, name: str, **variables: Any) -> str:
    return _template(role, name).render(**variables)


def _flatten(items: Sequence[Any], levels: int | None = None, skip_nulls: bool = True) -> list[Any]:
    """Ansible's `flatten` filter."""
    out: list[Any] = []
    for item in items:
        if skip_nulls and item in (None, "None", "null"):
            continue
        if isinstance(item, (list, tuple)):
            if levels is None:
                out.extend(_flatten(item, skip_nulls=skip_nulls))
            elif levels >= 1:
                out.extend(_flatten(item, levels=levels - 1, skip_nulls=skip_nulls))
            else:
                out.append(item)
        else:
            out.append(item)
    return out


def _extract(item: Any, container: Any, morekeys: Any = None) -> Any:
    """Ansible's `extract` filter."""
    value = container[item]
    for key in ([] if morekeys is None else morekeys if isinstance(morekeys, list) else [morekeys]):
        value = value[key]
    return value


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
