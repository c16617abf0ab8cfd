"""`names: dns` on existing hosts, end to end: machines grid did not make (node containers started here) resolve
each other through the first host of the region, which forwards every other name to the resolver it had before
grid — here a cache of the host's own on 127.0.0.1 (a dnsmasq that knows one site name and nothing else: no query
leaves the machines), which keeps its port beside grid's server. The hosts search the site's domain: its short
names resolve before grid and after, the search list kept below grid's lines.

The mistakes and turns an operator meets: a server without dnsmasq (the run fails saying what to install, and
the next one converges once it is there), a host added (it and the server's records are all that is configured),
`grid drift` of the result (nothing), and leaving dns (each host's resolver is the one it had again).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grid.drivers.podman import Podman
from support.cli import grid
from support.paths import REPO
from support.specs import lab_spec
from targets.test_existing_hosts_e2e import IMAGE, as_existing

pytestmark = pytest.mark.e2e

GRID_RESOLV = ("# BEGIN grid cluster {name}\n# Managed by grid (cluster {name}): the name server of region east.\n"
               "nameserver {ip}\n# END grid cluster {name}\n")
OWN_RESOLV = "search site.test\noptions edns0 ndots:1\n"
"""The hosts' own search list and options: short names of the site resolve through it, before grid and after."""
SITE_NAME, SITE_ADDRESS = "files.site.test", "198.18.0.200"  # answered by gpu-a's own cache, never looked up
SITE_CACHE_PID = "/run/site-cache.pid"


def _asking_for_dns(data: dict[str, Any]) -> None:
    as_existing(data)
    data["spec"].setdefault("configuration", {})["names"] = "dns"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """The spec (2 hosts, names: dns), the cluster name, and the machines' network's CIDR; a third machine,
    gpu-c at .12, runs too, not yet in the spec. All of them go at the end."""
    spec, name = lab_spec(tmp_path, edit=_asking_for_dns)
    secrets = spec.parent / ".grid" / name / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"grid-{name}", "-f",
                    str(secrets / "id_ed25519")], check=True)
    public = (secrets / "id_ed25519.pub").read_text().strip()
    cidr = yaml.safe_load(spec.read_text())["spec"]["regions"][0]["fabrics"][0]["cidr"]
    net = ipaddress.IPv4Network(cidr)
    podman, network = Podman(), f"{name}-machines"
    labels = {"grid.cluster": f"{name}-machines"}
    try:
        podman.network_create(network, subnet=cidr, gateway=str(net[1]), labels=labels)
        for host, offset in (("gpu-a", 10), ("gpu-b", 11), ("gpu-c", 12)):
            podman.container_run(f"{name}-{host}", IMAGE, host, [(network, str(net[offset]))], labels=labels,
                                 authorized_key=public)
        # gpu-a's own resolver before grid: a cache on loopback that answers the site's names; every host searches
        # the site's domain (gpu-b's and gpu-c's loopback has no resolver: nothing is asked beyond the machines)
        _on(name, "gpu-a", f"dnsmasq --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts "
                           f"--host-record={SITE_NAME},{SITE_ADDRESS} --pid-file={SITE_CACHE_PID}")
        for host in ("gpu-a", "gpu-b", "gpu-c"):
            _on(name, host, f"printf '{OWN_RESOLV}nameserver 127.0.0.1\\n' > /etc/resolv.conf")
        yield spec, name, cidr
    finally:
        grid("destroy", str(spec), "--yes")
        podman.remove_by_label("grid.cluster", f"{name}-machines")


def _on(name: str, host: str, script: str) -> subprocess.CompletedProcess[str]:
    return Podman().exec(f"{name}-{host}", ["sh", "-c", script], check=False)


def _resolves(name: str, host: str, hostname: str) -> str:
    """The address `hostname` resolves to on `host` ("" when it does not), as a program there sees it."""
    return _on(name, host, f"getent hosts {hostname} | cut -d' ' -f1").stdout.strip()


def _up(spec: Path, *args: str) -> str:
    done = grid("up", str(spec), "--yes", "--trust-new-hosts", *args)
    assert done.code == 0, done.output
    return done.output


def test_existing_hosts_resolve_through_their_server_which_forwards_the_rest(site: tuple[Path, str, str]) -> None:
    spec, name, cidr = site
    net = ipaddress.IPv4Network(cidr)
    a, b, c = (str(net[i]) for i in (10, 11, 12))
    before = {host: _on(name, host, "cat /etc/resolv.conf").stdout for host in ("gpu-a", "gpu-b")}
    assert before["gpu-a"] == OWN_RESOLV + "nameserver 127.0.0.1\n"
    assert _resolves(name, "gpu-a", SITE_NAME) == SITE_ADDRESS
    assert _resolves(name, "gpu-a", SITE_NAME.split(".")[0]) == SITE_ADDRESS  # the short name, by the search list

    # 3 a.m.: the server has no dnsmasq. The run fails on it, saying what to install; nothing else is lost.
    _on(name, "gpu-a", "mv /usr/sbin/dnsmasq /usr/sbin/dnsmasq.away")
    failed = grid("up", str(spec), "--yes", "--trust-new-hosts")
    assert failed.code == 1, failed.output
    assert "dnsmasq is not installed" in failed.output and "dnsmasq-base" in failed.output
    _on(name, "gpu-a", "mv /usr/sbin/dnsmasq.away /usr/sbin/dnsmasq")
    _up(spec)

    assert _on(name, "gpu-b", "cat /etc/resolv.conf").stdout == GRID_RESOLV.format(name=name, ip=a) + OWN_RESOLV
    assert _resolves(name, "gpu-b", "gpu-a") == a and _resolves(name, "gpu-a", "gpu-b") == b
    assert "gpu-a" not in _on(name, "gpu-b", "cat /etc/hosts").stdout  # by the server, not the hosts file
    # a name outside the cluster: asked of the server, answered by the resolver the server had before grid
    assert _resolves(name, "gpu-b", SITE_NAME) == SITE_ADDRESS
    assert _resolves(name, "gpu-b", SITE_NAME.split(".")[0]) == SITE_ADDRESS  # the host's search list still works
    assert _on(name, "gpu-a", "cat /etc/grid/resolv.conf.podman").stdout == before["gpu-a"]
    # grid's server answers on a's address alone: the host's cache keeps 127.0.0.1:53
    listening = _on(name, "gpu-a", "ss -Hlun 'sport = :53' | awk '{print $4}' | sort").stdout.split()
    assert listening == ["127.0.0.1:53", f"{a}:53"], listening
    assert grid("drift", str(spec), "--detailed-exitcode").code == 0
    # the owner's search list is theirs: an edit to it is no drift; grid's own line edited is
    _on(name, "gpu-b", "sed 's/^search site.test$/search site.test lab.test/' /etc/resolv.conf > /tmp/r "
                       "&& cat /tmp/r > /etc/resolv.conf")
    assert grid("drift", str(spec), "--detailed-exitcode").code == 0
    _on(name, "gpu-b", f"sed 's/^nameserver {a}$/nameserver 127.0.0.1/' /etc/resolv.conf > /tmp/r "
                       "&& cat /tmp/r > /etc/resolv.conf")
    tampered = grid("drift", str(spec), "--detailed-exitcode")
    assert tampered.code == 2 and "Resolve names through" in tampered.output, tampered.output
    _up(spec)  # repaired: grid's block back, the owner's search list as they left it
    assert _on(name, "gpu-b", "cat /etc/resolv.conf").stdout == GRID_RESOLV.format(name=name, ip=a) + (
        OWN_RESOLV.replace("site.test", "site.test lab.test"))

    # +1 host: it, and the server's records, are all that is configured
    data = yaml.safe_load(spec.read_text())
    hosts = data["spec"]["targets"]["existing"]["hosts"]
    hosts.append({**hosts[1], "name": "gpu-c", "address": c})
    data["spec"]["regions"][0]["pools"][0]["count"] = 3
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    planned = grid("plan", str(spec), "--json")
    assert planned.code in (0, 2), planned.output
    configured = {h["address"] for h in json.loads(planned.stdout)["configuration"]}
    assert configured == {"east/train/node-0000", "east/train/node-0002"}, configured
    _up(spec)
    assert _resolves(name, "gpu-c", "gpu-b") == b and _resolves(name, "gpu-b", "gpu-c") == c
    assert grid("drift", str(spec), "--detailed-exitcode").code == 0

    # leaving dns: every host resolves as it did before grid (its search list as it is now), and the whole table
    # is in /etc/hosts
    data["spec"]["configuration"]["names"] = "hosts_file"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    _up(spec)
    for host in ("gpu-a", "gpu-b", "gpu-c"):
        assert "Managed by grid" not in _on(name, host, "cat /etc/resolv.conf").stdout
    assert _on(name, "gpu-a", "cat /etc/resolv.conf").stdout == before["gpu-a"]
    assert _on(name, "gpu-b", "cat /etc/resolv.conf").stdout == before["gpu-b"].replace(  # with the owner's edit
        "search site.test\n", "search site.test lab.test\n")
    assert _on(name, "gpu-a", "test -e /run/grid-dnsmasq.pid").returncode != 0  # grid's server is gone ...
    assert _on(name, "gpu-a", "pgrep -x dnsmasq").stdout.split() == [  # ... and the host's own cache still runs
        _on(name, "gpu-a", f"cat {SITE_CACHE_PID}").stdout.strip()]
    assert _resolves(name, "gpu-a", SITE_NAME) == SITE_ADDRESS
    assert _resolves(name, "gpu-b", "gpu-c") == c  # now from /etc/hosts
    assert grid("drift", str(spec), "--detailed-exitcode").code == 0


def test_a_resolv_conf_that_is_a_link_is_refused_and_left_as_it_was() -> None:
    """systemd-resolved's /etc/resolv.conf is a link: grid's task says so and writes nothing through it. Its script
    run as Ansible runs it, in a node container without a network (podman then leaves resolv.conf to the image)."""
    task = yaml.safe_load((REPO / "templates/ansible/roles/base/tasks/names.yml").read_text())[0]
    script = task["grid_command"]["argv"][2]
    setup = ("mkdir -p /run/systemd/resolve && echo 'nameserver 127.0.0.53' > /run/systemd/resolve/stub-resolv.conf"
             " && ln -sf /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf")
    check = "; echo rc=$?; cat /run/systemd/resolve/stub-resolv.conf"
    ran = subprocess.run(
        ["podman", "run", "--rm", "--network", "none", "--entrypoint", "sh", IMAGE, "-c",
         f'{setup} && sh -c "$0" grid-names /etc/grid/resolv.conf.podman /etc/grid/resolv.conf'
         f' "# Managed by grid (cluster x): the name server of region east.\nnameserver 198.18.0.10" write x{check}',
         script], capture_output=True, text=True, timeout=120, check=False)
    assert "rc=1" in ran.stdout, ran
    assert "is a link to /run/systemd/resolve/stub-resolv.conf" in ran.stderr and "hosts_file" in ran.stderr
    assert "nameserver 127.0.0.53" in ran.stdout and "Managed by grid" not in ran.stdout
