"""Pool images as values: the Containerfile, the recipe hash that tags it, the cloud build step, and what a
changed recipe does to the plan (its nodes replaced, "image recipe changed")."""

from __future__ import annotations

from typing import Any

from grid.image_refs import POOL_IMAGE_REPOSITORY
from grid.plan import make_plan
from grid.plan.model import Action
from grid.render.images import builds_for, cloud_build_script, containerfile, image_builds
from grid.resources import Kind, expand
from grid.spec.images import ImageRecipe
from support.paths import LOCAL_LAB
from support.specs import applied_state, cluster_from

RECIPE = {"name": "tools", "packages": ["jq", "curl"],
          "files": [{"src": "conf/tools.conf", "dest": "/etc/tools.conf", "mode": "0640"}]}
CONTENTS = {"conf/tools.conf": b"level = 1\n"}


def with_images(*recipes: dict[str, Any], pool_image: str | None = "tools") -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["images"] = list(recipes)
        if pool_image:
            data["spec"]["regions"][0]["pools"][0]["image"] = pool_image
    return cluster_from(LOCAL_LAB, edit)


def test_the_containerfile_builds_on_the_base_and_is_stable() -> None:
    recipe = ImageRecipe.model_validate(RECIPE)
    text = containerfile(recipe, "localhost/grid-node:latest")
    assert text == containerfile(ImageRecipe.model_validate({**RECIPE, "packages": ["curl", "jq", "jq"]}),
                                 "localhost/grid-node:latest")
    assert text.splitlines()[1] == "FROM localhost/grid-node:latest"
    assert "--no-install-recommends curl jq " in text
    assert "COPY --chmod=0640 files/000 /etc/tools.conf" in text
    assert "deb.debian.org" in text and "ARG GRID_DEBIAN_MIRROR" in text  # the mirror is an argument


def test_a_recipe_without_packages_runs_no_apt() -> None:
    assert "apt-get" not in containerfile(ImageRecipe(name="bare"), "localhost/grid-node:latest")


def test_the_reference_is_the_recipe_hash_and_changes_with_every_input() -> None:
    ref = image_builds(with_images(RECIPE), CONTENTS)["tools"].ref
    assert ref.startswith(POOL_IMAGE_REPOSITORY + "tools:") and len(ref.rsplit(":", 1)[1]) == 12
    assert image_builds(with_images(RECIPE), dict(CONTENTS))["tools"].ref == ref  # deterministic
    changed = [
        image_builds(with_images(RECIPE), {"conf/tools.conf": b"level = 2\n"}),
        image_builds(with_images({**RECIPE, "packages": ["jq"]}), CONTENTS),
        image_builds(with_images({**RECIPE, "files": [{**RECIPE["files"][0], "mode": "0644"}]}), CONTENTS),
    ]
    assert len({b["tools"].ref for b in changed} | {ref}) == 4


def test_the_base_is_the_local_image_setting_or_an_earlier_recipe() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["spec"]["targets"] = {"local": {"image": "localhost/grid-node:abc"}}
        data["spec"]["images"] = [{"name": "base2", "packages": ["jq"]}, {"name": "tools", "base": "base2"}]
    builds = image_builds(cluster_from(LOCAL_LAB, edit), {})
    assert builds["base2"].base_ref == "localhost/grid-node:abc"
    assert builds["tools"].base_ref == builds["base2"].ref
    assert [b.name for b in builds_for(builds, {builds["tools"].ref})] == ["base2", "tools"]
    assert builds_for(builds, {"debian-12"}) == []


def test_nodes_of_a_pool_with_an_image_carry_its_reference_and_others_keep_theirs() -> None:
    cluster = with_images(RECIPE)
    ref = image_builds(cluster, CONTENTS)["tools"].ref
    graph = expand(cluster, pool_images={"tools": ref})
    images = {r.attrs["pool"]: r.attrs["image"] for r in graph if r.kind is Kind.NODE}
    assert images == {"train": ref, "infer": "debian-12"}
    plain = expand(cluster_from(LOCAL_LAB))
    assert [r for r in plain if r.attrs.get("pool") == "infer"] == [
        r for r in graph if r.attrs.get("pool") == "infer"]


def test_a_changed_recipe_replaces_the_pools_nodes_and_says_why() -> None:
    cluster = with_images(RECIPE)
    before = expand(cluster, pool_images={"tools": image_builds(cluster, CONTENTS)["tools"].ref})
    after_ref = image_builds(cluster, {"conf/tools.conf": b"level = 2\n"})["tools"].ref
    plan = make_plan(expand(cluster, pool_images={"tools": after_ref}), applied_state(before), target="local",
                     spec_digest="sha256:x")
    replaced = [c for c in plan.changes if c.action is Action.REPLACE]
    assert {c.address for c in replaced} == {"east/train/node-0000", "east/train/node-0001"}
    assert {c.reason for c in replaced} == {"image recipe changed"}
    assert all(c.action is Action.NOOP for c in plan.changes if c not in replaced)


def test_the_cloud_build_step_installs_the_chain_of_recipes() -> None:
    cluster = with_images({"name": "base2", "packages": ["munge"]}, {**RECIPE, "base": "base2"})
    script = cloud_build_script(cluster, "tools")
    assert script.index("# base2") < script.index("# tools")
    assert "apt-get install -y -qq --no-install-recommends munge" in script
    assert "install -D -m 0640 conf/tools.conf /etc/tools.conf" in script
    assert script == cloud_build_script(cluster, "tools")


def test_a_cloud_without_an_id_gets_the_build_step_in_the_rendered_tree() -> None:
    from grid.render import render_cluster

    def edit(data: dict[str, Any]) -> None:
        data["spec"]["target"] = "aws"
        data["spec"]["images"] = [{"name": "tools", "packages": ["jq"]},
                                  {"name": "ready", "clouds": {"aws": "ami-0123456789abcdef0"}}]
        data["spec"]["regions"][0]["pools"][0]["image"] = "tools"
        data["spec"]["regions"][1]["pools"][0]["image"] = "ready"
    cluster = cluster_from(LOCAL_LAB, edit)
    files = render_cluster(cluster, expand(cluster), admin_public_key="ssh-ed25519 AAAA")
    assert [p for p in files if p.startswith("images/")] == ["images/tools/build.sh"]
    local = with_images(RECIPE)
    assert not [p for p in render_cluster(local, expand(local), admin_public_key="") if p.startswith("images/")]
