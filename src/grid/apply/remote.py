"""How grid reaches a running cluster's nodes over SSH: the cluster's key pair (grid.identity), the host keys
state pinned (written out as known_hosts), the spec's SSH user and port. One place, so every caller (Slurm's
controller, `grid status`, the health suites) refuses an unknown host key and says the same when the key is
missing."""

from __future__ import annotations

from pathlib import Path

from grid.drivers.ssh import PinnedRemote
from grid.errors import OperationFailed
from grid.spec.model import Cluster
from grid.state.model import State

DEFAULT_TIMEOUT = 10.0


def cluster_remote(workdir: Path, state: State, cluster: Cluster, *, timeout: float = DEFAULT_TIMEOUT
                   ) -> PinnedRemote:
    """A pinned SSH connection pool to the cluster's nodes; the caller closes it."""
    from grid.apply.configure import refresh_known_hosts
    from grid.identity import find_keypair

    keys = find_keypair(workdir)
    if keys is None:
        raise OperationFailed(f"no SSH key of cluster {cluster.name} in {workdir}",
                              hint="run grid from the work directory the cluster was made with (--workdir)")
    ssh = cluster.spec.defaults.ssh
    return PinnedRemote(user=ssh.user, private_key=keys.private_path, also=keys.also, port=ssh.port,
                        known_hosts=refresh_known_hosts(workdir, state), timeout=timeout)
