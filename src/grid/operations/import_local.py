"""`grid import --local CLUSTER`: a local cluster's state (and its Pulumi stacks) recovered from podman.

Order, so that a Ctrl-C or a failure leaves nothing half-written: read podman; build the spec (known or
recovered, to a temporary file), the state and each region's Pulumi deployment; import the deployments into
the backend's stacks; write the state (the commit); move the recovered spec into place. Stacks this run made
are removed again when it stops before the state is written.

The identity: the cluster's SSH key where grid looks for it (GRID_SSH_KEY_FILE, WORKDIR/secrets) is used as it
is. When it was lost with the work directory, a new key pair is made and given to the nodes in place of the one
they were created with (podman exec, the local target's own root on its containers: the only change import
makes to them), so grid can reach them again; the Pulumi passphrase is new with the new stacks.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.drivers.podman import Podman, PodmanError
from grid.drivers.pulumi import backend_url_for
from grid.errors import OperationFailed
from grid.identity import find_keypair, resolve_identity
from grid.importing.local import Adoption, adopt, adopted_state, allocation_state, pick_lineage
from grid.importing.local_deployment import stack_resources
from grid.importing.local_found import Found, find_cluster, node_facts
from grid.importing.local_spec import recover_spec
from grid.operations.importing import spec_beside
from grid.operations.migrate import admin_workspace
from grid.render.pulumi import project_name, region_program_input, stack_name
from grid.spec import spec_digest
from grid.spec.targets import traits_of
from grid.state import append_history, codec, history_entry
from grid.state.errors import StateError
from grid.state.model import State
from grid.workspace import Rejected, Workspace, graph_for, host_digests, open_workspace

COMMAND = "grid import --local"


@dataclass(frozen=True)
class LocalImportOptions:
    cluster: str
    out: Path | None = None  # where the recovered spec goes (without `spec`)
    spec: Path | None = None  # the spec the operator still has: adopt what matches it, write no spec
    workdir: Path | None = None
    state: str | None = None  # grid.state.open_store's location
    merge: bool = False


@dataclass(frozen=True)
class LocalImported:
    spec_path: Path  # the spec the state goes with (written by this import, or the known one)
    spec_written: bool
    state_where: str
    serial: int
    lineage: str
    adopted: tuple[str, ...]
    missing: tuple[str, ...]  # in the spec, not in podman: the next plan creates them
    problems: tuple[str, ...]  # objects not adopted, and why
    stacks: tuple[str, ...]  # Pulumi stacks written
    rekeyed: bool  # the nodes were given a new admin key (the old one was lost)


def import_local(options: LocalImportOptions) -> LocalImported:
    if (options.spec is None) == (options.out is None):
        raise OperationFailed("grid import --local needs exactly one of --spec (the cluster's spec, still at hand) "
                              "and --out (where to write a spec recovered from podman)",
                              "--spec cluster.yaml adopts what matches it; --out cluster.yaml writes a new spec")
    found = find_cluster(options.cluster)
    if found.empty():
        raise OperationFailed(f"podman has no container, network or volume labelled grid.cluster={options.cluster}",
                              "`podman ps -a --filter label=grid.cluster=NAME` lists a cluster's containers")
    temp: Path | None = None
    try:
        if options.spec is not None:
            spec_path = options.spec
        else:
            assert options.out is not None
            if options.out.exists():
                raise OperationFailed(f"{options.out} already exists: grid import never overwrites a spec",
                                      "choose another --out, or pass the spec you have with --spec")
            temp = spec_beside(options.out, recover_spec(found, node_facts(Podman(), found)))
            spec_path = temp
        result = _import(options, found, spec_path, options.out or spec_path)
        if temp is not None and options.out is not None:
            os.replace(temp, options.out)
            temp = None
        return result
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def _import(options: LocalImportOptions, found: Found, spec_path: Path, final_spec: Path) -> LocalImported:
    workdir = options.workdir or final_spec.absolute().parent / ".grid" / options.cluster
    opened = open_workspace(spec_path, workdir=workdir, state=options.state)
    if isinstance(opened, Rejected):
        errors = [d.summary for d in opened.diagnostics if d.severity == "error"][:3]
        raise OperationFailed(f"{final_spec} does not validate: " + "; ".join(errors),
                              f"grid validate {final_spec} lists every finding")
    ws = opened
    if ws.cluster.name != options.cluster:
        raise OperationFailed(f"{final_spec} is cluster '{ws.cluster.name}', not '{options.cluster}'",
                              "pass the spec of the cluster being imported")
    if traits_of(ws.cluster).imports_from != "podman":
        raise OperationFailed(f"{final_spec} is of target {ws.cluster.spec.target}: --local adopts a local cluster",
                              "use `grid import` with --inventory/--probe for hosts that are not podman containers")
    lineage, foreign = pick_lineage(found)
    graph = graph_for(ws, allocation_state(options.cluster, found))
    adoption = adopt(found, graph, lineage)
    if not adoption.ids:
        raise OperationFailed(f"nothing of {final_spec} exists in podman under lineage {lineage or '(none)'}",
                              "check the cluster name and that the spec is this cluster's")
    try:
        with ws.store.lock(COMMAND):
            current = ws.store.read()
            if current is not None and (current.state.resources or current.state.hosts) and not options.merge:
                raise OperationFailed(
                    f"cluster '{options.cluster}' already has a state in {ws.store.where} (serial "
                    f"{current.serial}): grid import never overwrites one",
                    "grid plan shows what it holds; pass --merge to add only what it does not have")
            if current is not None and current.lineage and current.lineage != lineage:
                raise OperationFailed(f"the state in {ws.store.where} is lineage {current.lineage}, the containers "
                                      f"are lineage {lineage}: they belong to different states",
                                      "import into another --workdir/--state")
            rekeyed, public_key = _identity(ws)
            state = _state(ws, found, graph, adoption, public_key)
            if current is not None:
                state = _merged(current.state, state)
            stacks, created = _import_stacks(ws, graph, adoption, state, lineage, public_key)
            try:
                if rekeyed:  # last before the commit: a run stopped earlier has changed nothing on the nodes
                    _rekey(ws, adoption, public_key)
                serial = _write(ws, state, lineage, current.serial if current is not None else 0)
            except BaseException:
                _remove_stacks(ws, created)
                raise
    except StateError as exc:
        raise OperationFailed(exc.message, exc.hint) from None
    stopped = tuple(f"{c.name} is {c.status}: its host key is read, and it gets the new admin key"
                    f"{' (the old one was lost)' if rekeyed else ''}, only once `grid up` starts it"
                    for c in adoption.containers.values() if c.status != "running")
    return LocalImported(final_spec, options.spec is None, ws.store.where, serial, lineage,
                         tuple(sorted(adoption.ids)), adoption.missing, (*foreign, *adoption.extra, *stopped),
                         stacks, rekeyed)


def _state(ws: Workspace, found: Found, graph: Any, adoption: Adoption, public_key: str) -> State:
    podman = Podman()
    keys: dict[str, str] = {}
    for address, container in adoption.containers.items():
        if container.status == "running":  # a stopped node's key is read when grid starts it again
            with contextlib.suppress(PodmanError):
                keys[address] = podman.host_public_key(container.name, timeout=10)
    digests = host_digests(ws, graph, public_key)
    return adopted_state(found.cluster, graph, adoption, host_keys=keys, digests=digests,
                         admin_public_key=public_key, spec_digest=spec_digest(ws.cluster),
                         applied_spec=ws.cluster.model_dump(mode="json"))


def _merged(base: State, found: State) -> State:
    """`base` with the adopted records it does not have (its own are kept as they are)."""
    return base.model_copy(update={
        "resources": {**found.resources, **base.resources}, "hosts": {**found.hosts, **base.hosts},
        "spec_digest": base.spec_digest or found.spec_digest, "applied_spec": base.applied_spec or found.applied_spec,
        "admin_public_key": base.admin_public_key or found.admin_public_key})


def _identity(ws: Workspace) -> tuple[bool, str]:
    """(whether the nodes must be given a new key, the admin public key the state records): the cluster's key
    where grid looks for it, else a new pair (made in WORKDIR/secrets, as for a new cluster)."""
    found = find_keypair(ws.workdir)
    identity = resolve_identity(ws.workdir, ws.cluster.name, State(cluster=ws.cluster.name))
    return found is None, identity.keypair.public_key.strip()


def _rekey(ws: Workspace, adoption: Adoption, new: str) -> None:
    """Give the running nodes the new admin key in place of grid's old one (podman exec, as root)."""
    podman = Podman()
    # grid's admin key is the line the node was created with, or one grid made for this cluster later (a key
    # rotated or given by an earlier import: its comment is `grid-CLUSTER`). Every authorized_keys grid
    # wrote holds it as one line: that line becomes the new key, the rest of the file stays as it is.
    script = ('for f in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do [ -f "$f" ] || continue; '
              'awk -v old="$1" -v new="$2" -v tag="$3" \'{ n = split($0, w, " "); '
              'if ($0 == old || (n >= 3 && w[n] == tag)) { if (!done) print new; done = 1 } else print }\' '
              '"$f" > "$f.grid" && { cmp -s "$f" "$f.grid" || cat "$f.grid" > "$f"; }; rm -f "$f.grid"; done')
    for container in adoption.containers.values():
        if container.status == "running":
            podman.exec(container.name, ["sh", "-c", script, "rekey", container.authorized_key.strip(), new,
                                         f"grid-{ws.cluster.name}"])


def _write(ws: Workspace, state: State, lineage: str, serial: int) -> int:
    """The state, as the lineage the objects carry: the local target's guard then takes them as this state's."""
    state = append_history(state, history_entry(serial + 1, COMMAND, spec_digest=state.spec_digest))
    if serial:
        return ws.store.write(state, serial).serial
    body, digest = codec.encode_state(state)
    raw = b"".join(codec.envelope_chunks(body, digest, serial=1, lineage=lineage or str(uuid.uuid4())))
    ws.store.import_envelope(raw)
    return 1


# -- Pulumi ----------------------------------------------------------------------------------------------

def _import_stacks(ws: Workspace, graph: Any, adoption: Adoption, state: State, lineage: str,
                   public_key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each region's stack holds what was adopted there. Returns (stacks written, stacks this run created)."""
    from pulumi import automation as auto
    from pulumi.dynamic.dynamic import serialize_provider

    from grid.drivers.pulumi_shards import SHARD_ABOVE_NODES
    # The providers the local program's resources carry, serialized as its run would (by name, as the Pulumi
    # driver loads stack programs: installed, `stacks/` is grid.stacks).
    module = importlib.import_module("grid.stacks.local_provider")
    providers = {kind: serialize_provider(getattr(module, name)()) for kind, name in (
        ("network", "NetworkProvider"), ("volume", "VolumeProvider"), ("node", "NodeProvider"))}
    identity = resolve_identity(ws.workdir, ws.cluster.name, state)
    backend = ws.store.pulumi_backend()
    url = backend_url_for(ws.workdir, backend.url)
    project = project_name(ws.cluster.name)
    owner = {"lineage": lineage, "state": ws.store.where}
    regions = sorted({address.split("/", 1)[0] for address in adoption.ids})
    written: list[str] = []
    created: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grid-import-") as tmp:
        workspace = admin_workspace(auto, url, backend.env, project, identity.passphrase_file, Path(tmp))
        existing = {s.name.rsplit("/", 1)[-1] for s in workspace.list_stacks()}
        try:
            for region in regions:
                data = region_program_input(ws.cluster, graph, region, authorized_key=public_key)
                data["owner"] = owner
                if len(data["nodes"]) > SHARD_ABOVE_NODES:
                    raise OperationFailed(f"region {region} has {len(data['nodes'])} nodes: its Pulumi stack would be "
                                          "split in shards, which grid import does not rebuild yet",
                                          "import a spec with fewer nodes per region")
                stack = stack_name(region)
                if stack not in existing:
                    workspace.create_stack(stack)
                    created.append(stack)
                base = workspace.export_stack(stack)
                body = dict(base.deployment or {})
                outputs = {a: state.resources[a].outputs for a in adoption.containers}
                body["resources"] = stack_resources(data, project=project, stack=stack, providers=providers,
                                                    provider_id=str(uuid.uuid4()), ids=adoption.ids,
                                                    node_outputs=outputs)
                body.pop("pending_operations", None)
                workspace.import_stack(stack, auto.Deployment(version=base.version or 3, deployment=body))
                written.append(stack)
        except auto.CommandError as exc:
            _remove_stacks(ws, tuple(created))
            raise OperationFailed("writing the Pulumi stacks failed: " + " ".join(str(exc).strip().splitlines()[-3:]),
                                  "nothing was recorded; fix the cause and run the import again") from None
        except BaseException:
            _remove_stacks(ws, tuple(created))
            raise
    return tuple(written), tuple(created)


def _remove_stacks(ws: Workspace, stacks: tuple[str, ...]) -> None:
    """Best effort: the stacks this run created, so a stopped import leaves the backend as it found it."""
    if not stacks:
        return
    from pulumi import automation as auto

    identity = resolve_identity(ws.workdir, ws.cluster.name, State(cluster=ws.cluster.name))
    backend = ws.store.pulumi_backend()
    with tempfile.TemporaryDirectory(prefix="grid-import-") as tmp:
        workspace = admin_workspace(auto, backend_url_for(ws.workdir, backend.url), backend.env,
                                    project_name(ws.cluster.name), identity.passphrase_file, Path(tmp))
        for stack in stacks:
            with contextlib.suppress(auto.CommandError):
                workspace.remove_stack(stack, force=True)
