"""`grid plan` of an unchanged cluster without reading its nodes: the sealed path (grid.state.seal).

A full plan that changes nothing seals the state it read with the digest of every other input it was made from
(`inputs_digest`). The next plan whose inputs have that digest, against the same state file, is the same no-op:
`sealed_plan` makes it from the spec's pool totals and the state's small members (capacity, quarantined nodes,
rolls), counting the resources as unchanged without decoding, expanding or digesting any of them. Only a plain
offline plan takes this path — no refresh or probe (those compare every record with the target), no
--target/--exclude, no `--region`, no policy pack (packs may read every resource), no `moved:` entries, and not
when the caller lists unchanged resources (`--show-unchanged`, `--json`, `--out`: PlanOptions.sealed is off). A
sealed plan never feeds an apply: `grid up` always plans in full.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from grid import __version__
from grid.plan import Plan
from grid.resources import ResourceGraph
from grid.spec import spec_digest
from grid.state import FileStateStore
from grid.state.model import Envelope, State
from grid.workspace import Workspace, admin_public_key, plan_capacity, with_waves


def may_seal(ws: Workspace, *, refresh: bool, probe: bool, targets: tuple[str, ...], excludes: tuple[str, ...],
             policy_dirs: tuple[Path, ...]) -> bool:
    """Whether a plan made with these options may be sealed, and made from a seal."""
    spec = ws.cluster.spec
    return (isinstance(ws.store, FileStateStore) and ws.regions is None and not (refresh or probe)
            and not (targets or excludes or policy_dirs) and not spec.moved and not spec.policy.packs)


def inputs_digest(ws: Workspace, public_key: str) -> str | None:
    """One digest of every input of a plan but the state: the spec (normalised), the user's roles and scripts,
    the image recipes and what the target boots for them, the machines an inventory names (target existing),
    the admin key the nodes get, and grid itself (its version and its files). None: an input cannot be read
    (the full plan says why)."""
    images = {name: [build.ref, build.base_ref, _sha(build.containerfile.encode()),
                     [[file, _sha(content)] for file, content in build.files]]
              for name, build in sorted(ws.images.items())}
    try:
        machines = {address: repr(node) for address, node in sorted(ws.target.fixed_hosts(ws.cluster).items())}
        booted = dict(sorted(ws.target.pool_images(ws.cluster, ws.images).items()))
    except (ValueError, OSError):
        return None
    document = {"spec": spec_digest(ws.cluster), "roles": ws.own.role_digests, "scripts": ws.own.script_digests,
                "images": images, "booted": booted, "machines": machines, "admin_public_key": public_key,
                "grid": grid_build()}
    return "sha256:" + _sha(json.dumps(document, sort_keys=True).encode())


def sealed_plan(ws: Workspace) -> tuple[Plan, Envelope, State] | None:
    """The plan a seal vouches for (no changes, the resources counted as unchanged), with the envelope and state
    it read — neither holds the per-node records; None when no seal applies (then plan in full)."""
    assert isinstance(ws.store, FileStateStore)
    sealed = ws.store.read_sealed()
    if sealed is None:
        return None
    envelope = sealed.envelope
    state = envelope.state
    inputs = inputs_digest(ws, admin_public_key(ws, state))
    if inputs is None or sealed.inputs != inputs:
        return None
    made = Plan(cluster=ws.cluster.name, target=ws.cluster.spec.target, spec_digest=spec_digest(ws.cluster),
                state_serial=envelope.serial, state_lineage=envelope.lineage, changes=(),
                capacity=plan_capacity(ws, state), unlisted_unchanged=sealed.resources)
    return with_waves(ws, made, state), envelope, state


def seal_if_unchanged(ws: Workspace, plan: Plan, envelope: Envelope | None, state: State, public_key: str) -> None:
    """After a full plan: when it changes nothing, seal the state it was made against (best effort)."""
    if envelope is None or not envelope.checksum or not isinstance(ws.store, FileStateStore):
        return
    quiet = not (plan.has_changes or plan.errors or plan.slurm or plan.jobs is not None or plan.selection
                 or state.moved_now)
    inputs = inputs_digest(ws, public_key) if quiet and (plan.roll is None or not plan.roll.pools) else None
    if inputs is not None and envelope.state is state:  # the state as stored: what the seal vouches for
        ws.store.seal(envelope, inputs)


def empty_graph(ws: Workspace) -> ResourceGraph:
    return ResourceGraph(ws.cluster.name, ())


@functools.cache
def grid_build() -> str:
    """grid's version and the name, size and modification time of each of its files (the code that plans and
    the templates it digests): an edited checkout is another grid to a seal."""
    entries: list[str] = [__version__]
    for package in ("grid", "grid.templates"):
        root = Path(str(resources.files(package)))
        for directory, names, files in os.walk(root):
            names[:] = sorted(n for n in names if n != "__pycache__")
            for name in sorted(files):
                path = os.path.join(directory, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                entries.append(f"{os.path.relpath(path, root)}\0{st.st_size}\0{st.st_mtime_ns}")
    return _sha("\n".join(entries).encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
