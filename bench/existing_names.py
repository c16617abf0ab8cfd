"""+1 host on existing hosts, names in each host's /etc/hosts vs. through the region's name server (`names: dns`).

Per run and mode, on one unique cluster: 16 machines grid did not make (node containers started here, 1/4 CPU and
256 MB each as the lab's nodes; their own resolver is 127.0.0.1, where nothing answers: no query leaves them),
listed under `targets.existing.hosts` of one region; then
- bring-up: `grid up --yes --trust-new-hosts --skip-check` (pins the host keys, configures every host);
- +1 host: a 17th machine listed, `grid up` again — with `hosts_file` every host's /etc/hosts is rewritten, with
  `dns` the new host and the server's records only: the hosts configured and the seconds;
- `grid destroy` (grid forgets the hosts), and the machines removed by their label whatever happened.
The modes alternate run by run (the machine's minute affects both alike).

Prints JSON: seconds (min/median/max) per mode, hosts configured by the +1, the ratio of the two +1 times.

Usage:  python bench/existing_names.py [--runs 2] [--hosts 16]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from _lab import NODE_RESOURCES, REPO, grid, measured_run, spread
from grid.drivers.podman import Podman
from support.specs import lab_spec

IMAGE = os.environ.get("GRID_NODE_IMAGE_EXISTING", "localhost/grid-node:latest")
CONFIGURED = re.compile(r"(\d+) host\(s\) to configure")


def existing(hosts: int, names: str) -> Any:
    """A lab_spec edit: the lab's east region alone, on its mgmt fabric, `hosts` listed machines from .10 on."""

    def edit(data: dict[str, Any]) -> None:
        east = data["spec"]["regions"][0]
        mgmt = next(f for f in east["fabrics"] if f["name"] == "mgmt")
        net = ipaddress.IPv4Network(mgmt["cidr"])
        pool = east["pools"][0]
        pool.update(fabrics=["mgmt"], storage=[], count=hosts)
        pool.pop("resources", None)
        east.update(fabrics=[mgmt], storage=[])
        listed = [{"name": f"m{i:02d}", "address": str(net[10 + i]), "region": "east", "pool": pool["name"]}
                  for i in range(hosts)]
        data["spec"].update(target="existing", regions=[east], targets={"existing": {"hosts": listed}})
        data["spec"].setdefault("configuration", {})["names"] = names
        data["spec"].pop("links", None)

    return edit


def configured(output: str) -> int:
    found = CONFIGURED.search(output)
    return int(found.group(1)) if found else 0


def one_run(root: Path, hosts: int, names: str) -> dict[str, Any]:
    spec, name = lab_spec(root, edit=existing(hosts, names))
    secrets = spec.parent / ".grid" / name / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(secrets / "id_ed25519")], check=True)
    public = (secrets / "id_ed25519.pub").read_text().strip()
    data = yaml.safe_load(spec.read_text())
    cidr = data["spec"]["regions"][0]["fabrics"][0]["cidr"]
    net = ipaddress.IPv4Network(cidr)
    podman, machines = Podman(), f"{name}-machines"
    labels = {"grid.cluster": machines}
    with measured_run(name, names=names, hosts=hosts) as row:
        try:
            podman.network_create(machines, subnet=cidr, gateway=str(net[1]), labels=labels)
            for i in range(hosts + 1):
                podman.container_run(f"{name}-m{i:02d}", IMAGE, f"m{i:02d}", [(machines, str(net[10 + i]))],
                                     labels=labels, authorized_key=public, cpus=NODE_RESOURCES["cpus"],
                                     memory_mb=int(NODE_RESOURCES["memory_gb"] * 1024))
                podman.exec(f"{name}-m{i:02d}", ["sh", "-c", "echo 'nameserver 127.0.0.1' > /etc/resolv.conf"])
            up = grid("up", str(spec), "--yes", "--trust-new-hosts", "--skip-check")
            row["bringup"], row["bringup_configured"] = up.seconds, configured(up.output)
            listed = data["spec"]["targets"]["existing"]["hosts"]
            listed.append({**listed[0], "name": f"m{hosts:02d}", "address": str(net[10 + hosts])})
            data["spec"]["regions"][0]["pools"][0]["count"] = hosts + 1
            spec.write_text(yaml.safe_dump(data, sort_keys=False))
            grown = grid("up", str(spec), "--yes", "--trust-new-hosts", "--skip-check")
            row["plus_one"], row["plus_one_configured"] = grown.seconds, configured(grown.output)
        finally:
            grid("destroy", str(spec), "--yes")
            podman.remove_by_label("grid.cluster", machines)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--hosts", type=int, default=16)
    args = parser.parse_args()
    os.chdir(REPO)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="grid-bench-existing-names-") as tmp:
        for i in range(args.runs):
            for mode in (("dns", "hosts_file") if i % 2 == 0 else ("hosts_file", "dns")):
                rows.append(one_run(Path(tmp) / f"{mode}{i}", args.hosts, mode))
    by_mode = {mode: [r for r in rows if r["names"] == mode] for mode in ("dns", "hosts_file")}
    seconds = {mode: {"bringup": spread(r["bringup"] for r in mine), "plus_one": spread(r["plus_one"] for r in mine)}
               for mode, mine in by_mode.items()}
    print(json.dumps({
        "benchmark": "existing_names", "hosts": args.hosts, "cpus": os.cpu_count(), "runs": rows,
        "seconds": seconds,
        "plus_one_configured": {mode: sorted({r["plus_one_configured"] for r in mine})
                                for mode, mine in by_mode.items()},
        "ratios": {"plus_one_dns_vs_hosts_file": round(seconds["dns"]["plus_one"]["median"]
                                                       / seconds["hosts_file"]["plus_one"]["median"], 3)},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
