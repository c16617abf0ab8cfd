"""grid's one-task actions for a node (action_plugins/grid_files.py, grid_mounts.py, grid_hostname.py,
grid_fabric_mtu.py, grid_accounts.py's making of accounts), run by ansible-playbook on this machine (connection
local), as a user would see them: check mode changes nothing and says what would change, a run writes, the
next finds it done; a file edited by hand, a link put in a file's place, an invalid sudoers file, a mount point
missing, a wrong hostname."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parents[2] / "templates" / "ansible" / "action_plugins"
ACTIONS = ("grid_files.py", "grid_mounts.py", "grid_hostname.py", "grid_fabric_mtu.py", "grid_command.py")


def _plugin(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, PLUGINS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _playbook(tmp_path: Path, tasks: list[dict[str, object]], *, check: bool = False,
              ok: bool = True) -> list[dict[str, Any]]:
    """Each task's result (ok or failed), from a run of ansible-playbook (through ansible-runner, as grid runs it)."""
    import ansible_runner

    project = tmp_path / "project"
    (project / "action_plugins").mkdir(parents=True, exist_ok=True)
    for action in ACTIONS:
        (project / "action_plugins" / action).write_text((PLUGINS / action).read_text())
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (project / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "runner").mkdir(exist_ok=True)
    run = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"), project_dir=str(project), playbook="play.yml",
        inventory={"all": {"hosts": {"localhost": {}}}}, quiet=True, cmdline="--check --diff" if check else "--diff",
        envvars={"ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "False"})
    results = [e["event_data"]["res"] for e in run.events if e.get("event") in ("runner_on_ok", "runner_on_failed")]
    assert (run.rc == 0) == ok, run.stdout.read()[-3000:]
    return results


def _me() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def test_files_and_directories_in_one_task(tmp_path: Path) -> None:
    owner, group = _me()
    base = tmp_path / "etc"
    conf, keep = base / "sysctl.d" / "90-grid.conf", base / "grid" / "node.json"
    task = {"grid_files": {
        "directories": [{"path": str(base / "sysctl.d"), "owner": owner, "group": group},
                        {"path": str(base / "grid"), "owner": owner, "group": group}],
        "files": [{"path": str(conf), "content": "a = 1\n", "owner": owner, "group": group,
                   "then": ["touch", str(tmp_path / "applied")]},
                  {"path": str(keep), "content": "{}\n", "owner": owner, "group": group, "mode": "0640"}]}}

    checked = _playbook(tmp_path, [task], check=True)[0]
    assert checked["changed"] is True and not base.exists(), "check mode wrote"
    assert {d["after_header"] for d in checked["diff"]} == {str(conf), str(keep)}

    assert [r["changed"] for r in _playbook(tmp_path, [task, task])] == [True, False]
    assert conf.read_text() == "a = 1\n" and keep.read_text() == "{}\n"
    assert keep.stat().st_mode & 0o777 == 0o640 and (base / "grid").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "applied").exists(), "the changed file's command did not run"
    assert not [p for p in conf.parent.iterdir() if p != conf], "a temp file was left behind"

    (tmp_path / "applied").unlink()
    conf.write_text("a = 1\nvm.swappiness = 60\n")  # edited by hand
    keep.unlink()
    keep.symlink_to(tmp_path / "elsewhere")  # a link in its place: replaced, never written through
    first, second = _playbook(tmp_path, [task, task])
    assert first["written"] == [str(conf), str(keep)] and second["changed"] is False
    assert conf.read_text() == "a = 1\n" and not keep.is_symlink() and not (tmp_path / "elsewhere").exists()
    assert (tmp_path / "applied").exists()

    keep.chmod(0o666)  # only the mode drifted: the other file's command does not run again
    (tmp_path / "applied").unlink()
    assert _playbook(tmp_path, [task])[0]["written"] == [str(keep)]
    assert keep.stat().st_mode & 0o777 == 0o640 and not (tmp_path / "applied").exists()


def test_a_file_that_fails_its_validation_is_not_written(tmp_path: Path) -> None:
    owner, group = _me()
    path = tmp_path / "sudoers"
    path.write_text("good\n")
    task = {"grid_files": {"files": [{"path": str(path), "content": "bad\n", "owner": owner, "group": group,
                                      "validate": "grep -q good %s"}]}}
    failed = _playbook(tmp_path, [task], ok=False)[0]
    assert "validation failed" in failed["msg"], failed
    assert path.read_text() == "good\n" and list(tmp_path.glob("sudoers.grid-*")) == []
    task["grid_files"]["files"][0]["content"] = "good too\n"  # type: ignore[index]
    assert _playbook(tmp_path, [task])[0]["changed"] is True and path.read_text() == "good too\n"


def test_mount_points_are_directories_written_to_and_unverifiable_in_check_mode(tmp_path: Path) -> None:
    shared, data = tmp_path / "shared", tmp_path / "data"
    shared.mkdir()
    data.mkdir()
    task = {"grid_mounts": {"hostname": "h1", "mounts": [{"name": "pfs", "mount": str(shared)},
                                                        {"name": "data", "mount": str(data), "read_only": True}],
                            "write_to": [{"name": "pfs", "mount": str(shared)}]}}
    done = _playbook(tmp_path, [task])[0]
    assert done["changed"] is False and list(shared.iterdir()) == [], "the probe left a file"
    checked = _playbook(tmp_path, [task], check=True)[0]
    assert [r["grid_unverifiable"] for r in checked["results"]] == [f"write probe of {shared} needs a real write"]

    data.rmdir()  # a mount point missing: the task fails and says which
    failed = _playbook(tmp_path, [task], ok=False)[0]
    assert failed["msg"] == f"{data} (storage data) is not a directory on this node", failed


def test_the_hostname_is_asserted_where_grid_may_not_set_it(tmp_path: Path) -> None:
    running = socket.gethostname()
    assert _playbook(tmp_path, [{"grid_hostname": {"name": running, "manage": False}}])[0]["changed"] is False
    failed = _playbook(tmp_path, [{"grid_hostname": {"name": "not-" + running, "manage": "false"}}], ok=False)[0]
    assert failed["msg"] == f"hostname is {running}, expected not-{running}"


def test_a_command_runs_as_commands_argv_does_and_check_mode_skips_it_unless_told(tmp_path: Path) -> None:
    made = tmp_path / "it's made"  # a quote and a space: argv words reach the command as they are
    script = 'printf "%s\\n" "$2" > "$1"; echo "wrote $2"'
    task = {"grid_command": {"argv": ["sh", "-c", script, "grid-test", str(made), "a b"]}, "register": "out",
            "changed_when": "out.stdout != 'same'"}
    assert _playbook(tmp_path, [task], check=True) == [] and not made.exists()  # skipped: neither ok nor failed
    done = _playbook(tmp_path, [{**task, "check_mode": False}], check=True)[0]
    assert made.read_text() == "a b\n" and done["stdout"] == "wrote a b" and done["changed"] is True
    failed = _playbook(tmp_path, [{"grid_command": {"argv": ["sh", "-c", "echo no such thing >&2; exit 3"]}}],
                       ok=False)[0]
    assert failed["rc"] == 3 and failed["msg"] == "non-zero return code" and failed["stderr"] == "no such thing"


def test_fabric_addresses_and_mtus(tmp_path: Path) -> None:
    plugin = _plugin("grid_fabric_mtu")
    links = [{"ifname": "lo", "mtu": 65536, "addr_info": [{"local": "127.0.0.1"}]}]
    assert plugin.link_of(links, "127.0.0.1")["ifname"] == "lo" and plugin.link_of(links, "10.9.9.9") is None
    ok = _playbook(tmp_path, [{"grid_fabric_mtu": {"fabrics": [{"name": "lo", "ip": "127.0.0.1", "mtu": 65536}],
                                                   "manage": False}}])[0]
    assert ok["changed"] is False
    failed = _playbook(tmp_path, [{"grid_fabric_mtu": {"fabrics": [
        {"name": "lo", "ip": "127.0.0.1", "mtu": 1500}, {"name": "gone", "ip": "10.9.9.9", "mtu": 1500}],
        "manage": False}}], ok=False)[0]
    assert failed["msg"] == ("lo has MTU 65536, the spec says 1500 (fabric lo); "
                             "no interface holds 10.9.9.9 (fabric gone)")
    # Where grid sets MTUs, check mode says what it would set and sets nothing.
    checked = _playbook(tmp_path, [{"grid_fabric_mtu": {"fabrics": [{"name": "lo", "ip": "127.0.0.1", "mtu": 1500}],
                                                        "manage": True}}], check=True)[0]
    assert checked["changed"] is True and checked["msg"] == "lo has MTU 65536, the spec says 1500"


def test_accounts_to_make_from_what_the_node_says() -> None:
    plugin = _plugin("grid_accounts")
    out = "@ gridadmin home /bin/bash\r\n@ alice nohome /bin/sh\ngridadmin present\nbob present\n"
    entries = plugin.parse_entries(out)
    assert entries == {"gridadmin": ("/bin/bash", True), "alice": ("/bin/sh", False)}
    assert plugin.parse_listing(out) == (["bob", "gridadmin"], {"bob", "gridadmin"})
    assert [plugin.account_change(entries.get(n), "/bin/bash") for n in ("gridadmin", "alice", "carol")] == \
        ["", "shell", "new"]
    assert plugin.account_change(("/bin/bash", False), "/bin/bash") == "home"
    # A node without the list yet still says which wanted accounts exist.
    assert plugin.parse_listing("@ gridadmin home /bin/bash\n" + plugin.MISSING + "\n") == (None, set())
