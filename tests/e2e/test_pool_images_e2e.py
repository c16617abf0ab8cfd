"""A pool image on the real lab: a 2-node cluster whose pool names a recipe adding `jq` and a file; `grid up`
builds it (podman build on the node image), the nodes run it, a second `grid up` builds nothing, and a changed
recipe file is planned as the pool's nodes replaced ("image recipe changed"). The image is removed at the end."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cli import grid
from support.specs import small_lab

pytestmark = pytest.mark.e2e

NODES = ("east/train/node-0000", "east/train/node-0001")


def _image(data: dict[str, Any]) -> None:
    data["spec"]["images"] = [{"name": "tools", "packages": ["jq"],
                               "files": [{"src": "conf/tools.conf", "dest": "/etc/tools.conf", "mode": "0640"}]}]
    data["spec"]["regions"][0]["pools"][0]["image"] = "tools"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    spec, name = small_lab(tmp_path_factory.mktemp("pool-images"), edit=_image)
    conf = spec.parent / "conf" / "tools.conf"
    conf.parent.mkdir()
    conf.write_text(f"cluster = {name}\n")  # unique per run: this run builds its own image
    try:
        yield spec, name
    finally:
        grid("destroy", str(spec), "--yes")
        for ref in _refs():
            subprocess.run(["podman", "rmi", ref], capture_output=True, check=False)


def _refs() -> set[str]:
    # The images of this module's recipe: their file names the test's cluster, so no other run has them.
    out = subprocess.run(["podman", "images", "--filter", "reference=localhost/grid-pool-tools",
                          "--format", "{{.Repository}}:{{.Tag}} {{.Labels}}"], capture_output=True, text=True,
                         check=False).stdout
    return {line.split()[0] for line in out.splitlines() if "grid.image.name:tools" in line}


def _on(name: str, address: str, command: str) -> tuple[int, str]:
    container = f"grid-{name}-" + address.replace("/node-", "-").replace("/", "-")
    done = subprocess.run(["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          check=False, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_up_builds_the_image_and_the_pool_runs_it(cluster: tuple[Path, str]) -> None:
    spec, name = cluster
    up = grid("up", str(spec), "--yes")
    assert up.code == 0, up.output
    built = re.search(r"built (localhost/grid-pool-tools:[0-9a-f]{12}) in ([0-9.]+) s", up.output)
    assert built, up.output
    print(f"\npool image built in {built.group(2)} s")  # reported with -s: the layered build's cost
    for address in NODES:
        assert _on(name, address, "jq --version")[0] == 0
        assert _on(name, address, "stat -c '%a' /etc/tools.conf; cat /etc/tools.conf") == (
            0, f"640\ncluster = {name}\n")
    inspect = subprocess.run(["podman", "inspect", "--format", "{{.ImageName}}",
                              f"grid-{name}-east-train-0000"], capture_output=True, text=True, check=True)
    assert inspect.stdout.strip() == built.group(1)


def test_a_second_up_builds_nothing(cluster: tuple[Path, str]) -> None:
    spec, _ = cluster
    again = grid("up", str(spec), "--yes")
    assert again.code == 0, again.output
    assert "grid-pool-tools" not in again.output and " image" not in again.output, again.output


def test_a_changed_recipe_replaces_the_pools_nodes(cluster: tuple[Path, str]) -> None:
    spec, _ = cluster
    (spec.parent / "conf" / "tools.conf").write_text("changed = 1\n")
    plan = grid("plan", str(spec), "--json")
    assert plan.code == 0, plan.output
    changes = {c["address"]: c for c in json.loads(plan.stdout)["changes"] if c["action"] != "no-op"}
    assert set(changes) == set(NODES), changes
    assert {(c["action"], c["reason"]) for c in changes.values()} == {("replace", "image recipe changed")}
