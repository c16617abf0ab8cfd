"""The local target's node provider when the container's name is already taken (podman faked).

A `podman rm` killed half-way leaves a container podman can neither inspect nor start, whose name is still
taken; podman says so in other words than for a live container. Either way `create` takes the name over with
`--replace` (after checking a container it can inspect belongs to this state).
"""

from __future__ import annotations

from typing import Any

import pytest

from grid.drivers.podman import PodmanError
from grid.stacks import local_provider as provider

PROPS: dict[str, Any] = {
    "container": "grid-c-east-train-0001", "image": "localhost/grid-node:latest", "hostname": "east-train-0001",
    "networks": [], "volumes": [], "cluster": "c", "address": "east/train/node-0001",
    "authorized_key": "ssh-ed25519 AAAA grid-c", "owner": {"lineage": "ours"},
}


class NameTakenPodman:
    """A podman whose first `run` finds the name taken, with podman's `stderr` for it."""

    def __init__(self, stderr: str, inspected: dict[str, Any] | None) -> None:
        self.stderr, self.inspected = stderr, inspected
        self.replaced: list[bool] = []

    def container_run(self, name: str, image: str, **kwargs: Any) -> str:
        self.replaced.append(bool(kwargs.get("replace")))
        if not kwargs.get("replace"):
            raise PodmanError(["podman", "run", "--name", name, image], 125, self.stderr)
        return "new-id"

    def container_inspect(self, name: str) -> dict[str, Any] | None:
        return self.inspected

    def host_public_key(self, name: str) -> str:
        return "ssh-ed25519 HOSTKEY"


@pytest.mark.parametrize("stderr, inspected", [
    ('Error: the container name "grid-c-east-train-0001" is already in use by 0123. You have to remove that '
     "container to be able to reuse that name: that name is already in use", {"labels": {"grid.lineage": "ours"}}),
    ('Error: name "grid-c-east-train-0001" is in use: container already exists', None),  # half-removed
])
def test_a_taken_name_of_this_state_or_of_a_half_removed_container_is_taken_over(
        monkeypatch: pytest.MonkeyPatch, stderr: str, inspected: dict[str, Any] | None) -> None:
    fake = NameTakenPodman(stderr, inspected)
    monkeypatch.setattr(provider, "Podman", lambda: fake)
    monkeypatch.setattr(provider, "_bind", lambda podman, volume: volume)
    result = provider.NodeProvider().create(dict(PROPS))
    assert result.id == "new-id" and fake.replaced == [False, True]


def test_a_live_container_of_another_state_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = NameTakenPodman('Error: name "grid-c-east-train-0001" is in use: container already exists',
                           {"labels": {"grid.lineage": "theirs", "grid.state": "/elsewhere/.grid/c"}})
    monkeypatch.setattr(provider, "Podman", lambda: fake)
    with pytest.raises(RuntimeError, match="belongs to another grid state"):
        provider.NodeProvider().create(dict(PROPS))
    assert fake.replaced == [False]
