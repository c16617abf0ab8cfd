"""The digest probe's cost and its reading of files: one of each command a host (not one or three a file), the
parts of files grid owns cut out exactly as `sed` and `grep` cut them, and nothing that can make it hang."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from grid.drift_digest import Expected, differing, expected_digests, hosts_block_text, parse_probe, probe_script
from grid.render.ansible import collect_inputs
from grid.render.leftovers import NO_LEFTOVERS
from grid.resources import expand
from grid.spec import load_spec_text

REPO = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4q0rBRXC7SP2d5dq0bP4lMdc6V9EmXTaYVnsK2N2Ah grid@test"
COMMANDS = ("getent", "ip", "stat", "sha256sum", "cat", "cut", "sed", "grep", "awk", "tr", "nft", "python3")
ME = pwd.getpwuid(os.getuid()).pw_name
SH = shutil.which("sh") or "/bin/sh"  # the wrappers' PATH has no sh

pytestmark = pytest.mark.skipif(not shutil.which("sha256sum") or not shutil.which("getent"), reason="coreutils")


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def lab_host(users: int) -> Expected:
    """A host of examples/local-lab with `users` accounts of the spec's besides the admin."""
    data = yaml.safe_load((REPO / "examples/local-lab/cluster.yaml").read_text())
    data["spec"].setdefault("configuration", {})["users"] = [
        {"name": f"user{i}", "authorized_keys": [KEY], "sudo": i == 0} for i in range(users)]
    loaded = load_spec_text(yaml.safe_dump(data), "t.yaml")
    assert loaded.cluster is not None, [d.summary for d in loaded.diagnostics]
    cluster = loaded.cluster
    expected = expected_digests(collect_inputs(cluster, expand(cluster), KEY, None), NO_LEFTOVERS)
    host = next(iter(expected.values()))
    assert host is not None
    return host


def logging_path(tmp_path: Path, root_home: Path | None = None) -> tuple[str, Path]:
    """A PATH of wrappers that log each command started and run the real one (`getent passwd root`: a home in
    tmp_path, root's own keys untouched)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "commands.log"
    bin_dir.mkdir()
    for name in COMMANDS:
        real = shutil.which(name)
        run = f'exec {real} "$@"' if real else "exit 127"
        if name == "getent" and root_home is not None:
            run = (f'{real} "$@" | grep -v "^root:"; for u; do [ "$u" = root ] && '
                   f'echo "root:x:0:0:root:{root_home}:/bin/sh"; done; exit 0')
        wrapper = bin_dir / name
        wrapper.write_text(f"#!/bin/sh\necho {name} >> {log}\n{run}\n")
        wrapper.chmod(0o755)
    return str(bin_dir), log


def run_probe(expected: Expected, path: str | None = None, address: str = "198.18.0.1") -> dict[str, str]:
    env = {**os.environ, "PATH": path} if path else None
    out = subprocess.run([SH, "-c", probe_script(expected), "probe", address], capture_output=True, text=True,
                         check=True, timeout=20, stdin=subprocess.PIPE, env=env).stdout  # stdin never closed
    return parse_probe(out)


@pytest.mark.parametrize("users", [0, 12])
def test_a_lab_hosts_probe_starts_one_of_each_command_however_many_files_and_accounts(
        tmp_path: Path, users: int) -> None:
    host = lab_host(users)
    path, log = logging_path(tmp_path)
    found = run_probe(host, path)
    # every key has its line (an account missing here has no ~/.ssh lines: `account:NAME missing` says it)
    assert set(found) >= {k for k in host.digests if not k.startswith(("sshdir:", "keys:"))}
    assert sorted(log.read_text().split()) == ["getent", "ip", "sha256sum", "stat"]


HOSTS = {
    "the block between others' lines": "127.0.0.1 localhost\n{block}10.1.1.1 other\n",
    "another cluster's block first": "# BEGIN grid cluster c2\n1.1.1.1 x\n# END grid cluster c2\n{block}",
    "no block": "127.0.0.1 localhost\n",
    "no end marker": "127.0.0.1 localhost\n# BEGIN grid cluster c1\n198.19.96.2\th1\n10.0.0.1 hand\n",
    "the block twice": "{block}# BEGIN grid cluster c1\n1.2.3.4 h9\n# END grid cluster c1\n",
    "tabs, spaces and backslashes": "  1.1.1.1\t a\\b \n{block}\t\n\n",
    "an empty block": "# BEGIN grid cluster c1\n# END grid cluster c1\n",
    "no newline at the end": "{block}# BEGIN grid cluster c1\n1.1.1.1 h",
}


@pytest.mark.parametrize("case", HOSTS)
def test_the_hosts_block_is_cut_out_as_sed_cuts_it(tmp_path: Path, case: str) -> None:
    hosts = tmp_path / "hosts"
    block = hosts_block_text("c1", [{"ip": "198.19.96.2", "hostname": "h1"}])
    hosts.write_text(HOSTS[case].format(block=block))
    cut = subprocess.run(["sed", "-n", "/^# BEGIN grid cluster c1$/,/^# END grid cluster c1$/p", str(hosts)],
                         capture_output=True, check=True).stdout
    expected = Expected("h1", "c1", "127.0.0.1", {f"block:{hosts}": sha(cut)})
    if case == "no newline at the end":  # sed keeps the missing newline, the probe adds it: a false difference
        assert differing(expected, run_probe(expected)) == (f"block:{hosts}",)  # costs check mode, never a report
    else:
        assert differing(expected, run_probe(expected)) == ()
    if case == "the block between others' lines":
        assert run_probe(expected)[f"block:{hosts}"] == sha(block)


def test_roots_grid_key_lines_are_those_grep_finds(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    keys = tmp_path / ".ssh/authorized_keys"
    keys.write_text(f"ssh-ed25519 AAAA1 grid-c1\nssh-ed25519 AAAA2 grid-c10\n{KEY}\nssh-rsa B grid-c1\n")
    grepped = subprocess.run(["grep", "-e", " grid-c1$", str(keys)], capture_output=True, check=True).stdout
    path, _ = logging_path(tmp_path, root_home=tmp_path)
    expected = Expected("h1", "c1", "127.0.0.1", {"rootkey:grid-c1": sha(grepped), "rootkey:grid-c9": sha("")})
    assert differing(expected, run_probe(expected, path)) == ()
    keys.unlink()  # no keys at all: no grid line either, as grep finds none
    assert run_probe(expected, path)["rootkey:grid-c1"] == sha("")


def test_the_rules_file_has_grids_address_as_sed_replaced_it(tmp_path: Path) -> None:
    rules = tmp_path / "nft"
    text = ("table inet grid {{\n    # SSH: from grid's own address and access.admin_cidrs only\n"
            "    ip saddr {} tcp dport 22 accept\n    ip saddr 198.18.0.1 tcp dport 22 accept\n}}\n")
    rules.write_text(text.format("198.18.0.1"))
    rules.chmod(0o644)
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    expected = Expected("h1", "c1", "127.0.0.1", {
        f"nftfile:{rules}": f"{sha(text.format('@GRID-CONTROLLER@'))} 644 {ME} {group}"})
    assert differing(expected, run_probe(expected, address="198.18.0.1")) == ()
    # 198.18.0.10 is not 198.18.0.1 (sed had the dots escaped); 198.18.0 only a prefix of it
    assert differing(expected, run_probe(expected, address="198.18.0.10")) == (f"nftfile:{rules}",)
    assert differing(expected, run_probe(expected, address="198.18.0")) == (f"nftfile:{rules}",)


def test_links_fifos_and_directories_where_files_belong(tmp_path: Path) -> None:
    """A FIFO would block a reader: the probe must not read it (nor the SSH session's stdin), and say it is not
    grid's file; a link is never grid's file, but a file's contents are read through one, as before."""
    fifo, real, link, dirlink = (tmp_path / n for n in ("fifo", "real", "link", "dirlink"))
    os.mkfifo(fifo)
    real.write_text("x\n")
    link.symlink_to(real)
    (tmp_path / "d").mkdir()
    (tmp_path / "d").chmod(0o1777)
    dirlink.symlink_to(tmp_path / "d")
    expected = Expected("h1", "c1", "127.0.0.1", {
        f"file:{fifo}": "?", f"content:{fifo}": "?", f"attrs:{fifo}": "?", f"file:{link}": "?",
        f"content:{link}": "?", f"attrs:{link}": "?", f"dir:{dirlink}": "?", f"isdir:{tmp_path / 'nothing'}": "?"})
    found = run_probe(expected)
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    assert found == {
        f"file:{fifo}": "missing", f"content:{fifo}": "missing", f"attrs:{fifo}": f"other 644 {ME} {group}",
        f"file:{link}": "missing", f"content:{link}": sha("x\n"), f"attrs:{link}": "missing",
        f"dir:{dirlink}": "dir 1777", f"isdir:{tmp_path / 'nothing'}": "missing"}
    assert stat.S_ISFIFO(fifo.stat().st_mode)
