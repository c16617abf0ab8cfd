"""The hosts-table action (action_plugins/grid_hosts_block.py) against ansible.builtin.blockinfile: the
same file for the same input, so hosts blockinfile configured are found configured; and the action
itself, run by ansible-playbook on this machine (connection local): check, diff, write, mode."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

PLUGINS = Path(__file__).resolve().parents[2] / "templates" / "ansible" / "action_plugins"
MARKER = "# {mark} grid cluster lab"
BLOCK = "198.18.1.2\teast-train-0000\n198.18.1.3\teast-train-0001"
ORIGINALS = {
    "empty": "",
    "no-final-newline": "127.0.0.1\tlocalhost",
    "others-only": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
    "old-block-in-the-middle": ("127.0.0.1\tlocalhost\n# BEGIN grid cluster lab\n198.18.1.2\told\n"
                                "# END grid cluster lab\n10.0.0.1\tkept\n"),
    "markers-reversed": "# END grid cluster lab\nx\n# BEGIN grid cluster lab\ntail\n",
    "same-block": "127.0.0.1\tlocalhost\n# BEGIN grid cluster lab\n" + BLOCK + "\n# END grid cluster lab\n",
    "crlf-lines": "127.0.0.1\tlocalhost\r\n::1\tip6-localhost\r\n",
    "other-cluster-block": "# BEGIN grid cluster other\n1.2.3.4\tx\n# END grid cluster other\n",
}


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grid_hosts_block", PLUGINS / "grid_hosts_block.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _playbook(tmp_path: Path, tasks: list[dict[str, object]], *, check: bool = False) -> list[dict[str, Any]]:
    """Each task's result, from a run of ansible-playbook (through ansible-runner, as grid runs it)."""
    import ansible_runner

    project = tmp_path / "project"
    (project / "action_plugins").mkdir(parents=True, exist_ok=True)
    (project / "action_plugins" / "grid_hosts_block.py").write_text((PLUGINS / "grid_hosts_block.py").read_text())
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    (project / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "runner").mkdir(exist_ok=True)
    run = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"), project_dir=str(project), playbook="play.yml",
        inventory={"all": {"hosts": {"localhost": {}}}}, quiet=True, cmdline="--check --diff" if check else "--diff",
        envvars={"ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "False"})
    results = [e["event_data"]["res"] for e in run.events if e.get("event") == "runner_on_ok"]
    assert run.rc == 0 and len(results) == len(tasks), run.stdout.read()[-3000:]
    return results


def test_the_same_file_as_blockinfile_for_every_starting_point(tmp_path: Path) -> None:
    with_block = _plugin().with_block
    for name, original in ORIGINALS.items():
        (tmp_path / name).write_bytes(original.encode())
    tasks = [{"ansible.builtin.blockinfile": {"path": str(tmp_path / name), "marker": MARKER, "block": BLOCK}}
             for name in ORIGINALS]
    _playbook(tmp_path, tasks)
    for name, original in ORIGINALS.items():
        assert with_block(original.encode(), MARKER.encode(), BLOCK.encode()) == (tmp_path / name).read_bytes(), name


def test_the_action_checks_diffs_and_writes_with_mode_and_no_python_on_the_host(tmp_path: Path) -> None:
    hosts = tmp_path / "etc" / "hosts"
    hosts.parent.mkdir()
    hosts.write_text(ORIGINALS["others-only"])
    hosts.chmod(0o600)
    task = {"grid_hosts_block": {"path": str(hosts), "marker": MARKER, "block": BLOCK,
                                 "owner": "root", "group": "root", "mode": "0644"}}

    checked = _playbook(tmp_path, [task], check=True)[0]
    assert checked["changed"] is True
    assert hosts.read_text() == ORIGINALS["others-only"], "check mode changed the file"
    diff = checked["diff"]
    assert isinstance(diff, dict) and "# BEGIN grid cluster lab" in diff["after"]

    written = _playbook(tmp_path, [task, task])
    assert [r["changed"] for r in written] == [True, False]  # the second finds it done
    assert hosts.read_bytes() == _plugin().with_block(ORIGINALS["others-only"].encode(), MARKER.encode(),
                                                       BLOCK.encode())
    assert hosts.stat().st_mode & 0o777 == 0o644
    assert not [p for p in hosts.parent.iterdir() if p != hosts], "a temp file was left behind"

    hosts.chmod(0o666)  # only the mode drifted
    assert [r["changed"] for r in _playbook(tmp_path, [task, task])] == [True, False]
    assert hosts.stat().st_mode & 0o777 == 0o644

    hosts.unlink()  # a missing file is created
    assert _playbook(tmp_path, [task])[0]["changed"] is True
    assert hosts.read_bytes() == _plugin().with_block(b"", MARKER.encode(), BLOCK.encode())
