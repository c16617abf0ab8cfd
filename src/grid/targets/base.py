"""The one boundary between grid and a target: what it probes, which engine makes its stacks, which hosts it has.

A target is chosen once from the spec (grid.targets.target_for); nothing outside grid.targets asks
which target it is. What the low layers need to know (validation, expansion, rendering) are the
target's traits (grid.spec.targets), not its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from grid.engines import StackEngine
from grid.resources import ExistingNode, ResourceGraph
from grid.spec.model import Cluster
from grid.spec.targets import TargetTraits
from grid.state.model import State

if TYPE_CHECKING:
    from grid.drivers.pulumi import ProcessStackEngine
    from grid.plan import LiveResource
    from grid.render.images import ImageBuild

ImageBuilt = Callable[["ImageBuild", float], None]
"""Told of each pool image a target built, with the seconds it took."""


@dataclass(frozen=True)
class EngineSetup:
    """What a target needs to make the stack engine of one run."""

    cluster: Cluster
    workdir: Path
    passphrase_file: Path  # the Pulumi passphrase (grid.identity)
    read_state: Callable[[], State]  # the state as stored now: the host keys earlier runs pinned
    backend_url: str | None = None  # the Pulumi backend; None: a file backend in the work directory
    engine_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # e.g. PGPASSWORD
    trust_new_hosts: bool = False  # `up` may pin host keys it has not seen before (grid up --trust-new-hosts)
    warm_env: Mapping[str, str] | None = None  # start a Pulumi worker now, with this added to its environment


class Target(Protocol):
    @property
    def traits(self) -> TargetTraits: ...

    @property
    def name(self) -> str: ...

    def probe(self, cluster: Cluster, state: State, graph: ResourceGraph, *,
              lineage: str) -> dict[str, LiveResource] | None:
        """The target's cheap reality check, by resource address (grid.drift); None when it has none.
        `lineage`: this state's ("" before its first write)."""
        ...

    def stacks(self, setup: EngineSetup) -> StackEngine | None:
        """The engine that makes (or finds) the regions' infrastructure."""
        ...

    def fixed_hosts(self, cluster: Cluster) -> Mapping[str, ExistingNode]:
        """{node address: the machine standing for it} when the machines exist already (else empty):
        passed to grid.resources.expand. Raises ValueError for an inventory it cannot read."""
        ...

    def pool_images(self, cluster: Cluster, builds: Mapping[str, ImageBuild]) -> Mapping[str, str]:
        """{image name: what the target's nodes boot for it} of the spec's image recipes (`builds`: the local
        builds, by name): passed to grid.resources.expand. A name left out boots the default image."""
        ...

    def build_images(self, builds: Sequence[ImageBuild], report: ImageBuilt) -> None:
        """Make the images of `builds` (bases first) where the target builds them, before its nodes are made.
        Raises grid.drivers.images.ImageBuildError."""
        ...


@dataclass(frozen=True)
class TargetBase:
    """The defaults a target overrides: no probe, no fixed hosts, Pulumi stacks."""

    traits: TargetTraits

    @property
    def name(self) -> str:
        return self.traits.name

    def probe(self, cluster: Cluster, state: State, graph: ResourceGraph, *,
              lineage: str) -> dict[str, LiveResource] | None:
        del cluster, state, graph, lineage
        return None

    def stacks(self, setup: EngineSetup) -> StackEngine | None:
        return pulumi_stacks(setup)

    def fixed_hosts(self, cluster: Cluster) -> Mapping[str, ExistingNode]:
        del cluster
        return {}

    def pool_images(self, cluster: Cluster, builds: Mapping[str, ImageBuild]) -> Mapping[str, str]:
        # Clouds boot the id spec.images[].clouds gives; without one, the recipe is a build step the user
        # runs (grid.validate.images says so) and the pool boots the default image.
        from grid.render.images import cloud_image_ids

        del builds
        return cloud_image_ids(cluster) if self.traits.cloud else {}

    def build_images(self, builds: Sequence[ImageBuild], report: ImageBuilt) -> None:
        del builds, report


def pulumi_stacks(setup: EngineSetup) -> ProcessStackEngine:
    """The Pulumi engine running the target's stack program (grid.stacks.<target>) per region."""
    from grid.drivers.pulumi import ProcessStackEngine
    from grid.render.pulumi import project_name

    engine = ProcessStackEngine(project=project_name(setup.cluster.name), target=setup.cluster.spec.target,
                                workdir=setup.workdir, passphrase_file=setup.passphrase_file,
                                backend_url=setup.backend_url, engine_env=setup.engine_env)
    if setup.warm_env is not None:
        engine.warm(setup.warm_env)
    return engine
