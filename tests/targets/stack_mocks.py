"""Run a grid stack program under Pulumi's mocks: no cloud, no engine, no provider plugin.

`run_isolated(...)` runs one program in a fresh interpreter (Pulumi's runtime settings are process
globals) and returns what it registered: every resource (type, name, inputs) and the stack outputs.
The program is either a target's `program(data)` or rendered projects' `__main__.py` (`projects=`).

The mocks answer like a cloud would for what the programs read back: ids, ENI and port addresses,
EFS/FSx/Manila/NAS mount sources, AZ and zone names, AMI and ECS image lookups, the Keystone catalog
(with Manila and Swift unless the request says `catalog`).
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

DEFAULT_CATALOG = ["compute", "network", "volumev3", "image", "sharev2", "object-store", "identity"]


class CloudMocks(Mocks):
    def __init__(self, catalog: list[str]) -> None:
        self.catalog = catalog
        self.resources: list[dict[str, Any]] = []
        self.calls: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        rid = f"{args.name.replace('/', '-')}-id"
        typ = args.typ
        if typ == "aws:ec2/networkInterface:NetworkInterface":
            outputs["privateIp"] = (outputs.get("privateIps") or [""])[0]
        elif typ == "aws:efs/mountTarget:MountTarget":
            outputs["ipAddress"] = "198.19.250.10"
        elif typ == "aws:efs/fileSystem:FileSystem":
            outputs["dnsName"] = f"{rid}.efs.example"
        elif typ == "aws:fsx/lustreFileSystem:LustreFileSystem":
            outputs.update(dnsName=f"{rid}.fsx.example", mountName="abcdef")
        elif typ == "aws:ebs/volume:Volume":
            rid = "vol-0123456789abcdef0"
        elif typ == "aws:route53/zone:Zone":
            outputs["zoneId"] = f"Z-{rid}"  # Route 53's own id of the zone, what records name
        elif typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = str(outputs.get("bucketPrefix", "")) + "mock"
        elif typ == "openstack:networking/port:Port":
            outputs["allFixedIps"] = [ip["ipAddress"] for ip in outputs.get("fixedIps", [])]
        elif typ == "openstack:sharedfilesystem/share:Share":
            outputs["exportLocations"] = [{"path": "198.19.250.20:/shares/other", "preferred": "false"},
                                          {"path": f"198.19.250.21:/shares/{rid}", "preferred": "true"}]
        elif typ == "openstack:blockstorage/volume:Volume":
            rid = "0123456789abcdef0123456789abcdef"
        elif typ == "alicloud:ecs/ecsNetworkInterface:EcsNetworkInterface":
            outputs.setdefault("primaryIpAddress", "198.19.251.10")  # an ERI port: the vSwitch picks it
        elif typ == "alicloud:nas/mountTarget:MountTarget":
            outputs["mountTargetDomain"] = f"{rid}.cn-mock.nas.aliyuncs.com"
        elif typ == "alicloud:nas/protocolService:ProtocolService":
            outputs["protocolServiceId"] = f"ptc-{rid}"
        elif typ == "alicloud:nas/protocolMountTarget:ProtocolMountTarget":
            outputs["exportId"] = f"exp-{rid}"
        elif typ == "alicloud:ecs/ecsDisk:EcsDisk":
            rid = "d-bp1mockdisk0000"
        elif typ == "gcp:compute/instance:Instance":
            outputs["instanceId"] = f"{rid}-number"
        elif typ == "gcp:filestore/instance:Instance":
            outputs["networks"] = [{**n, "ipAddresses": ["198.19.250.30"]} for n in outputs.get("networks", [])]
        if args.typ.startswith("pulumi:providers:"):
            rid = f"{args.name}-provider-id"
        self.resources.append({"type": typ, "name": args.name, "inputs": args.inputs, "provider": args.provider})
        return rid, outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args.token)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ["mock-1b", "mock-1a"], "zoneIds": ["z2", "z1"], "id": "mock"}, []
        if args.token == "aws:ec2/getInstanceType:getInstanceType":
            arm = str(args.args.get("instanceType", "")).split(".")[0].endswith("g")
            return {"supportedArchitectures": ["arm64" if arm else "x86_64"]}, []
        if args.token == "aws:ec2/getAmi:getAmi":
            name = next(f["values"][0] for f in args.args["filters"] if f["name"] == "name")
            return {"id": "ami-" + ("0a" if "arm64" in name else "0b") * 6, "name": name}, []
        if args.token == "alicloud:index/getZones:getZones":
            return {"ids": ["cn-mock-b", "cn-mock-a"], "zones": [{"id": "cn-mock-b"}, {"id": "cn-mock-a"}]}, []
        if args.token == "alicloud:ecs/getImages:getImages":
            arch = "arm64" if ".g8y." in str(args.args.get("instanceType", "")) else "x64"
            return {"ids": [f"debian_12_6_{arch}_20G_alibase_20240819.vhd"], "images": []}, []
        if args.token == "gcp:compute/getZones:getZones":
            region = str(args.args.get("region", "mock1"))
            return {"names": [f"{region}-b", f"{region}-a"], "id": region, "project": "mock-project"}, []
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"project": "mock-project", "id": "mock", "accessToken": "", "region": "", "zone": ""}, []
        if args.token == "openstack:identity/getAuthScope:getAuthScope":
            return {"serviceCatalogs": [{"id": t, "name": t, "type": t, "endpoints": []} for t in self.catalog]}, []
        if args.token == "openstack:networking/getNetwork:getNetwork":
            return {"id": "external-net-id", "name": args.args.get("name")}, []
        raise AssertionError(f"unexpected invoke {args.token}")


def run_program(*, target: str | None = None, data: dict[str, Any] | None = None,
                projects: list[str] | None = None, config: dict[str, str] | None = None,
                catalog: list[str] | None = None) -> dict[str, Any]:
    """In this process (call it once per process): register the programs' resources against the mocks.

    Either one `program(data)` of `target`, or the rendered projects (`projects`: directories holding a
    `__main__.py`), one after the other in one mocked stack; outputs are returned per project directory
    name (`program` for the former). Resource names are grid addresses, unique across regions.
    """
    mocks = CloudMocks(DEFAULT_CATALOG if catalog is None else catalog)
    pulumi.runtime.set_all_config(dict(config or {}))
    pulumi.runtime.set_mocks(mocks, project="grid-mock", stack="mock", preview=False)
    exports: dict[str, dict[str, Any]] = {}
    current = ["program"]
    resolved: dict[str, Any] = {}
    warnings: list[str] = []
    pulumi.export = lambda name, value: exports.setdefault(current[0], {}).__setitem__(name, value)
    original_warn = pulumi.log.warn
    pulumi.log.warn = lambda message, *a, **k: warnings.append(str(message))

    def body() -> pulumi.Output[None]:
        for project in projects or []:
            current[0] = Path(project).name
            runpy.run_path(str(Path(project) / "__main__.py"), run_name="__main__")
        if projects is None:
            importlib.import_module(f"grid.stacks.{target}").program(data)
        return pulumi.Output.from_input(exports).apply(resolved.update)

    run = pulumi.runtime.test(body)  # type: ignore[no-untyped-call]  # awaits every registration
    started = time.monotonic()
    try:
        run()
    finally:
        pulumi.log.warn = original_warn
    return {"resources": mocks.resources, "outputs": resolved, "calls": mocks.calls, "warnings": warnings,
            "seconds": time.monotonic() - started}


def run_isolated(*, timeout: float = 120, **request: Any) -> dict[str, Any]:
    """`run_program` in a fresh interpreter; raises with the program's stderr if it failed."""
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    proc = subprocess.run([sys.executable, __file__], input=json.dumps(request), capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"stack program failed under mocks:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    print(json.dumps(run_program(**request), default=str))
