"""Bring-up and no-op of a 16-node lab (2 regions x 8 nodes, 1/4 CPU and 256 MB each) against naive runs.

The naive baseline is what an operator without grid writes with the naive tools, not grid's own rendered
playbook (which grid made faster: its action plugins, 8 tasks a node): `pulumi up` per stack of grid's rendered
programs, then bench/naive/site.yml, a fixed playbook of Ansible's builtin modules only (file, hostname,
blockinfile, user, copy/template, lineinfile, shell for the MTU and the write probe, stat/assert, command for
the name server; 24 tasks and loops, handlers for sysctl -p and dnsmasq's reload) over the inventory grid
renders, with Ansible's defaults (an empty ansible.cfg: facts gathered, linear, 5 forks, no pipelining).
It configures the same things on the same nodes: after either bring-up every node's managed files (digest,
mode, owner), accounts, MTUs and name server are read through podman, and the run's `naive_vs_grid_nodes`
lists what differs (empty when both left the same nodes).

Per run, on one unique cluster (name and subnets of its own):

- naive bring-up: the region stacks one after another, each `up` in its own process (grid's stack
  engine, AutomationEngine.up, as `pulumi up` per stack would run them), with a fresh Pulumi backend;
  then `ansible-playbook -i <rendered>/inventory/hosts.yml bench/naive/site.yml` with grid's pinned
  known_hosts + private key (ANSIBLE_STRATEGY=linear, ANSIBLE_FORKS=5, ANSIBLE_PIPELINING=False). Then destroyed.
- `grid up --yes --skip-check -v` from nothing (no acceptance checks: the naive run has none either), with
  its phases read from the progress lines' timestamps (up_phases below): render done, each region's
  infrastructure done, the first and last node made, the first configuration task, configuration done.
- no-op: `grid up --yes --skip-check` again on the converged cluster.
- naive re-run on the converged cluster: Pulumi up per stack in sequence (grid's backend) + the naive
  playbook again, as above.
- `grid destroy`; whatever might be left is removed by the cluster's podman label (try/finally).

The order of the two bring-ups alternates between runs. Prints JSON: seconds (min/median/max), ratios
(of medians, and per run), and whether issue 20's targets are met: bring-up ≤ 0.2x naive, no-op ≤ 5 s and
≤ 0.1x the naive re-run.

Usage:  python bench/bringup.py [--runs 3] [--keep-going]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _lab import REPO, grid, measured_lab, remove_cluster, run, spread

NAIVE = Path(__file__).resolve().parent / "naive"  # the operator's playbook (module docstring)
TARGET_BRINGUP_RATIO = 0.2
TARGET_NOOP_SECONDS = 5.0
TARGET_NOOP_RATIO = 0.1


def _workspace(spec: Path, workdir: Path) -> Any:
    from grid.workspace import Workspace, open_workspace

    opened = open_workspace(spec, workdir=workdir)
    assert isinstance(opened, Workspace), opened
    return opened


def render_once(spec: Path, workdir: Path) -> Path:
    """The cluster's key pair and the rendered files grid up will write too (same key, same spec)."""
    from grid.apply.run import ensure_identity
    from grid.render import render_cluster, write_tree
    from grid.resources import expand

    ws = _workspace(spec, workdir)
    keys = ensure_identity(ws, ws.read_state()[1]).keypair
    write_tree(render_cluster(ws.cluster, expand(ws.cluster), admin_public_key=keys.public_key), ws.rendered_dir)
    return ws.rendered_dir


class Naive:
    """The naive tools on grid's rendered files: a stack engine per region in sequence, ansible-playbook."""

    def __init__(self, spec: Path, workdir: Path, *, backend: Path | None) -> None:
        from grid.drivers.pulumi import ProcessStackEngine
        from grid.drivers.ssh import ensure_passphrase
        from grid.render.pulumi import project_name

        self.ws = _workspace(spec, workdir)
        self.rendered = self.ws.rendered_dir
        self.regions = sorted(p.name for p in (self.rendered / "pulumi").iterdir() if p.is_dir())
        engine_dir = workdir if backend is None else backend.parent
        self.engine = ProcessStackEngine(
            project=project_name(self.ws.cluster.name), target=self.ws.cluster.spec.target, workdir=engine_dir,
            passphrase_file=ensure_passphrase(workdir),
            backend_url=f"file://{backend}" if backend is not None else None)

    def data(self, region: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.rendered / "pulumi" / region / "resources.json").read_text())
        return loaded

    def pulumi_up(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for region in self.regions:  # one stack after the other, as `pulumi up` per stack
            outputs.update(self.engine.up(region, self.data(region)).outputs.get("nodes", {}))
        return outputs

    def pulumi_destroy(self) -> None:
        for region in self.regions:
            self.engine.destroy(region, self.data(region))

    def ansible_playbook(self, known_hosts: Path) -> float:
        from grid.drivers.ssh import existing_keypair

        keys = existing_keypair(self.ws.workdir)
        assert keys is not None
        inventory = self.rendered / "ansible" / "inventory" / "hosts.yml"  # grid's, with its group_vars
        env = {
            "ANSIBLE_CONFIG": str(NAIVE / "ansible.cfg"),  # empty: Ansible's defaults, no user's config
            "ANSIBLE_STRATEGY": "linear", "ANSIBLE_FORKS": "5", "ANSIBLE_PIPELINING": "False",
            "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_PRIVATE_KEY_FILE": str(keys.private_path.resolve()),
            "ANSIBLE_SSH_COMMON_ARGS": f"-o UserKnownHostsFile={known_hosts.resolve()} "
                                       "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes",
            "ANSIBLE_NOCOLOR": "1",
        }
        playbook = str(Path(sys.executable).parent / "ansible-playbook")
        return run([playbook, "-i", str(inventory), "site.yml"], cwd=NAIVE, env=env).seconds


def known_hosts_from(outputs: dict[str, Any], ws: Any, path: Path) -> Path:
    """Pinned host keys of the nodes, from the stacks' outputs (as grid pins them)."""
    from grid.drivers.ssh import write_known_hosts
    from grid.resources import Kind, expand

    entries = []
    for node in expand(ws.cluster).of_kind(Kind.NODE):
        key = (outputs.get(node.address) or {}).get("host_key")
        if key:
            entries.append(([str(node.attrs["hostname"]), *sorted(node.attrs["fabrics"].values())], str(key)))
    write_known_hosts(path, entries)
    return path


# What both bring-ups must leave on every node: each managed file's digest, mode and owner, the accounts, the
# MTUs, a running name server on the regions' servers. Read through podman, outside the timings.
_SNAPSHOT = (
    'for f in /etc/hosts /etc/resolv.conf /etc/grid/resolv.conf /etc/grid/resolv.conf.podman /etc/grid/node.json '
    '/etc/grid/managed-users /etc/sysctl.d/90-grid.conf /etc/sudoers.d/grid-admin /etc/sudoers.d/grid-users '
    '/root/.ssh/authorized_keys /home/gridadmin /home/gridadmin/.ssh /home/gridadmin/.ssh/authorized_keys '
    '/etc/grid/dnsmasq.conf /etc/grid/hosts.d/*; do '
    '  if [ -f "$f" ]; then echo "$f $(sha256sum < "$f" | cut -c1-16) $(stat -c "%a %U:%G" "$f")"; '
    '  elif [ -d "$f" ]; then echo "$f dir $(stat -c "%a %U:%G" "$f")"; else echo "$f missing"; fi; done; '
    'echo "passwd $(getent passwd gridadmin | cut -d: -f6,7) $(getent shadow gridadmin | cut -d: -f2)"; '
    # by address, not interface name: podman may attach a node's networks in another order (eth0/eth1 swap)
    'for d in /sys/class/net/*; do echo "mtu $(ip -o -4 addr show dev "${d##*/}" | awk \'{print $4}\' | tr "\\n" " ")'
    '$(cat "$d/mtu")"; done; '
    'p=$(cat /run/grid-dnsmasq.pid 2>/dev/null) && echo "dnsmasq $(cat /proc/$p/comm 2>/dev/null)"; true')


def node_snapshot(cluster: str) -> dict[str, list[str]]:
    """Per node (its hostname), what _SNAPSHOT prints: the managed files as the node holds them."""
    import subprocess

    names = subprocess.run(["podman", "ps", "--filter", f"label=grid.cluster={cluster}", "--format", "{{.Names}}"],
                           capture_output=True, text=True, check=True).stdout.split()
    out: dict[str, list[str]] = {}
    for name in names:
        done = subprocess.run(["podman", "exec", name, "sh", "-c", f"hostname; {_SNAPSHOT}"], capture_output=True,
                              text=True, check=True).stdout.splitlines()
        out[done[0]] = done[1:]
    return out


def snapshot_differences(naive: dict[str, list[str]], grid_made: dict[str, list[str]]) -> list[str]:
    """What a node held after one bring-up and not after the other ('naive:' / 'grid:' lines)."""
    said: list[str] = []
    for host in sorted(set(naive) | set(grid_made)):
        a, b = set(naive.get(host, ["(no node)"])), set(grid_made.get(host, ["(no node)"]))
        said += [f"{host} naive: {line}" for line in sorted(a - b)] + [f"{host} grid: {line}" for line in sorted(b - a)]
    return said


def naive_bringup(spec: Path, workdir: Path, row: dict[str, Any]) -> dict[str, float]:
    import time

    naive = Naive(spec, workdir, backend=workdir / "naive" / "backend")
    started = time.perf_counter()
    outputs = naive.pulumi_up()
    pulumi_s = time.perf_counter() - started
    ansible_s = naive.ansible_playbook(known_hosts_from(outputs, naive.ws, workdir / "naive" / "known_hosts"))
    row["_naive_nodes"] = node_snapshot(naive.ws.cluster.name)
    naive.pulumi_destroy()
    shutil.rmtree(workdir / "naive", ignore_errors=True)
    return {"total": pulumi_s + ansible_s, "pulumi": pulumi_s, "ansible": ansible_s}


def naive_rerun(spec: Path, workdir: Path) -> dict[str, float]:
    """Pulumi up per stack (grid's own backend: the stacks exist) and the whole playbook again."""
    import time

    naive = Naive(spec, workdir, backend=None)
    started = time.perf_counter()
    naive.pulumi_up()
    pulumi_s = time.perf_counter() - started
    ansible_s = naive.ansible_playbook(workdir / "known_hosts")
    return {"total": pulumi_s + ansible_s, "pulumi": pulumi_s, "ansible": ansible_s}


_LINE = re.compile(r"^\s*(?P<t>\d+\.\d)s (?P<icon>.) (?P<stage>\w+)(?: (?P<who>[^:]+))?(?:: (?P<msg>.*))?$")


def up_phases(output: str) -> dict[str, float]:
    """Seconds from the start of the apply at which each phase of a `grid up -v` ended (its progress lines)."""
    marks: dict[str, float] = {}
    for line in output.splitlines():
        if not (found := _LINE.match(line)):
            continue
        at, icon, stage, who, msg = (float(found["t"]), found["icon"], found["stage"], found["who"] or "",
                                     found["msg"] or "")
        if stage == "render" and icon == "✓":
            marks["render"] = at
        elif stage == "infrastructure" and icon == "✓" and "/" not in who:
            marks[f"infrastructure_{who}"] = at
        elif stage == "configuration" and msg.endswith("Node made by grid: ok"):
            marks.setdefault("first_node_made", at)
            marks["last_node_made"] = at
        elif stage == "configuration" and icon == " " and msg.endswith(": start") and "Node made" not in msg:
            marks.setdefault("first_task", at)
        elif stage == "configuration" and icon == "✓":
            marks["configured"] = at
    return marks


def grid_up(spec: Path, workdir: Path, row: dict[str, Any]) -> None:
    done = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check", "-v")
    row["grid_up"] = done.seconds
    row["grid_up_phases"] = up_phases(done.output)
    row["_grid_nodes"] = node_snapshot(spec_name(spec))


def spec_name(spec: Path) -> str:
    import yaml

    return str(yaml.safe_load(spec.read_text())["metadata"]["name"])


def one_run(index: int, root: Path) -> dict[str, Any]:
    with measured_lab(root / f"run{index}", 8) as (spec, name, row):
        workdir = spec.parent / "work"
        render_once(spec, workdir)
        grid_first = index % 2 == 1
        if grid_first:
            grid_up(spec, workdir, row)
        else:
            row["naive_bringup"] = naive_bringup(spec, workdir, row)
            remove_cluster(name)  # nothing should be left; make sure grid starts from nothing too
            grid_up(spec, workdir, row)
        noop = grid("up", str(spec), "--workdir", str(workdir), "--yes", "--skip-check")
        if "No changes" not in noop.output:
            raise RuntimeError(f"grid up on the converged cluster was not a no-op:\n{noop.output[-3000:]}")
        row["grid_noop"] = noop.seconds
        row["naive_rerun"] = naive_rerun(spec, workdir)
        grid("destroy", str(spec), "--workdir", str(workdir), "--yes")
        if grid_first:
            remove_cluster(name)
            row["naive_bringup"] = naive_bringup(spec, workdir, row)
        # Both bring-ups left the same files on the nodes (else the naive run is not the same work)
        row["naive_vs_grid_nodes"] = snapshot_differences(row.pop("_naive_nodes"), row.pop("_grid_nodes"))
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    naive = spread(r["naive_bringup"]["total"] for r in rows)
    up = spread(r["grid_up"] for r in rows)
    noop = spread(r["grid_noop"] for r in rows)
    rerun = spread(r["naive_rerun"]["total"] for r in rows)
    bring_ratio = up["median"] / naive["median"]
    noop_ratio = noop["median"] / rerun["median"]
    return {
        "seconds": {
            "grid_up": up, "naive_bringup": naive,
            "naive_bringup_pulumi": spread(r["naive_bringup"]["pulumi"] for r in rows),
            "naive_bringup_ansible": spread(r["naive_bringup"]["ansible"] for r in rows),
            "grid_up_phases": {phase: spread(r["grid_up_phases"][phase] for r in rows)
                               for phase in rows[0].get("grid_up_phases", {})
                               if all(phase in r.get("grid_up_phases", {}) for r in rows)},
            "grid_noop": noop, "naive_rerun": rerun,
            "naive_rerun_pulumi": spread(r["naive_rerun"]["pulumi"] for r in rows),
            "naive_rerun_ansible": spread(r["naive_rerun"]["ansible"] for r in rows),
        },
        "ratios": {
            "bringup_vs_naive": round(bring_ratio, 3),
            "bringup_vs_naive_per_run": [round(r["grid_up"] / r["naive_bringup"]["total"], 3) for r in rows],
            "noop_vs_naive_rerun": round(noop_ratio, 3),
            "noop_vs_naive_rerun_per_run": [round(r["grid_noop"] / r["naive_rerun"]["total"], 3) for r in rows],
        },
        "targets": {
            "bringup_ratio": {"target": TARGET_BRINGUP_RATIO, "value": round(bring_ratio, 3),
                              "met": bring_ratio <= TARGET_BRINGUP_RATIO},
            "noop_seconds": {"target": TARGET_NOOP_SECONDS, "value": noop["median"],
                             "met": noop["median"] <= TARGET_NOOP_SECONDS},
            "noop_ratio": {"target": TARGET_NOOP_RATIO, "value": round(noop_ratio, 3),
                           "met": noop_ratio <= TARGET_NOOP_RATIO},
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep-going", action="store_true", help="a failed run is reported, not fatal")
    args = parser.parse_args()
    os.chdir(REPO)
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grid-bench-bringup-") as tmp:
        for index in range(args.runs):
            try:
                rows.append(one_run(index, Path(tmp)))
            except Exception as exc:  # a failed run is reported, then re-raised unless --keep-going
                errors.append(f"run {index}: {exc}")
                if not args.keep_going:
                    raise
    document: dict[str, Any] = {"benchmark": "bringup", "nodes": 16, "regions": 2, "cpus": os.cpu_count(),
                                "runs": rows, "errors": errors}
    if rows:
        document.update(summary(rows))
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
