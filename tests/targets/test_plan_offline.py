"""`grid plan` works offline for every target: run in a network namespace of its own (no route anywhere),
with cloud credentials pointing nowhere, it plans the retargeted examples from the spec alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from retarget import national_aws

from support.cli import grid
from support.paths import EXAMPLES, GRID

NOWHERE = {"AWS_ACCESS_KEY_ID": "AKIAOFFLINE", "AWS_SECRET_ACCESS_KEY": "offline", "AWS_EC2_METADATA_DISABLED": "true",
           "OS_AUTH_URL": "http://127.0.0.1:9/v3", "OS_CLOUD": "", "CI": "true"}


def isolated() -> list[str]:
    """`unshare -n` when this machine allows it: the command then has no network at all."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def national_on_aws(directory: Path) -> Path:
    data = yaml.safe_load((EXAMPLES / "national" / "cluster.yaml").read_text())
    national_aws(data)
    path = directory / "national-aws.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_every_target_plans_offline(tmp_path: Path) -> None:
    specs = {
        "local": EXAMPLES / "local-lab" / "cluster.yaml",
        "aws": EXAMPLES / "targets" / "lab-aws.yaml",
        "openstack": EXAMPLES / "targets" / "lab-openstack.yaml",
        "existing": EXAMPLES / "targets" / "existing.yaml",
        "national (openstack, 23,100 nodes)": EXAMPLES / "national" / "cluster.yaml",
        "national on aws": national_on_aws(tmp_path),
    }
    prefix = isolated()

    def plan(item: tuple[str, Path]) -> subprocess.CompletedProcess[str]:
        label, spec = item
        workdir = tmp_path / label.split()[0] / label.replace(" ", "-")
        env = {**os.environ, **NOWHERE}
        return subprocess.run([*prefix, GRID, "plan", str(spec), "--workdir", str(workdir), "--detailed-exitcode"],
                              capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(specs, pool.map(plan, specs.items()), strict=True))
    for label, done in results.items():
        assert done.returncode == 2, f"{label}: {done.stdout}{done.stderr}"  # 2: changes to make
        # machines that exist already are adopted, never created (issue 14)
        made = " to adopt" if label == "existing" else " to create"
        assert "Plan:" in done.stdout and made in done.stdout, label
    assert " to create" not in results["existing"].stdout
    assert "23100 host(s) to configure" in results["national (openstack, 23,100 nodes)"].stdout
    assert "(target existing)" in results["existing"].stdout


def test_aws_validation_warns_about_mtu_it_cannot_honour(tmp_path: Path) -> None:
    done = grid("validate", str(national_on_aws(tmp_path)))
    assert done.code == 0, done.output
    assert "asks for MTU 9000, which the aws target ignores" in done.output
    assert "is infiniband, which AWS does not offer" in done.output
    clean = grid("validate", str(EXAMPLES / "targets" / "lab-aws.yaml"))
    assert clean.code == 0 and "(0 warning(s))" in clean.output, clean.output


@pytest.mark.parametrize("example", ["lab-aws.yaml", "lab-openstack.yaml"])
def test_cloud_targets_need_an_instance_type_for_every_pool(tmp_path: Path, example: str) -> None:
    data = yaml.safe_load((EXAMPLES / "targets" / example).read_text())
    del data["spec"]["regions"][1]["pools"][0]["instance_types"]
    spec = tmp_path / example
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    done = grid("plan", str(spec), "--workdir", str(tmp_path / "wd"))
    assert done.code == 1
    assert "pool 'infer' has no" in done.output and "instance type" in done.output
