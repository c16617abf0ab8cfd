"""Edges of the cloud stack programs: VPCs over scattered fabrics, and what they refuse to guess."""

from __future__ import annotations

import pulumi
import pytest
import yaml
from stack_mocks import run_isolated

from grid.render.pulumi import region_program_input
from grid.resources import expand
from grid.spec.model import Cluster
from grid.stacks import aws, aws_network, cloud_common
from support.paths import EXAMPLES

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6SayqSdvsExHGhfB919/SQiDV9V7ZIvSW/GibMHahs grid-test"


def test_aws_vpc_takes_a_secondary_cidr_per_fabric_no_supernet_covers() -> None:
    spec = yaml.safe_load((EXAMPLES / "targets" / "lab-aws.yaml").read_text())
    spec["spec"]["regions"][0]["fabrics"][0]["cidr"] = "198.19.10.0/24"  # compute: no /16 covers it and mgmt
    cluster = Cluster.model_validate(spec)
    data = region_program_input(cluster, expand(cluster), "east", authorized_key=KEY)
    result = run_isolated(target="aws", data=data, config={})
    vpc = next(r for r in result["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    blocks = [r for r in result["resources"] if r["type"].endswith("VpcIpv4CidrBlockAssociation")]
    assert vpc["inputs"]["cidrBlock"] == "198.19.10.0/24"  # the first fabric
    assert [b["inputs"]["cidrBlock"] for b in blocks] == ["198.18.1.0/24"]
    assert result["outputs"]["program"]["nodes"]["east/train/node-0000"]["private_ips"]["compute"] == "198.19.10.4"


def test_programs_refuse_what_they_would_have_to_guess() -> None:
    with pytest.raises(ValueError, match="no authorized_key"):
        cloud_common.cluster_key({"authorized_key": ""})
    nodes = [{"instance_type": "p5.48xlarge"}]
    with pytest.raises(ValueError, match=r"set spec\.targets\.aws\.ami"):
        aws._amis({"image": "rocky-9", "nodes": nodes}, {}, pulumi.InvokeOptions())
    assert aws._amis({"image": "rocky-9", "nodes": nodes}, {"ami": "ami-0123456789abcdef0"},
                     pulumi.InvokeOptions()) == {"p5.48xlarge": "ami-0123456789abcdef0"}
    with pytest.raises(ValueError, match="AWS subnets must be /16 to /28"):
        aws_network.vpc({"region": "east", "cluster": "c", "fabrics": [{"cidr": "198.18.0.0/15"}]},
                        pulumi.ResourceOptions())
    with pytest.raises(ValueError, match="no address on fabric 'mgmt'"):
        cloud_common.node_fabrics({"address": "east/a/node-0000", "fabrics": {"mgmt": ""}}, {"fabrics": ["mgmt"]})
