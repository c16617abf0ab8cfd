"""The authorized_keys action (action_plugins/grid_authorized_keys.py): the files it wants, what it makes of a
node's report, and its two shell commands run here against homes in a temp dir (a fake `getent` on PATH
maps the accounts there), so the node's side is tested without a node."""

from __future__ import annotations

import base64
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[2] / "templates" / "ansible" / "action_plugins"
ADMIN = "ssh-ed25519 AAAAadmin grid-lab"
OLD_ADMIN = "ssh-ed25519 AAAAold grid-lab"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the write command chowns files to another account")


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grid_authorized_keys", PLUGINS / "grid_authorized_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up, as when Ansible loads it
    spec.loader.exec_module(module)
    return module


plugin = _plugin()


def test_an_account_file_is_the_spec_keys_and_the_connect_key_once() -> None:
    header = "# Managed by grid (cluster lab): keys not in the spec are removed.\n"
    assert plugin.account_keys("lab", ["k1", "k2"], "") == (header + "k1\nk2\n").encode()
    assert plugin.account_keys("lab", ["k1"], ADMIN) == (header + f"k1\n{ADMIN}\n").encode()
    assert plugin.account_keys("lab", [ADMIN], ADMIN) == (header + f"{ADMIN}\n").encode()


@pytest.mark.parametrize(("original", "expected"), [
    ("", f"{ADMIN}\n"),
    ("image-key root@image", f"image-key root@image\n{ADMIN}\n"),
    (f"a\n{OLD_ADMIN}\nb\n", f"a\n{ADMIN}\nb\n"),  # rotated: replaced in place, never added to
    (f"{OLD_ADMIN}\r\nb\n{ADMIN}\n", f"{ADMIN}\nb\n"),  # duplicates of grid's line dropped
    (f"{ADMIN}\n", f"{ADMIN}\n"),
    ("key of grid-labs\nkey grid-lab-2\n", f"key of grid-labs\nkey grid-lab-2\n{ADMIN}\n"),  # other clusters' lines
])
def test_root_keeps_its_other_keys_and_one_grid_line(original: str, expected: str) -> None:
    assert plugin.with_grid_line(original.encode(), ADMIN, "grid-lab").decode() == expected


def test_the_report_is_parsed_with_terminal_line_ends() -> None:
    content = base64.b64encode(b"k1\nk2\n").decode()
    stdout = (f"@ alice dir 700 alice file 600 alice read /home/my alice\r\n{content[:8]}\r\n{content[8:]}\r\n"
              "@ bob missing - - missing - - - -\r\n@ carol dir 755 carol link - - - /home/carol\n")
    found = plugin.parse_report(stdout)
    assert found["alice"].home == "/home/my alice" and found["alice"].content == b"k1\nk2\n"
    assert found["alice"].in_shape(b"k1\nk2\n") and not found["alice"].in_shape(b"k1\n")
    assert found["bob"].home is None and not found["bob"].in_shape(b"")
    assert found["carol"].content is None and not found["carol"].in_shape(b"")
    assert not plugin.Found("root", "/root", "dir", ("755", "root"), "file", ("600", "root"), b"x").in_shape(b"x")


def _node(tmp_path: Path, accounts: list[str]) -> dict[str, str]:
    """A fake getent on PATH that puts `accounts` in homes under tmp_path; the environment to run with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    lines = "\n".join(f"{name}) echo '{name}:x:0:0::{tmp_path}/home/{name}:/bin/sh' ;;" for name in accounts)
    (bin_dir / "getent").write_text(f'#!/bin/sh\ncase "$2" in\n{lines}\n*) exit 2 ;;\nesac\n')
    (bin_dir / "getent").chmod(0o755)
    for name in accounts:
        (tmp_path / "home" / name).mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _read(env: dict[str, str], *names: str) -> dict[str, Any]:
    run = subprocess.run(["sh", "-c", plugin._READ, "grid-keys", *names], env=env, capture_output=True, text=True,
                         check=True)
    return plugin.parse_report(run.stdout)  # type: ignore[no-any-return]


def _write(env: dict[str, str], files: dict[str, tuple[str, bytes]]) -> None:
    words = [word for name, (home, content) in files.items()
             for word in (name, home, base64.b64encode(content).decode())]
    subprocess.run(["sh", "-c", plugin._WRITE, "grid-keys", *words], env=env, check=True)


@as_root
def test_read_write_read_converges_and_never_writes_through_a_link(tmp_path: Path) -> None:
    env = _node(tmp_path, ["nobody", "root"])
    home = tmp_path / "home"
    secret = tmp_path / "shadow"
    secret.write_text("secret\n")
    (home / "nobody" / ".ssh").mkdir()
    (home / "nobody" / ".ssh" / "authorized_keys").symlink_to(secret)
    (home / "root" / ".ssh").mkdir(mode=0o755)
    (home / "root" / ".ssh" / "authorized_keys").write_text(f"image-key\n{OLD_ADMIN}\n")
    found = _read(env, "nobody", "root", "ghost")
    assert found["nobody"].content is None and found["nobody"].file_kind == "link"  # the link is not read
    assert found["root"].content == f"image-key\n{OLD_ADMIN}\n".encode()
    assert found["ghost"].home is None
    wanted = {"nobody": plugin.account_keys("lab", ["k1"], ""),
              "root": plugin.with_grid_line(found["root"].content, ADMIN, "grid-lab")}
    assert not any(found[name].in_shape(content) for name, content in wanted.items())
    _write(env, {name: (str(found[name].home), content) for name, content in wanted.items()})
    assert secret.read_text() == "secret\n"
    again = _read(env, "nobody", "root")
    assert all(again[name].in_shape(content) for name, content in wanted.items()), again
    assert (home / "root" / ".ssh" / "authorized_keys").read_text() == f"image-key\n{ADMIN}\n"
    assert not list((home / "nobody" / ".ssh").glob("*.grid-*"))  # no temp file left


@pytest.mark.e2e
@as_root
def test_the_action_checks_diffs_writes_and_then_finds_it_done(tmp_path: Path) -> None:
    """The action run by ansible-playbook (through ansible-runner, as grid runs it; connection local)."""
    import ansible_runner

    env = _node(tmp_path, ["nobody", "root"])
    keys = tmp_path / "home" / "nobody" / ".ssh" / "authorized_keys"
    project = tmp_path / "project"
    (project / "action_plugins").mkdir(parents=True)
    (tmp_path / "runner").mkdir()
    (project / "action_plugins" / "grid_authorized_keys.py").write_text(
        (PLUGINS / "grid_authorized_keys.py").read_text())
    task = {"grid_authorized_keys": {"cluster": "lab", "admin_key": ADMIN, "connect_user": "root",
                                     "accounts": [{"name": "nobody", "authorized_keys": ["k1"]}]}}
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task, task]}]
    (project / "play.yml").write_text(yaml.safe_dump(play))

    def playbook(cmdline: str) -> list[dict[str, Any]]:
        run = ansible_runner.run(
            private_data_dir=str(tmp_path / "runner"), project_dir=str(project), playbook="play.yml",
            inventory={"all": {"hosts": {"localhost": {}}}}, quiet=True, cmdline=cmdline,
            envvars={"PATH": env["PATH"], "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                     "ANSIBLE_LOCALHOST_WARNING": "False"})
        results = [e["event_data"]["res"] for e in run.events if e.get("event") == "runner_on_ok"]
        assert run.rc == 0 and len(results) == 2, run.stdout.read()[-3000:]
        return results

    checked = playbook("--check --diff")
    assert [r["changed"] for r in checked] == [True, True] and not keys.exists(), "check mode wrote"
    assert [d["after"] for d in checked[0]["diff"]] == [plugin.account_keys("lab", ["k1"], "").decode(), f"{ADMIN}\n"]
    assert [r["changed"] for r in playbook("--diff")] == [True, False]  # the second finds it done
    keys.write_text(keys.read_text() + "added-by-hand\n")
    assert [r["changed"] for r in playbook("--check --diff")] == [True, True]
    assert [r["changed"] for r in playbook("--diff")] == [True, False]
    assert "added-by-hand" not in keys.read_text()
