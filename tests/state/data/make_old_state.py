"""How the old-format state files here were made: run with an OLD grid on the path, e.g.

    git archive 1f65567 | tar -x -C /tmp/oldgrid2          # FORMAT_VERSION = 2
    PYTHONPATH=/tmp/oldgrid2/src python tests/state/data/make_old_state.py /tmp/oldgrid2 OUT_DIR
    (c684ae5^ for FORMAT_VERSION = 1; its model has no admin key yet)

It loads the local-lab example with that grid, expands it, and writes three serials through that grid's own
FileStateStore with the internal keys its apply wrote into `state.outputs` (the spec as applied, the rendered
digest, the admin public key, an interrupted region). Not a test: the files it wrote are committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grid.resources import expand
from grid.spec import load_spec
from grid.state import FORMAT_VERSION, FileStateStore, HostRecord, ResourceRecord, State, append_history, history_entry

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOldGridFormatTestKeyOnlyNotARealOne0000 grid-admin"


def main(old_tree: Path, out: Path) -> None:
    cluster = load_spec(str(old_tree / "examples" / "local-lab" / "cluster.yaml")).cluster
    assert cluster is not None
    graph = expand(cluster)
    resources = {r.address: ResourceRecord(address=r.address, kind=r.kind.value, region=r.region,
                                           attrs=dict(r.attrs)) for r in graph.resources}
    nodes = sorted(a for a, r in resources.items() if r.kind == "node")[:2]
    hosts = {a: HostRecord(address=a, status="configured", node_digest="sha256:" + "1" * 64,
                           cluster_digest="sha256:" + "2" * 64, hosts_digest="sha256:" + "3" * 64,
                           updated_at="2026-01-02T03:04:05Z") for a in nodes}
    outputs: dict[str, object] = {"applied_spec": cluster.model_dump(mode="json"),
                                  "rendered_digest": "sha256:" + "4" * 64, "interrupted_regions": ["lab"]}
    if FORMAT_VERSION >= 2:
        outputs["admin_public_key"] = KEY
    store = FileStateStore(out)
    state = State(cluster=cluster.name, spec_digest="sha256:" + "5" * 64)
    for serial in range(3):
        if serial == 2:
            state = state.model_copy(update={"resources": resources, "hosts": hosts, "outputs": outputs})
        state = append_history(state, history_entry(serial + 1, f"grid up step {serial + 1}"))
        store.write(state, serial)
    print(f"format {FORMAT_VERSION}: {store.path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
