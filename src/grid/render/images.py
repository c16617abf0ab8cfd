"""What building a pool's image takes, as values: the Containerfile (local target, `podman build` from the base
image), its reference by recipe hash, and the build step a user runs for a cloud without an image id.

Pure: file contents come in as bytes (grid.validate.images reads them); the same recipe, files and base always
give the same text and the same reference, so an unchanged recipe is never built again.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from grid.image_refs import DEFAULT_NODE_IMAGE_REF, POOL_IMAGE_REPOSITORY
from grid.spec.images import DEFAULT_IMAGE, ImageRecipe
from grid.spec.model import Cluster
from grid.spec.targets import traits_of

MIRROR_ARG = "GRID_DEBIAN_MIRROR"
"""The build argument naming the Debian mirror: a transport, so not part of the recipe hash (as in build.sh)."""
SUITE = "bookworm"  # the suite images/node/build.sh bootstraps


@dataclass(frozen=True)
class ImageBuild:
    """One image to build: its reference, its base's, the Containerfile and the build context's files."""

    name: str
    ref: str
    base_ref: str
    containerfile: str
    files: tuple[tuple[str, bytes], ...]  # (name in the build context, content), in recipe order


def context_name(index: int) -> str:
    """A recipe file's name in the build context: by position, so the user's folder layout never leaks in."""
    return f"files/{index:03d}"


def containerfile(recipe: ImageRecipe, base_ref: str) -> str:
    lines = [f"# grid image '{recipe.name}' (spec.images): built by grid, tagged by recipe hash", f"FROM {base_ref}"]
    if recipe.packages:
        packages = " ".join(sorted(dict.fromkeys(recipe.packages)))
        # The node image keeps no package lists: fetch them from the mirror build.sh used, install, drop them again.
        lines += [
            f"ARG {MIRROR_ARG}=http://deb.debian.org/debian",
            f"RUN printf 'deb %s {SUITE} main\\n' \"${MIRROR_ARG}\" > /etc/apt/sources.list \\",
            "    && apt-get update -qq \\",
            f"    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages} \\",
            "    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb",
        ]
    lines += [f"COPY --chmod={file.mode} {context_name(i)} {file.dest}" for i, file in enumerate(recipe.files)]
    lines.append(f"LABEL grid.image.name={recipe.name}")
    return "\n".join(lines) + "\n"


def recipe_hash(text: str, contents: tuple[bytes, ...]) -> str:
    """12 hex digits over the Containerfile (base, packages, destinations, modes) and every file's content."""
    digest = hashlib.sha256(text.encode())
    for content in contents:
        digest.update(b"\0%d\0" % len(content))
        digest.update(content)
    return digest.hexdigest()[:12]


def image_builds(cluster: Cluster, contents: Mapping[str, bytes]) -> dict[str, ImageBuild]:
    """Every recipe of `cluster` as a build for the local target, by image name. `contents`: {src as written:
    bytes}; a file missing there counts as empty (validation has refused such a spec already). A base is
    grid-node (spec.targets.local.image, else the default node image) or an image listed earlier."""
    default_base = cluster.spec.targets.local.image or DEFAULT_NODE_IMAGE_REF
    builds: dict[str, ImageBuild] = {}
    for recipe in cluster.spec.images:
        base = builds[recipe.base].ref if recipe.base in builds else default_base
        if recipe.base != DEFAULT_IMAGE and recipe.base not in builds:
            continue  # an unknown or later base: grid.validate.images says so
        text = containerfile(recipe, base)
        files = tuple((context_name(i), contents.get(f.src, b"")) for i, f in enumerate(recipe.files))
        ref = f"{POOL_IMAGE_REPOSITORY}{recipe.name}:{recipe_hash(text, tuple(c for _, c in files))}"
        builds[recipe.name] = ImageBuild(recipe.name, ref, base, text, files)
    return builds


def cloud_build_script(cluster: Cluster, name: str) -> str:
    """The build step for a cloud that has no image id for `name`: a script to run as root on a machine booted
    from the default image (Debian), before snapshotting it; files are read from beside the script (their src
    paths). The recipe's bases come first."""
    recipes = {r.name: r for r in cluster.spec.images}
    chain: list[ImageRecipe] = []
    current = recipes.get(name)
    while current is not None and current not in chain:
        chain.insert(0, current)
        current = recipes.get(current.base)
    lines = ["#!/bin/sh", f"# grid image '{name}' (spec.images): run as root on a {cluster.spec.defaults.image} "
             "machine, then save it as an image and name it in spec.images[].clouds", "set -eu"]
    for recipe in chain:
        lines.append(f"# {recipe.name}")
        if recipe.packages:
            packages = " ".join(sorted(dict.fromkeys(recipe.packages)))
            lines += ["apt-get update -qq",
                      f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages}"]
        lines += [f"install -D -m {f.mode} {shlex.quote(f.src)} {shlex.quote(f.dest)}" for f in recipe.files]
    return "\n".join(lines) + "\n"


def builds_for(builds: Mapping[str, ImageBuild], refs: Collection[str]) -> list[ImageBuild]:
    """The builds that make the images `refs` name, with their bases, bases first (the order of spec.images)."""
    by_ref = {b.ref: b for b in builds.values()}
    wanted: set[str] = set()
    for ref in refs:
        while ref in by_ref and ref not in wanted:
            wanted.add(ref)
            ref = by_ref[ref].base_ref
    return [b for b in builds.values() if b.ref in wanted]


def cloud_build_steps(cluster: Cluster) -> dict[str, str]:
    """{images/<name>/build.sh: the build step} for each image a pool boots on a cloud that has no id for it
    (grid.validate.images warns of each); empty on the local target, which builds the images itself."""
    traits = traits_of(cluster)
    if not traits.cloud:
        return {}
    recipes = {r.name: r for r in cluster.spec.images}
    wanted = sorted({pool.image for region in cluster.spec.regions for pool in region.pools
                     if pool.image in recipes and getattr(recipes[pool.image].clouds, traits.name, None) is None})
    return {f"images/{name}/build.sh": cloud_build_script(cluster, name) for name in wanted}


def cloud_image_ids(cluster: Cluster) -> dict[str, str]:
    """{image name: the machine image the cluster's cloud target boots for it} (spec.images[].clouds)."""
    target = cluster.spec.target
    return {r.name: image for r in cluster.spec.images if (image := getattr(r.clouds, target, None))}
