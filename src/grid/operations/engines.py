"""The side-effecting engines an operation drives, injected: the real ones by default, fakes in tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grid.workspace import Workspace

if TYPE_CHECKING:  # the drivers load Pulumi's and Ansible's machinery: only runs that apply need them
    from pathlib import Path

    from grid.apply.drain import ControllerFor, SlurmConnect
    from grid.drivers.ansible import AnsibleRunner
    from grid.drivers.pulumi import StackEngine
    from grid.identity import Identity
    from grid.spec.model import Cluster
    from grid.state.model import State

StacksFactory = Callable[["Workspace", "Identity", bool, bool], "StackEngine | None"]
"""(workspace, identity, trust_new_hosts, warm) → the target's region stack engine (None: nothing to run)."""


def _target_stacks(ws: Workspace, identity: Identity, trust_new_hosts: bool, warm: bool) -> StackEngine | None:
    from grid.apply.run import default_stacks

    return default_stacks(ws, identity, trust_new_hosts=trust_new_hosts, warm=warm)


def _ansible(ws: Workspace) -> AnsibleRunner:
    from grid.apply.run import default_ansible

    return default_ansible(ws)


def _slurm(workdir: Path, state: State, cluster: Cluster) -> AbstractContextManager[ControllerFor]:
    from grid.apply.drain import pinned_controllers

    return pinned_controllers(workdir, state, cluster)


@dataclass(frozen=True)
class Engines:
    stacks: StacksFactory = _target_stacks
    ansible: Callable[[Workspace], AnsibleRunner] = _ansible
    slurm: SlurmConnect = _slurm  # the cluster's Slurm controller (grid.apply.drain)


@contextlib.contextmanager
def locked(ws: Workspace, command: str) -> Iterator[None]:
    """The state lock for a run that writes; a live holder makes this fail at once (LockHeld names it).

    A lock left by a process that no longer exists on this host is provably stale and is taken over, and so
    is a team (postgres) lock whose lease ran out.
    """
    with ws.store.lock(command, break_stale=True):
        yield
