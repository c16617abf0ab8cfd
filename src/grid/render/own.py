"""The user's own files a spec names: roles from `configuration.roles_path` and `scripts`, read once from next to
the spec (grid.validate.roles reads and checks them) and handed to render and the host digests as a value, so
both stay pure functions of what they are given."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from grid.spec.model import Cluster, Pool
from grid.spec.own import Limit, merged

RoleFiles = tuple[tuple[str, str], ...]
"""(path inside the role, text), sorted by path."""


@dataclass(frozen=True)
class OwnFiles:
    roles: Mapping[str, RoleFiles] = field(default_factory=dict)  # role name -> its files
    scripts: Mapping[str, str] = field(default_factory=dict)  # `run` path as written -> the script's text

    @functools.cached_property
    def role_digests(self) -> dict[str, str]:
        """{role: sha256 over its files' paths and texts}."""
        out: dict[str, str] = {}
        for name, files in sorted(self.roles.items()):
            digest = hashlib.sha256()
            for rel, text in files:
                digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
            out[name] = "sha256:" + digest.hexdigest()
        return out

    @functools.cached_property
    def script_digests(self) -> dict[str, str]:
        return {run: "sha256:" + hashlib.sha256(text.encode()).hexdigest()
                for run, text in sorted(self.scripts.items())}


NO_OWN_FILES = OwnFiles()
OWN_CONFIG_ROLE = "own-config"
"""grid's role that writes limits.d, plays the user's roles and runs their scripts (templates/ansible/roles)."""


def script_file(run: str) -> str:
    """Where a script lands in the rendered Ansible tree (its path under scripts/, as written in the spec)."""
    return f"scripts/{run}"


def pool_vars(cluster: Cluster, pool: Pool, own: OwnFiles, grid_roles: Collection[str]) -> dict[str, Any] | None:
    """inventory/group_vars/pool_<region>_<pool>.yml: the pool's merged configuration (grid.spec.own.merged) as
    far as it differs from all.yml, or None when the cluster and the pool configure nothing of their own (no
    file: clusters without these keys render as before). Role and script digests are in it, so a change to a
    file changes exactly the documents (and host digests) of the pools that use it."""
    config = cluster.spec.configuration
    theirs = [role for role in config.roles if role not in grid_roles]
    if pool.configuration is None and not (theirs or config.limits or config.scripts or config.role_vars):
        return None
    conf = merged(config, pool.configuration)
    missing = [role for role in conf["roles"] if role not in grid_roles and role not in own.roles]
    missing += [s.run for s in conf["scripts"] if s.run not in own.scripts]
    if missing:
        raise ValueError(f"unknown configuration role(s) or script(s) {', '.join(missing)}: not read from "
                         "next to the spec (grid.validate.roles.own_files)")
    played = [role for role in conf["roles"] if role not in grid_roles]
    out: dict[str, Any] = {
        "grid_own_roles": [{"name": role, "digest": own.role_digests[role]} for role in played],
        "grid_limits": limit_lines(conf["limits"]),
        "grid_scripts": [{"run": s.run, "when": s.when, "digest": own.script_digests[s.run]}
                         for s in conf["scripts"]],
    }
    for role in played:  # a role's variables as plain inventory vars (grid.validate.roles: no two roles clash)
        out.update(conf["role_vars"].get(role, {}))
    pool_conf = pool.configuration
    if pool_conf is not None and pool_conf.sysctl:
        out["grid_sysctl"] = {key: conf["sysctl"][key] for key in sorted(conf["sysctl"])}
    if pool_conf is not None and pool_conf.users:
        out["grid_users"] = [{"name": u.name, "sudo": u.sudo, "authorized_keys": list(u.authorized_keys)}
                             for u in sorted(conf["users"], key=lambda u: u.name)]
    return out


def limit_lines(limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{item, type (soft | hard), value}] sorted: a bare value sets both."""
    out: list[dict[str, Any]] = []
    for item in sorted(limits):
        value = limits[item]
        pairs = ([("soft", value.soft), ("hard", value.hard)] if isinstance(value, Limit)
                 else [("soft", value), ("hard", value)])
        out += [{"item": item, "type": kind, "value": v} for kind, v in pairs if v is not None]
    return out
