"""The plan is the contract, and the cluster's identity is not re-made: ordinary operator mistakes on a real lab.

One small lab (one region, two nodes) serves every case; each case ends with the lab as it found it, and
checks what a user would: the exit code and message, and that podman's containers are the very same ones
(same IDs: nothing replaced, no data lost).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.cli import brought_up, grid
from support.lab import workdir
from support.specs import small_lab

pytestmark = pytest.mark.e2e


def container_ids(name: str) -> dict[str, str]:
    out = subprocess.run(["podman", "ps", "--all", "--filter", f"label=grid.cluster={name}", "--format",
                          "{{.Names}} {{.ID}}"], capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    spec, name = small_lab(tmp_path_factory.mktemp("trust"))
    with brought_up(spec, "--skip-check"):
        yield spec, name


@pytest.fixture()
def unchanged(lab: tuple[Path, str]) -> Iterator[None]:
    """After the case: the same containers, and `grid plan` finds nothing to do."""
    spec, name = lab
    before = container_ids(name)
    assert len(before) == 2
    yield
    assert container_ids(name) == before, "a container was replaced or removed"
    plan = grid("plan", str(spec), "--detailed-exitcode")
    assert plan.code == 0, plan.output


def test_a_runner_without_the_ssh_key_is_refused_and_replaces_nothing(lab: tuple[Path, str], unchanged: None,
                                                                       tmp_path: Path) -> None:
    spec, name = lab
    secrets = workdir(spec, name) / "secrets"
    kept = tmp_path / "kept"
    kept.mkdir()
    for part in ("id_ed25519", "id_ed25519.pub"):
        shutil.move(secrets / part, kept / part)
    try:
        for command in (["up", str(spec), "--yes", "--refresh"], ["drift", str(spec)]):
            run = grid(*command)
            assert run.code == 1, run.output
            assert "cannot be found" in run.stderr and str(secrets / "id_ed25519") in run.stderr, run.stderr
            assert "GRID_SSH_KEY_FILE" in run.stderr
            assert not (secrets / "id_ed25519").exists(), "grid made a new key for an existing cluster"
        # Planning needs no private key: the plan is the cluster's (state records its public key).
        assert grid("plan", str(spec), "--detailed-exitcode").code == 0
        # The key named by the environment, as a CI runner gives it: everything works again, nothing replaced.
        run = grid("up", str(spec), "--yes", "--skip-check", env={"GRID_SSH_KEY_FILE": str(kept / "id_ed25519")})
        assert run.code == 0 and "No changes" in run.stdout, run.output
    finally:
        for part in ("id_ed25519", "id_ed25519.pub"):
            shutil.move(kept / part, secrets / part)


def test_a_key_that_is_not_the_clusters_is_refused(lab: tuple[Path, str], unchanged: None, tmp_path: Path) -> None:
    spec, name = lab
    secrets = workdir(spec, name) / "secrets"
    kept = tmp_path / "kept"
    shutil.copytree(secrets, kept)
    try:
        for part in ("id_ed25519", "id_ed25519.pub"):
            (secrets / part).unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(secrets / "id_ed25519")],
                       check=True)
        run = grid("up", str(spec), "--yes")
        assert run.code == 1 and "is not cluster" in run.stderr and "admin key" in run.stderr, run.output
    finally:
        shutil.rmtree(secrets)
        shutil.copytree(kept, secrets)


def test_a_second_copy_of_the_spec_cannot_take_the_cluster_over(lab: tuple[Path, str], unchanged: None,
                                                               tmp_path: Path) -> None:
    spec, name = lab
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "cluster.yaml"
    shutil.copy(spec, copy)
    owner = str(workdir(spec, name))
    run = grid("up", str(copy), "--yes")
    assert run.code == 1, run.output
    assert "belongs to another grid state" in run.output and owner in run.output, run.output
    assert "nothing was changed" in run.output
    # A plan saved there without looking at the target, then applied: grid's provider refuses at the object.
    saved = grid("plan", str(copy), "--out", str(elsewhere / "plan.json"))
    assert saved.code == 0, saved.output
    applied = grid("apply", str(elsewhere / "plan.json"), "--yes")
    assert applied.code == 1, applied.output
    assert "belongs to another grid state" in applied.output, applied.output
    # The owner's view is unchanged, and its nodes still answer with the host keys it pinned.
    check = grid("check", str(spec))
    assert check.code == 0, check.output


def test_the_engine_stops_before_replacing_what_the_plan_keeps(lab: tuple[Path, str], unchanged: None) -> None:
    """State and engine disagree (a node's hostname in Pulumi's checkpoint differs): the plan shows an in-place
    update, Pulumi would replace the node; grid stops before that step and the node survives."""
    spec, name = lab
    backend = workdir(spec, name) / "pulumi-backend" / ".pulumi" / "stacks"
    checkpoint = next(backend.glob("*/east.json"))
    original = checkpoint.read_bytes()
    document = json.loads(original)
    node = next(r for r in document["checkpoint"]["latest"]["resources"] if r["urn"].endswith("::east/train/node-0000"))
    node["outputs"]["hostname"] = "renamed-behind-grids-back"
    checkpoint.write_text(json.dumps(document))
    more_cpus = yaml.safe_load(spec.read_text())
    resources = more_cpus["spec"]["regions"][0]["pools"][0]["resources"]
    resources["cpus"] = 0.75
    original_spec = spec.read_text()
    spec.write_text(yaml.safe_dump(more_cpus, sort_keys=False))
    try:
        plan = json.loads(grid("plan", str(spec), "--json").stdout)
        planned = {c["address"]: c["action"] for c in plan["changes"] if c["action"] != "no-op"}
        assert planned.get("east/train/node-0000") == "update", planned
        run = grid("up", str(spec), "--yes", "--skip-check")
        assert run.code == 1, run.output
        assert "east/train/node-0000: the engine would replace it" in run.output, run.output
        assert "the plan shows it staying" in run.output
    finally:
        checkpoint.write_bytes(original)
        spec.write_text(original_spec)
        assert grid("up", str(spec), "--yes", "--skip-check").code == 0


def _root_login(ip: str, key: Path, known_hosts: Path) -> int:
    return subprocess.run(["ssh", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
                           "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                           "-i", str(key), f"root@{ip}", "true"], capture_output=True, check=False).returncode


def test_the_admin_key_is_rotated_in_place_even_when_runs_are_cut_short(lab: tuple[Path, str], unchanged: None,
                                                                        tmp_path: Path) -> None:
    from support.cli import start

    spec, name = lab
    work = workdir(spec, name)
    state = json.loads((work / "state.json").read_text())["state"]
    ips = [r["attrs"]["fabrics"]["mgmt"] for r in state["resources"].values() if r["kind"] == "node"]
    for cut in ("ansible.event:3", "rotation.recorded:1"):
        old = tmp_path / f"before-{cut}"
        shutil.copy(work / "secrets" / "id_ed25519", old)
        old.chmod(0o600)
        killed = start("up", str(spec), "--yes", "--skip-check", "--rotate-ssh-key", env={"GRID_KILL_AT": cut})
        code, output = killed.wait(timeout=300)
        assert code == -9, f"{cut}: the kill point was not reached ({code}):\n{output[-2000:]}"
        # The next plain `grid up` goes on with the rotation and finishes it; no node is replaced.
        run = grid("up", str(spec), "--yes", "--skip-check")
        assert run.code == 0, run.output
        assert not (work / "secrets" / "id_ed25519.next").exists()
        new = work / "secrets" / "id_ed25519"
        assert new.read_bytes() != old.read_bytes()
        for ip in ips:
            assert _root_login(ip, new, work / "known_hosts") == 0, ip
            assert _root_login(ip, old, work / "known_hosts") != 0, f"{ip} still lets the old key in"
        assert grid("check", str(spec)).code == 0


def test_the_engine_does_what_the_plan_showed_for_drift_and_spec_changes(lab: tuple[Path, str]) -> None:
    """Each run's result lists its plan's changes; podman shows the engine did those and nothing else."""
    from support.lab import running_containers, unplanned_by_engine

    spec, name = lab
    original = spec.read_text()

    def up_and_compare(expected: dict[str, tuple[str, str]]) -> dict[str, str]:
        before = running_containers(name)
        run = grid("up", str(spec), "--yes", "--skip-check", "--json")
        assert run.code == 0, run.output
        after = running_containers(name)
        doc = json.loads(run.stdout)
        planned = {c["address"]: (c["action"], c["cause"]) for c in doc["changes"] if c["address"] in after}
        assert planned == expected, doc["changes"]
        assert unplanned_by_engine(before, after, run.stdout) == []
        replaced = {a for a in after if before.get(a) != after[a]}
        assert replaced == {a for a, (action, _) in expected.items() if action in ("create", "replace")}
        return after

    def edit(change: Any) -> None:
        data = yaml.safe_load(spec.read_text())
        change(data["spec"]["regions"][0])
        spec.write_text(yaml.safe_dump(data, sort_keys=False))

    nodes = ("east/train/node-0000", "east/train/node-0001")
    try:
        subprocess.run(["podman", "rm", "-f", "-t", "0", f"grid-{name}-east-train-0001"], check=True,
                       capture_output=True)
        up_and_compare({nodes[1]: ("create", "drift")})
        edit(lambda region: region["pools"][0]["resources"].update(cpus=0.75))
        up_and_compare({node: ("update", "spec") for node in nodes})
        edit(lambda region: region["storage"][0].update(mount="/shared2"))
        up_and_compare({node: ("replace", "spec") for node in nodes})
    finally:
        spec.write_text(original)
        assert grid("up", str(spec), "--yes", "--skip-check").code == 0
