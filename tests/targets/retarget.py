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


ALICLOUD_TYPES = {"h200": "ecs.ebmgn8v.48xlarge", "b200": "ecs.ebmgn8v.48xlarge", None: "ecs.g8i.48xlarge"}


def national_alicloud(data: dict[str, Any]) -> None:
    """National on Alibaba Cloud: each hub in the cloud region nearest it (a region per hub)."""
    data["metadata"]["name"] = "national-alicloud"
    data["spec"]["target"] = "alicloud"
    data["spec"]["targets"] = {"alicloud": {"region": "cn-wulanchabu"}}  # the program picks the zone
    clouds = ["cn-wulanchabu", "cn-zhangjiakou", "cn-shanghai", "cn-hangzhou", "cn-shenzhen", "cn-beijing"]
    for index, region in enumerate(data["spec"]["regions"]):
        region["targets"] = {"alicloud": {"region": clouds[index % len(clouds)]}}
        for fabric in region["fabrics"]:
            if fabric.get("kind") == "roce":  # ebmgn8v: two ERIs, one per network card
                fabric.update(ports_per_node=2, mtu=8500)
        for pool in region["pools"]:
            model = (pool.get("accelerator") or {}).get("model")
            pool["instance_types"] = {"alicloud": ALICLOUD_TYPES.get(model, "ecs.ebmgn8v.48xlarge")}


GCP_TYPES = {"h200": "a3-ultragpu-8g", "b200": "a4-highgpu-8g", None: "n2-standard-32"}


def national_gcp(data: dict[str, Any]) -> None:
    """National on Google Cloud (with `scaled`: its 8 rails of a /19 hold ~1000 nodes each): each hub in a
    cloud region of its own, RDMA fabrics as 8 MRDMA rails, parallel-fs as the largest Filestore (100 TiB)."""
    data["metadata"]["name"] = "national-gcp"
    data["spec"]["target"] = "gcp"
    data["spec"]["targets"] = {"gcp": {"project": "national-grid-01", "region": "asia-southeast1"}}
    clouds = ["asia-southeast1", "asia-east1", "asia-northeast1", "us-central1", "europe-west4", "us-east5"]
    for index, region in enumerate(data["spec"]["regions"]):
        region["targets"] = {"gcp": {"region": clouds[index % len(clouds)]}}  # the program picks the zone
        for fabric in region["fabrics"]:
            if fabric.get("kind") == "roce":
                fabric.update(ports_per_node=8, mtu=8896)
        for storage in region.get("storage", []):
            if storage.get("kind", "parallel-fs") in ("parallel-fs", "nfs"):
                storage.update(capacity_tib=min(storage["capacity_tib"], 100), deployment_type="ZONAL")
        for pool in region["pools"]:
            model = (pool.get("accelerator") or {}).get("model")
            pool["instance_types"] = {"gcp": GCP_TYPES.get(model, "a3-ultragpu-8g")}


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
