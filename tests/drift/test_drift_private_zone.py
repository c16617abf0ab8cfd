"""`grid drift` on a cloud whose names are its private zone (names: dns on aws): a record or the zone removed or
changed outside grid is found by Pulumi's refresh, and reported on the node or the fabric that carries it, so
the next `grid up` runs that region's stack, which makes it again."""

from __future__ import annotations

from grid.drift import live_from_steps
from grid.resources import expand
from support.paths import EXAMPLES
from support.specs import applied_state, cluster_from


def test_a_missing_record_or_zone_makes_its_node_or_fabric_differ_and_nothing_else() -> None:
    state = applied_state(expand(cluster_from(EXAMPLES / "targets" / "lab-aws.yaml")))
    same = {a: "same" for a in state.resources} | {"east/train/node-0001/name": "same", "east/names": "same"}
    assert live_from_steps(same, state) == {}
    found = live_from_steps({**same, "east/train/node-0001/name": "create", "west/names/dhcp/association": "update",
                             "east/train/node-0001/volume/pfs/attachment": "create"}, state)
    assert set(found) == {"east/train/node-0001", "west/fabric/mgmt"}
    record, zone = found["east/train/node-0001"], found["west/fabric/mgmt"]
    assert record.exists and not record.healthy and "its DNS record is missing" in record.detail
    assert zone.exists and not zone.healthy and "the region's private DNS zone" in zone.detail


def test_the_recorded_resources_themselves_as_before() -> None:
    state = applied_state(expand(cluster_from(EXAMPLES / "targets" / "lab-aws.yaml")))
    found = live_from_steps({"east/train/node-0000": "create", "east/train/node-0001": "replace",
                             "west/infer/node-0000": "update", "east/names": "create"}, state)
    assert not found["east/train/node-0000"].exists
    assert found["east/train/node-0001"].replace
    assert not found["west/infer/node-0000"].healthy and "differs from state" in found["west/infer/node-0000"].detail
    assert "east/fabric/compute" in found  # the zone, on the first of east's fabrics


def test_without_a_zone_a_names_resource_is_nobodys() -> None:
    spec = cluster_from(EXAMPLES / "targets" / "lab-aws.yaml",
                        lambda d: d["spec"]["configuration"].update(names="hosts_file"))
    state = applied_state(expand(spec))
    assert live_from_steps({"east/names": "create"}, state) == {}
