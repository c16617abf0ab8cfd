"""Image recipes (`spec.images`) and the pools that name them (`pools[].image`).

`image_files` reads the files recipes copy, from next to the spec (grid.validate.validate reports its findings;
the workspace hands the bytes to grid.render.images); `VALIDATORS` check names, bases and, on clouds, say which
pools boot an image id and which get the recipe as a build step the user runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from grid.diagnostics import Diagnostic, Diagnostics, error, warning
from grid.spec import LoadedSpec
from grid.spec.images import DEFAULT_IMAGE
from grid.spec.model import Cluster
from grid.spec.targets import traits_of
from grid.validate.base import Validator
from grid.validate.references import suggest

MAX_IMAGE_FILE_BYTES = 8 << 20
"""A file larger than this is refused: every plan reads and hashes it (images carry configuration, not data)."""


def image_files(loaded: LoadedSpec) -> tuple[dict[str, bytes], Diagnostics]:
    """{src as written: content} of every file the recipes copy, and a finding for each that is missing, not a
    regular file, too large or outside the spec's folder (positioned at its `src`)."""
    cluster = loaded.cluster
    if cluster is None or not cluster.spec.images:
        return {}, Diagnostics()
    base = Path(loaded.source.file).parent.resolve()
    contents: dict[str, bytes] = {}
    found: list[Diagnostic] = []
    for i, recipe in enumerate(cluster.spec.images):
        for j, file in enumerate(recipe.files):
            at = ("spec", "images", i, "files", j, "src")
            path = (base / file.src).resolve()
            if not path.is_relative_to(base):
                found.append(error(f"image '{recipe.name}': {file.src} is outside the spec's folder", at,
                                   code="images.file", detail=f"it resolves to {path}",
                                   hint="keep the files an image copies in the spec's folder or below it"))
            elif not path.is_file():
                found.append(error(f"image '{recipe.name}': no file {file.src} next to the spec", at,
                                   code="images.file", detail=f"looked for {path}",
                                   hint="give the path relative to the spec file's folder"))
            elif path.stat().st_size > MAX_IMAGE_FILE_BYTES:
                found.append(error(f"image '{recipe.name}': {file.src} is larger than "
                                   f"{MAX_IMAGE_FILE_BYTES >> 20} MiB", at, code="images.file",
                                   hint="install large content with a package, or put it on shared storage"))
            else:
                contents[file.src] = path.read_bytes()
    return contents, Diagnostics.of(d.at(loaded.source.locate(d.path)) for d in found)


def recipes(cluster: Cluster) -> Iterator[Diagnostic]:
    """Names unique and not grid-node; a base is grid-node or an image listed before (no cycles by
    construction); no destination written twice."""
    seen: dict[str, int] = {}
    for i, recipe in enumerate(cluster.spec.images):
        at = ("spec", "images", i)
        if recipe.name == DEFAULT_IMAGE:
            yield error(f"the image name '{DEFAULT_IMAGE}' is the default image's", (*at, "name"),
                        code="images.name", hint="give the recipe another name; pools without `image` boot "
                                                 f"{DEFAULT_IMAGE}, and a recipe may build on it with base: "
                                                 f"{DEFAULT_IMAGE}")
        elif recipe.name in seen:
            yield error(f"image '{recipe.name}' is defined twice (first at spec.images[{seen[recipe.name]}])",
                        (*at, "name"), code="images.duplicate", hint="rename or merge one of them")
        if recipe.base != DEFAULT_IMAGE and recipe.base not in seen:
            later = recipe.base in {r.name for r in cluster.spec.images}
            yield error(f"image '{recipe.name}' builds on '{recipe.base}', which is "
                        + ("listed after it" if later else "no image"), (*at, "base"), code="images.base",
                        hint="list the base image before the images built on it" if later else
                        suggest(recipe.base, [DEFAULT_IMAGE, *seen], what="images", where="spec.images"))
        seen.setdefault(recipe.name, i)
        dests: set[str] = set()
        for j, file in enumerate(recipe.files):
            if file.dest in dests:
                yield error(f"image '{recipe.name}' writes {file.dest} twice", (*at, "files", j, "dest"),
                            code="images.file", hint="copy each destination once")
            dests.add(file.dest)


def pool_images(cluster: Cluster) -> Iterator[Diagnostic]:
    """A pool's image is grid-node or a recipe; on a cloud, a recipe without that cloud's image id is a
    build step the user runs (a warning naming the pool and the cloud)."""
    names = {r.name: r for r in cluster.spec.images}
    traits = traits_of(cluster)
    for r, region in enumerate(cluster.spec.regions):
        for p, pool in enumerate(region.pools):
            if pool.image is None or pool.image == DEFAULT_IMAGE:
                continue
            at = ("spec", "regions", r, "pools", p, "image")
            recipe = names.get(pool.image)
            if recipe is None:
                yield error(f"pool '{pool.name}' names image '{pool.image}', which spec.images does not define",
                            at, code="images.unknown",
                            hint=suggest(pool.image, [DEFAULT_IMAGE, *names], what="images", where="spec.images"))
            elif not traits.creates_infrastructure:
                yield warning(f"pool '{pool.name}': the {traits.name} target's machines exist already, so image "
                              f"'{pool.image}' is not built or booted there", at, code="images.unused",
                              hint="install what the image adds with the configuration (roles, scripts)")
            elif traits.cloud and getattr(recipe.clouds, traits.name, None) is None:
                yield warning(f"pool '{pool.name}' in region '{region.name}': image '{pool.image}' has no "
                              f"{traits.name} image id, so grid cannot build it there", at,
                              code="images.cloud",
                              detail=f"grid renders the recipe as a build step, images/{pool.image}/build.sh in "
                                     "the rendered tree; until an id is given the pool boots the default image",
                              hint=f"run the build step on a {cluster.spec.defaults.image} machine, save it as an "
                                   f"image and set spec.images[].clouds.{traits.name} to its id")


VALIDATORS: list[Validator] = [recipes, pool_images]
