"""`grid render` of a cloud spec before any `grid up` writes programs that run as they are: the cluster's
identity is made first (as `grid up` makes it), its private key stays in secrets/, a second render gives the
same bytes and `grid up` later acts with the same key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from stack_mocks import run_isolated

from grid.identity import resolve_identity
from grid.state.model import empty_state
from support.cli import grid
from support.paths import EXAMPLES

ADMIN = "198.19.255.0/24"
# The lab retargeted at each cloud whose example and stack program exist.
LABS = sorted(p.stem.removeprefix("lab-") for p in (EXAMPLES / "targets").glob("lab-*.yaml"))


def rendered_tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("cloud", LABS)
def test_a_cloud_program_rendered_before_the_first_up_runs_under_the_mocks(tmp_path: Path, cloud: str) -> None:
    spec = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLES / "targets" / f"lab-{cloud}.yaml", spec)
    workdir = tmp_path / "work"
    run = grid("render", str(spec), "-o", str(tmp_path / "out"), "--workdir", str(workdir))
    assert run.code == 0, run.output
    secrets = workdir / "secrets"
    private, public = secrets / "id_ed25519", (secrets / "id_ed25519.pub").read_text().strip()
    assert private.stat().st_mode & 0o777 == 0o600 and (secrets / "pulumi-passphrase").is_file()
    assert not [p for p in secrets.iterdir() if p.name.endswith(".tmp")]  # made under a temporary name, moved
    first = rendered_tree(tmp_path / "out")
    key_body = private.read_text().split("\n")[1]
    assert not [name for name, text in first.items() if key_body.encode() in text]  # never in rendered files
    projects = sorted(p for p in (tmp_path / "out" / "pulumi").iterdir())
    for project in projects:
        data = json.loads((project / "resources.json").read_text())
        assert data["authorized_key"] == public

    result = run_isolated(projects=[str(p) for p in projects], config={"grid:adminCidrs": ADMIN})
    assert set(result["outputs"]) == {p.name for p in projects}
    assert any(public in json.dumps(r["inputs"]) for r in result["resources"])  # a key pair or cloud-init

    again = grid("render", str(spec), "-o", str(tmp_path / "out"), "--workdir", str(workdir))
    assert again.code == 0 and "(0 changed)" in again.output, again.output
    assert rendered_tree(tmp_path / "out") == first
    # `grid up` resolves the identity the same way: the key rendered is the key it acts with.
    name = yaml.safe_load(spec.read_text())["metadata"]["name"]
    identity = resolve_identity(workdir, name, empty_state(name))
    assert identity.keypair.public_key == public


def test_a_local_render_makes_no_identity(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLES / "local-lab" / "cluster.yaml", spec)
    run = grid("render", str(spec), "-o", str(tmp_path / "out"), "--workdir", str(tmp_path / "work"))
    assert run.code == 0, run.output
    assert not (tmp_path / "work" / "secrets").exists()
