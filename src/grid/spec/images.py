"""Node images per pool (`spec.images`, `pools[].image`): a recipe — a base image, Debian packages and files
from next to the spec — that grid builds for the local target and that clouds boot by id (docs/spec.md, Images).

Package names and destinations reach a Containerfile and a shell script, so they are restricted here by pattern.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from grid.spec.factories import empty_list
from grid.spec.own import RelativePath

DEFAULT_IMAGE = "grid-node"
"""The image every pool boots unless it names another: images/node/, as scripts/setup.sh builds it."""

ImageName = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")]


def _debian_package(value: str) -> str:
    # Debian Policy 5.6.7: lower case letters, digits, '+', '-', '.'; two characters at least; starts alphanumeric.
    if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", value):
        raise ValueError(f"'{value}' is not a Debian package name: lower case letters, digits and + - . only, at "
                         "least two characters, starting with a letter or digit (like slurm-wlm or munge)")
    return value


DebianPackage = Annotated[str, StringConstraints(max_length=100), AfterValidator(_debian_package)]


def _absolute_file(value: str) -> str:
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError("a destination has no '.' or '..' segment (it would point somewhere else)")
    return value


def _octal_mode(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the mode as a quoted octal string, like '0644' (YAML reads 0644 as the number 420)")
    return value


ImageDestination = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._@+-]+)+$", max_length=200),
                             AfterValidator(_absolute_file)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class ImageFile(_Model):
    src: RelativePath = Field(description="A file next to the spec (relative to the spec's folder)")
    dest: ImageDestination = Field(description="Where the file lands in the image (an absolute path)")
    mode: Annotated[str, BeforeValidator(_octal_mode), StringConstraints(pattern=r"^[0-7]{3,4}$")] = Field(
        "0644", description="Octal mode of the file in the image, quoted: '0644', '0755'")


class ImageClouds(_Model):
    """The machine image each cloud boots for this recipe; a cloud left out gets the recipe as a build step."""

    aws: Annotated[str, StringConstraints(pattern=r"^ami-[0-9a-f]{8,17}$")] | None = None
    gcp: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] | None = Field(
        None, description="A boot image: projects/P/global/images/NAME or .../images/family/F")
    alicloud: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")] | None = Field(
        None, description="An ECS image id")
    openstack: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = Field(
        None, description="A Glance image name")


class ImageRecipe(_Model):
    name: ImageName = Field(description="What pools[].image names; not grid-node (the default image)")
    base: ImageName = Field(
        DEFAULT_IMAGE, description="The image this one adds to: grid-node, or an image listed before this one")
    packages: list[DebianPackage] = Field(
        default_factory=empty_list, max_length=200,
        description="Debian packages (bookworm) installed on top of the base")
    files: list[ImageFile] = Field(
        default_factory=empty_list, max_length=100, description="Files copied into the image")
    clouds: ImageClouds = Field(
        default_factory=ImageClouds, description="A ready machine image per cloud target (else a build step)")
