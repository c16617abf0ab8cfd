"""A pool image on the clouds: a pool naming a recipe with an id for the target boots that id (each cloud's
program, under Pulumi's mocks); the other pools boot the default image as before; a recipe without an id for the
target is rendered as the build step the user runs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from mocked_graph import MockedGraph, render_specs, run_rendered

from support.paths import EXAMPLES

IDS = {"aws": "ami-0123456789abcdef0", "gcp": "projects/p/global/images/tools-1",
       "alicloud": "m-tools0123", "openstack": "tools-image"}
# (instance type, the input naming its image)
INSTANCES = {"aws": ("Instance", "ami"), "gcp": ("Instance", "bootDisk"), "alicloud": ("Instance", "imageId"),
             "openstack": ("Instance", "imageName")}


def with_image(data: dict[str, Any]) -> None:
    data["metadata"]["name"] += "-img"
    data["spec"]["images"] = [{"name": "tools", "packages": ["jq"], "clouds": IDS},
                              {"name": "other", "packages": ["jq"]}]
    data["spec"]["regions"][0]["pools"][0]["image"] = "tools"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return render_specs(tmp_path_factory, {t: (EXAMPLES / "targets" / f"lab-{t}.yaml", (with_image,)) for t in IDS})


def _image(resource: dict[str, Any], key: str) -> str:
    value = resource["inputs"].get(key)
    if isinstance(value, dict):  # gcp: bootDisk.initializeParams.image
        value = value.get("initializeParams", {}).get("image")
    return str(value)


@pytest.mark.parametrize("target", sorted(IDS))
def test_the_pool_boots_its_images_id_and_the_others_the_default(rendered: dict[str, Any], target: str) -> None:
    graph = run_rendered(rendered[target], MockedGraph)
    kind, key = INSTANCES[target]
    spec = yaml.safe_load((EXAMPLES / "targets" / f"lab-{target}.yaml").read_text())["spec"]
    region, pool = spec["regions"][0]["name"], spec["regions"][0]["pools"][0]["name"]
    nodes = {n["address"] for n in graph.nodes}
    images = {r["name"]: _image(r, key) for r in graph.of(kind) if r["name"] in nodes}
    ours = {a for a in images if a.startswith(f"{region}/{pool}/")}
    assert ours and len(images) > len(ours), images
    assert {a for a, image in images.items() if image == IDS[target]} == ours, images
    assert not (rendered[target] / "images").exists()  # `other` is no pool's image: no build step


def test_a_recipe_without_an_id_is_a_build_step(tmp_path_factory: pytest.TempPathFactory) -> None:
    def no_id(data: dict[str, Any]) -> None:
        with_image(data)
        data["metadata"]["name"] += "-b"
        data["spec"]["regions"][0]["pools"][0]["image"] = "other"

    tree = render_specs(tmp_path_factory, {"aws": (EXAMPLES / "targets" / "lab-aws.yaml", (no_id,))})["aws"]
    step = (tree / "images" / "other" / "build.sh").read_text()
    assert "apt-get install -y -qq --no-install-recommends jq" in step
