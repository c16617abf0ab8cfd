"""Building pool images for the local target: `podman build` of a rendered Containerfile (grid.render.images) on
top of the node image, tagged by recipe hash, so an unchanged recipe is never built again.

The Debian packages come from the mirror this machine's apt uses, as images/node/build.sh finds it; the mirror is
a build argument, not part of the recipe (another mirror serves the same packages). Builds use the host's network:
podman's default network is not the lab's, and the nodes' networks are made later.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from grid.drivers.podman import Podman, PodmanError
from grid.render.images import MIRROR_ARG, SUITE, ImageBuild

BUILD_TIMEOUT = 900.0
"""Seconds one image build may take (apt on 2 cores, large packages like slurm-wlm)."""
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class ImageBuildError(Exception):
    """A pool image could not be built: which one, and podman's last lines."""


def debian_mirror(apt: Path = APT_SOURCES, suite: str = SUITE) -> str:
    """The first mirror apt's sources (deb822 `.sources` first, then one-line `.list` files) give for `suite`:
    the same rule as images/node/build.sh. Falls back to deb.debian.org."""
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", _read(path)):
            fields = dict(_field(line) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
            if suite in fields.get("Suites", "").split() and fields.get("URIs", "").split():
                return fields["URIs"].split()[0]
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]:
        for line in _read(path).splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()  # drop [arch=... signed-by=...] options
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    return FALLBACK_MIRROR


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def image_exists(ref: str, podman: Podman | None = None) -> bool:
    return (podman or Podman()).image_exists(ref)


def build_image(build: ImageBuild, *, podman: Podman | None = None, mirror: str | None = None) -> str:
    """`build.ref`, built now unless podman has it already (the recipe hash is in the tag). Concurrent calls for
    one reference (regions applied at once) build it once."""
    podman = podman or Podman(timeout=BUILD_TIMEOUT)
    with _lock_for(build.ref):
        if podman.image_exists(build.ref):
            return build.ref
        if not podman.image_exists(build.base_ref):
            raise ImageBuildError(f"image '{build.name}' builds on {build.base_ref}, which podman does not have "
                                  "(scripts/setup.sh builds the node image)")
        with tempfile.TemporaryDirectory(prefix="grid-image-") as tmp:
            context = Path(tmp)
            (context / "Containerfile").write_text(build.containerfile)
            for name, content in build.files:
                (context / name).parent.mkdir(parents=True, exist_ok=True)
                (context / name).write_bytes(content)
            try:
                podman.run(["build", "--network", "host", "--pull=never", "--layers=false",
                            "--build-arg", f"{MIRROR_ARG}={mirror or debian_mirror()}",
                            "--label", f"grid.image.recipe={build.ref.rsplit(':', 1)[-1]}",
                            "-f", str(context / "Containerfile"), "-t", build.ref, str(context)],
                           timeout=BUILD_TIMEOUT)
            except PodmanError as exc:
                tail = "\n".join(exc.stderr.splitlines()[-15:])
                raise ImageBuildError(f"building image '{build.name}' ({build.ref}) failed:\n{tail}") from None
    return build.ref


def build_images(builds: Iterable[ImageBuild], *, podman: Podman | None = None,
                 report: Callable[[ImageBuild, float], None] | None = None) -> list[str]:
    """Build each image podman does not have yet, bases first (the order spec.images lists them); `report`
    hears of each one built, with its build time in seconds. Returns the references built."""
    podman = podman or Podman(timeout=BUILD_TIMEOUT)
    built: list[str] = []
    for build in builds:
        if podman.image_exists(build.ref):
            continue
        started = time.monotonic()
        build_image(build, podman=podman)
        built.append(build.ref)
        if report is not None:
            report(build, time.monotonic() - started)
    return built


def _lock_for(ref: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(ref, threading.Lock())
