"""grid.drivers.images without podman: the mirror found as images/node/build.sh finds it, and what a build runs
(a fake podman records the calls): nothing for an image that exists, bases first, the mirror as an argument."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grid.drivers.images import ImageBuildError, build_image, build_images, debian_mirror
from grid.render.images import ImageBuild


def test_the_mirror_of_a_deb822_source_carrying_the_suite(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian http://other.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_the_mirror_of_a_one_line_source_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://line.example/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://line.example/debian"


def test_no_source_falls_back_to_debians_own(tmp_path: Path) -> None:
    assert debian_mirror(tmp_path) == "http://deb.debian.org/debian"


class FakePodman:
    def __init__(self, images: set[str]) -> None:
        self.images = set(images)
        self.builds: list[list[str]] = []
        self.contexts: list[dict[str, bytes]] = []

    def image_exists(self, ref: str) -> bool:
        return ref in self.images

    def run(self, args: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        argv = list(args)
        context = Path(argv[-1])
        self.contexts.append({str(p.relative_to(context)): p.read_bytes() for p in context.rglob("*") if p.is_file()})
        self.builds.append(argv)
        self.images.add(argv[argv.index("-t") + 1])
        return subprocess.CompletedProcess(argv, 0, "", "")


BASE = ImageBuild("base2", "localhost/grid-pool-base2:aaaaaaaaaaaa", "localhost/grid-node:latest",
                  "FROM localhost/grid-node:latest\n", ())
TOOLS = ImageBuild("tools", "localhost/grid-pool-tools:bbbbbbbbbbbb", BASE.ref,
                   f"FROM {BASE.ref}\nCOPY files/000 /etc/x\n", (("files/000", b"x = 1\n"),))


def test_images_are_built_bases_first_with_their_files_and_the_mirror() -> None:
    podman = FakePodman({"localhost/grid-node:latest"})
    seen: list[str] = []
    built = build_images([BASE, TOOLS], podman=podman, report=lambda b, s: seen.append(b.name))  # type: ignore[arg-type]
    assert built == [BASE.ref, TOOLS.ref] and seen == ["base2", "tools"]
    argv = podman.builds[1]
    assert argv[:3] == ["build", "--network", "host"]
    assert any(a.startswith("GRID_DEBIAN_MIRROR=") for a in argv)
    assert podman.contexts[1] == {"Containerfile": TOOLS.containerfile.encode(), "files/000": b"x = 1\n"}


def test_an_image_that_exists_is_not_built_again() -> None:
    podman = FakePodman({"localhost/grid-node:latest", BASE.ref, TOOLS.ref})
    assert build_images([BASE, TOOLS], podman=podman) == []  # type: ignore[arg-type]
    assert podman.builds == []


def test_a_missing_base_is_an_error_that_says_how_to_get_it() -> None:
    with pytest.raises(ImageBuildError, match=r"scripts/setup\.sh"):
        build_image(BASE, podman=FakePodman(set()))  # type: ignore[arg-type]
