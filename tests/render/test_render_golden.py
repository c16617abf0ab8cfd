"""The rendered Pulumi projects and Ansible playbook of a local and a cloud example, against golden files.

Rendering is pure: the same spec and key give byte-identical files, so the admin key is fixed here and
nothing of this machine (paths, the cluster's real key) reaches the files. `pytest --update-golden`
rewrites tests/golden/ after an intended change.
"""

from __future__ import annotations

import pytest

from grid.render import render_cluster
from grid.resources import expand
from grid.spec import load_spec
from support.golden import assert_golden, tree_text
from support.paths import EXAMPLES

ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdyaWQtZ29sZGVuLWtleS1ub3QtcmVhbC0wMDAwMDAwMDA grid-golden"
EXAMPLE_SPECS = {"local-lab": EXAMPLES / "local-lab" / "cluster.yaml", "lab-aws": EXAMPLES / "targets" / "lab-aws.yaml"}


def rendered(example: str) -> dict[str, str]:
    loaded = load_spec(str(EXAMPLE_SPECS[example]))
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    return render_cluster(loaded.cluster, expand(loaded.cluster), admin_public_key=ADMIN_KEY)


@pytest.mark.parametrize("example", sorted(EXAMPLE_SPECS))
def test_the_rendered_tree_is_the_golden_one(example: str, update_golden: bool) -> None:
    assert_golden(f"render-{example}.txt", tree_text(rendered(example)), update=update_golden)


def test_rendering_twice_gives_the_same_bytes() -> None:
    assert rendered("local-lab") == rendered("local-lab")
