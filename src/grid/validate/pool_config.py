"""Validators of `pools[].configuration`: the same rules as the cluster's configuration, and what merging may
not make ambiguous (grid.spec.own.merged).

A pool's users and sysctls reach its nodes exactly as the cluster's do, so grid.validate.safety and
grid.validate.references judge them with the same code: each pool's own entries are checked as if they were
the cluster's, and the findings are moved to the pool's keys.
"""

from __future__ import annotations

from collections.abc import Iterator

from grid.diagnostics import Diagnostic, Path, error, path_text
from grid.spec.model import Cluster, Configuration
from grid.spec.own import merged
from grid.validate import references, safety
from grid.validate.base import Validator

CONFIG: Path = ("spec", "configuration")
_SAME_RULES = (safety.users_not_system_accounts, safety.sysctls_run_no_program, references.users_valid)


def pool_configuration_rules(cluster: Cluster) -> Iterator[Diagnostic]:
    """The cluster's rules for users and sysctls, applied to each pool's own."""
    config = cluster.spec.configuration
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            own = pool.configuration
            if own is None or not (own.users or own.sysctl):
                continue
            at: Path = ("spec", "regions", r, "pools", p, "configuration")
            as_cluster = cluster.model_copy(update={"spec": cluster.spec.model_copy(update={
                "configuration": Configuration(admin_user=config.admin_user, users=own.users, sysctl=own.sysctl)})})
            for check in _SAME_RULES:
                for diag in check(as_cluster):
                    if diag.path[:len(CONFIG)] != CONFIG or diag.path[len(CONFIG):][:1] == ("admin_user",):
                        continue  # the admin is the cluster's: judged there
                    yield Diagnostic(diag.severity, diag.summary, diag.detail, (*at, *diag.path[len(CONFIG):]),
                                     diag.hint, diag.code)


def role_vars_distinct(cluster: Cluster) -> Iterator[Diagnostic]:
    """A pool's roles get their variables as plain inventory vars of the pool: two roles giving one variable
    different values would leave one role with the other's."""
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            conf = merged(cluster.spec.configuration, pool.configuration)
            given: dict[str, tuple[str, object]] = {}
            for role in conf["roles"]:
                for name, value in conf["role_vars"].get(role, {}).items():
                    first = given.setdefault(name, (role, value))
                    if first[0] != role and first[1] != value:
                        yield error(f"role_vars: '{name}' of role '{role}' differs from the one of role "
                                    f"'{first[0]}'", _role_var_path(cluster, r, p, role),
                                    code="roles.vars-clash",
                                    detail=f"pool '{pool.name}' plays both; Ansible variables are one namespace "
                                           f"per host (see {path_text(('spec', 'regions', r, 'pools', p))})",
                                    hint="prefix each role's variables with the role's name")


def _role_var_path(cluster: Cluster, r: int, p: int, role: str) -> Path:
    pool = cluster.spec.regions[r].pools[p]
    if pool.configuration is not None and role in pool.configuration.role_vars:
        return ("spec", "regions", r, "pools", p, "configuration", "role_vars", role)
    return (*CONFIG, "role_vars", role)


VALIDATORS: list[Validator] = [pool_configuration_rules, role_vars_distinct]
