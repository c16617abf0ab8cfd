"""grid's Ansible roles and group names, apart from the renderer: `grid validate` checks the roles a spec names
and the groups its pool roles become without loading grid.render.ansible (its templating, Slurm and network
renderers), which only the commands that render or compute host digests need."""

from __future__ import annotations

import functools
from importlib import resources

from grid.render.own import OWN_CONFIG_ROLE

SLURM_ROLE = "slurm"
"""grid plays it on the hosts of a spec with `scheduler: {kind: slurm}`; a spec cannot name it."""
INTERNAL_ROLES = (OWN_CONFIG_ROLE, SLURM_ROLE)
"""grid's roles a spec does not name: always played last, not among the roles configuration.roles may name."""


def group_name(*parts: str) -> str:
    """An Ansible-safe group name: spec names may hold `-`, group names should not."""
    return "_".join(parts).replace("-", "_")


@functools.cache
def available_roles() -> tuple[str, ...]:
    """Names of the Ansible roles grid ships: what spec.configuration.roles may list."""
    roles = resources.files("grid.templates") / "ansible" / "roles"
    return tuple(sorted(p.name for p in roles.iterdir() if p.is_dir() and p.name not in INTERNAL_ROLES))
