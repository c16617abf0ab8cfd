"""State partitioned by region: split/merge, and the partitioned store on files and on PostgreSQL (scope,
conflicts per part, pending work, parallel region runs)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from grid.state import FileStateStore, HostRecord, ResourceRecord, State, StateConflict
from grid.state.model import ChangeRecord, HistoryEntry, PoolSlots, QuarantineRecord
from grid.state.partition_split import CLUSTER_PART, merge, split
from grid.state.partitions import (
    FilePartitions,
    PartitionedStore,
    Partitions,
    PostgresPartitions,
    ScopeViolation,
)


def _node(region: str, i: int) -> ResourceRecord:
    address = f"{region}/gpu/node-{i:04d}"
    return ResourceRecord(address=address, kind="node", region=region, attrs={"pool": "gpu", "index": i})


def random_state(rng: random.Random) -> State:
    regions = [f"r{i}" for i in range(rng.randint(0, 4))]
    resources: dict[str, ResourceRecord] = {}
    hosts: dict[str, HostRecord] = {}
    quarantined: dict[str, QuarantineRecord] = {}
    for region in regions:
        for i in range(rng.randint(0, 3)):
            node = _node(region, i)
            resources[node.address] = node
            if rng.random() < 0.7:
                hosts[node.address] = HostRecord(address=node.address, status="configured")
            if rng.random() < 0.2:
                quarantined[node.address] = QuarantineRecord(address=node.address, check="ecc")
    if len(regions) >= 2:
        link = f"link/{regions[0]}--{regions[1]}"
        resources[link] = ResourceRecord(address=link, kind="link", region=regions[0])
    history = []
    for serial in range(1, rng.randint(1, 6)):
        changes = [ChangeRecord(address=a, action="create") for a in rng.sample(sorted(resources),
                                                                                  min(len(resources), 2))]
        history.append(HistoryEntry(serial=serial, at=f"t{serial}", command="up", changes=changes))
    return State(cluster="c", spec_digest="sha256:x", resources=resources, hosts=hosts, quarantined=quarantined,
                 history=history, interrupted=sorted(rng.sample(regions, rng.randint(0, len(regions)))),
                 slots={f"{r}/gpu": PoolSlots(retired=[0]) for r in regions[:1]},
                 applied_spec={"spec": {}}, admin_public_key="ssh-ed25519 AAAA",
                 pending={r: ["hosts learn"] for r in regions[1:2]}, outputs={"k": "v"})


def test_merge_of_split_is_the_state() -> None:
    rng = random.Random(18)
    for _ in range(300):
        state = random_state(rng)
        parts = split(state)
        assert merge("c", parts) == state
        assert parts[CLUSTER_PART].applied_spec == state.applied_spec
        for name, part in parts.items():
            if name != CLUSTER_PART:
                assert all(r.region == name for r in part.resources.values())


def _file_parts(tmp_path: Path) -> FilePartitions:
    return FilePartitions(tmp_path, tmp_path)


@pytest.fixture(params=["file", "postgres"])
def partitions(request: pytest.FixtureRequest, tmp_path: Path) -> Partitions:
    if request.param == "file":
        return _file_parts(tmp_path)
    url = request.getfixturevalue("pg_url")
    return PostgresPartitions(url, "c")


def two_regions() -> State:
    return State(cluster="c", resources={a.address: a for a in (_node("east", 0), _node("west", 0))},
                 hosts={a: HostRecord(address=a, status="configured")
                        for a in ("east/gpu/node-0000", "west/gpu/node-0000")}, admin_public_key="k")


def test_whole_cluster_write_then_region_runs(partitions: Partitions) -> None:
    whole = PartitionedStore(partitions, "c")
    assert whole.read() is None
    whole.write(two_regions(), 0)
    assert sorted(partitions.names()) == [CLUSTER_PART, "east", "west"]
    envelope = PartitionedStore(partitions, "c").read()
    assert envelope is not None and envelope.state == two_regions() and envelope.serial == 3

    east, west = PartitionedStore(partitions, "c", ["east"]), PartitionedStore(partitions, "c", ["west"])
    east_env, west_env = east.read(), west.read()
    assert east_env is not None and west_env is not None
    grown = east_env.state.model_copy(update={
        "resources": {**east_env.state.resources, "east/gpu/node-0001": _node("east", 1)},
        "pending": {"west": ["1 host learns east's new nodes"]}})
    east.write(grown, east_env.serial)
    # west read before east wrote: its own part did not change, so its write goes through
    changed = west_env.state.model_copy(update={"hosts": {**west_env.state.hosts, "west/gpu/node-0000":
                                                          HostRecord(address="west/gpu/node-0000")}})
    west.write(changed, west_env.serial)
    final = PartitionedStore(partitions, "c").read()
    assert final is not None
    assert "east/gpu/node-0001" in final.state.resources
    assert final.state.hosts["west/gpu/node-0000"].status == "pending"
    assert final.state.pending == {"west": ["1 host learns east's new nodes"]}
    # west's next run clears its pending work
    again = west.read()
    assert again is not None
    west.write(again.state.model_copy(update={"pending": {}}), again.serial)
    cleared = PartitionedStore(partitions, "c").read()
    assert cleared is not None and cleared.state.pending == {}


def test_a_region_run_may_not_touch_another_region(partitions: Partitions) -> None:
    PartitionedStore(partitions, "c").write(two_regions(), 0)
    east = PartitionedStore(partitions, "c", ["east"])
    envelope = east.read()
    assert envelope is not None
    bad = envelope.state.model_copy(update={"resources": {"east/gpu/node-0000": _node("east", 0)}})
    with pytest.raises(ScopeViolation, match="west"):
        east.write(bad, envelope.serial)
    with pytest.raises(ScopeViolation, match="whole cluster"):
        east.write(envelope.state.model_copy(update={"outputs": {"x": 1}}), envelope.serial)


def test_conflict_only_when_the_same_part_changed(partitions: Partitions) -> None:
    PartitionedStore(partitions, "c").write(two_regions(), 0)
    first, second = PartitionedStore(partitions, "c", ["east"]), PartitionedStore(partitions, "c", ["east"])
    a, b = first.read(), second.read()
    assert a is not None and b is not None
    first.write(a.state.model_copy(update={"resources": {**a.state.resources,
                                                         "east/gpu/node-0001": _node("east", 1)}}), a.serial)
    with pytest.raises(StateConflict):
        second.write(b.state.model_copy(update={"resources": {**b.state.resources,
                                                              "east/gpu/node-0002": _node("east", 2)}}), b.serial)


def test_region_locks_are_independent(partitions: Partitions) -> None:
    PartitionedStore(partitions, "c").write(two_regions(), 0)
    east, west = PartitionedStore(partitions, "c", ["east"]), PartitionedStore(partitions, "c", ["west"])
    whole = PartitionedStore(partitions, "c")
    with east.lock("up --region east"):
        with west.lock("up --region west"):
            assert west.lock_holder() is not None
        assert whole.lock_holder() is not None
        errors: list[BaseException] = []

        def take_whole() -> None:
            try:
                with whole.lock("up"):
                    pass
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                errors.append(exc)

        thread = threading.Thread(target=take_whole)
        thread.start()
        thread.join()
        assert errors, "the whole cluster's lock needs east's too"


def test_file_partitions_live_next_to_the_state(tmp_path: Path) -> None:
    PartitionedStore(_file_parts(tmp_path), "c").write(two_regions(), 0)
    assert FileStateStore(tmp_path / "partitions" / "east").read() is not None
    assert not (tmp_path / "state.json").exists()


def test_a_new_state_opened_for_a_region_is_created_partitioned(tmp_path: Path) -> None:
    from grid.state import open_store
    from grid.state.errors import StateError

    store = open_store(None, workdir=tmp_path, cluster="c", regions=["east"])
    assert isinstance(store, PartitionedStore)
    envelope = store.write(State(cluster="c", resources={"east/gpu/node-0000": _node("east", 0)},
                                 admin_public_key="k"), 0)
    assert envelope.lineage  # the cluster part exists: its lineage labels what grid makes
    assert open_store(None, workdir=tmp_path, cluster="c").read() == envelope.model_copy(update={"checksum": ""})
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    FileStateStore(legacy).write(two_regions(), 0)
    assert not isinstance(open_store(None, workdir=legacy, cluster="c"), PartitionedStore)
    with pytest.raises(StateError, match="not partitioned by region") as refused:
        open_store(None, workdir=legacy, cluster="c", regions=["east"])
    assert "grid state migrate --partition SPEC" in refused.value.hint


def test_create_keeps_the_single_states_lineage_and_serial(partitions: Partitions) -> None:
    store = PartitionedStore(partitions, "c")
    created = store.create(two_regions(), "lineage-of-the-single-state", serial=7)
    assert created.lineage == "lineage-of-the-single-state" and created.serial >= 7
    assert created.state == two_regions()
