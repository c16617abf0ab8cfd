"""Example specs retargeted for the target tests: national on aws, scaled pools, a key in the work directory."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

AWS_TYPES = {"h200": "p5e.48xlarge", "b200": "p6-b200.48xlarge", None: "c7i.48xlarge"}


def national_aws(data: dict[str, Any]) -> None:
    data["metadata"]["name"] = "national-aws"
    data["spec"]["target"] = "aws"
    data["spec"]["targets"] = {"aws": {"region": "ap-southeast-1"}}  # the program picks the zone
    for region in data["spec"]["regions"]:
        for pool in region["pools"]:
            model = (pool.get("accelerator") or {}).get("model")
            pool["instance_types"] = {"aws": AWS_TYPES.get(model, "p5.48xlarge")}


def scaled(data: dict[str, Any]) -> None:
    for region in data["spec"]["regions"]:
        for pool in region["pools"]:
            pool["count"] = min(pool["count"], 1)


def write_spec(directory: Path, source: Path, *edits: Callable[[dict[str, Any]], None]) -> tuple[Path, str]:
    """A copy of an example (edited) with the cluster key already in its work directory."""
    data = yaml.safe_load(source.read_text())
    for edit in edits:
        edit(data)
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / "cluster.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    name = data["metadata"]["name"]
    secrets = directory / ".grid" / name / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"grid-{name}", "-f",
                    str(secrets / "id_ed25519")], check=True)
    return spec, name
