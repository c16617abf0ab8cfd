"""The slurm role's choice between `scontrol reconfigure` and restarts, played on this machine for real: the
role's files step (files/grid-slurm-files) writes into a temporary folder, and the daemon tool and scontrol are
stand-ins that record what they were asked (no Slurm runs here; tests/e2e/test_slurm_e2e.py runs the real one).

Slurm 22.05 dies on a reconfigure after the node list changed (docs/lab-notes.md, "Slurm in lab nodes"), so a
changed NodeName line must restart the daemons and anything else only reconfigure them. A run killed after the
files were written leaves its action in a marker, which the next run does although the files match.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

BASE_CONF = "SlurmctldHost=ctl\nProctrackType=proctrack/linuxproc\nNodeName=n[0-2] CPUs=1\n" \
            "PartitionName=main Nodes=n[0-2] MaxTime=INFINITE\n"
PATTERN = r"^\s*(NodeName|ProctrackType|SlurmctldHost)\s*="
RECORDER = "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"{log}\"\necho restarted\n"


def _playbook() -> str:
    found = Path(sys.executable).parent / "ansible-playbook"
    if found.is_file():
        return str(found)
    which = shutil.which("ansible-playbook")
    if which is None:
        pytest.skip("ansible-playbook is not installed (pip install ansible-core)")
    return which


def _role_file(name: str) -> Path:
    with resources.as_file(resources.files("grid.templates") / "ansible" / "roles" / "slurm" / "files" / name) as f:
        return Path(f)


def _apply(tmp_path: Path, new_conf: str, *, compute: bool = True) -> list[str]:
    """Play the role's files step and handlers on localhost as the controller; what the daemons were asked."""
    roles, bin_dir, log = tmp_path / "roles", tmp_path / "bin", tmp_path / "asked.log"
    if not roles.exists():
        with resources.as_file(resources.files("grid.templates") / "ansible" / "roles" / "slurm") as role:
            shutil.copytree(role, roles / "slurm")
        bin_dir.mkdir()
        for tool in ("grid-daemon", "scontrol"):
            (bin_dir / tool).write_text(RECORDER.format(log=log))
            (bin_dir / tool).chmod(0o755)
    log.write_text("")
    (tmp_path / "site.yml").write_text(yaml.safe_dump([{
        "name": "Slurm files only", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Configuration files",
                   "ansible.builtin.import_role": {"name": "slurm", "tasks_from": "config"}}],
        "handlers": [{"name": "Handlers", "ansible.builtin.import_tasks": str(roles / "slurm/handlers/main.yml")}],
    }]))
    extra = {"slurm_conf_dir": str(tmp_path / "etc"), "slurm_pending_marker": str(tmp_path / "pending"),
             "slurm_files_tool": str(_role_file("grid-slurm-files")), "slurm_daemon_tool": str(bin_dir / "grid-daemon"),
             "grid_slurm_conf": new_conf, "grid_slurm_restart_keys": ["NodeName", "SlurmctldHost"],
             "grid_slurm_controller": "localhost", "grid_slurm_controllers": ["localhost"],
             "slurm_is_compute": compute, "ansible_python_interpreter": sys.executable,
             # the daemons ran before this run (the tasks that find it out are not played here)
             "slurm_slurmctld_was_running": True, "slurm_slurmd_was_running": compute}
    (tmp_path / "extra.yml").write_text(yaml.safe_dump(extra))
    proc = subprocess.run(
        [_playbook(), "-i", "localhost,", "-c", "local", "-e", f"@{tmp_path / 'extra.yml'}",
         str(tmp_path / "site.yml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "ANSIBLE_ROLES_PATH": str(roles), "ANSIBLE_NOCOWS": "1",
             "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line.strip() for line in log.read_text().splitlines()]


def _installed(tmp_path: Path, text: str) -> None:
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc" / "slurm.conf").write_text(text)


def test_a_new_node_restarts_slurmctld_then_slurmd(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    grown = BASE_CONF.replace("n[0-2]", "n[0-3]")
    assert _apply(tmp_path, grown) == ["grid-daemon restart slurmctld", "grid-daemon restart slurmd",
                                       "grid-daemon registered localhost"]
    assert (tmp_path / "etc" / "slurm.conf").read_text() == grown
    assert not (tmp_path / "pending").exists()  # done: the marker is gone


def test_a_partition_limit_only_reconfigures(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    longer = BASE_CONF.replace("MaxTime=INFINITE", "MaxTime=1-00:00:00")
    # The controller's reconfigure reaches every slurmd: none is restarted.
    assert _apply(tmp_path, longer) == ["scontrol reconfigure"]


def test_an_unchanged_file_asks_nothing(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    assert _apply(tmp_path, BASE_CONF) == []


def test_an_action_a_killed_run_left_undone_is_done_next_time(tmp_path: Path) -> None:
    """The files were written, then the run was killed before its handlers: the marker says what is owed."""
    _installed(tmp_path, BASE_CONF.replace("n[0-2]", "n[0-3]"))
    (tmp_path / "pending").write_text("restart\n")
    assert _apply(tmp_path, BASE_CONF.replace("n[0-2]", "n[0-3]")) == [
        "grid-daemon restart slurmctld", "grid-daemon restart slurmd", "grid-daemon registered localhost"]
    assert not (tmp_path / "pending").exists()
    assert _apply(tmp_path, BASE_CONF.replace("n[0-2]", "n[0-3]")) == []


def _files_tool(tmp_path: Path, conf: str, *flags: str) -> dict[str, object]:
    wanted = {"files": {"slurm.conf": conf, "gres.conf": "", "topology.conf": "Switch=s Nodes=n[0-2]\n"},
              "restart_pattern": PATTERN}
    proc = subprocess.run([sys.executable, str(_role_file("grid-slurm-files")), *flags, "--conf-dir",
                           str(tmp_path / "etc"), "--pending", str(tmp_path / "pending")],
                          input=json.dumps(wanted), capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_the_files_step_writes_first_the_marker_then_the_files(tmp_path: Path) -> None:
    assert _files_tool(tmp_path, BASE_CONF) == {"changed": ["slurm.conf", "topology.conf"], "action": "restart",
                                                "pending": False, "done": []}
    assert (tmp_path / "pending").read_text() == "restart\n"
    assert (tmp_path / "etc" / "topology.conf").read_text() == "Switch=s Nodes=n[0-2]\n"
    assert not (tmp_path / "etc" / "gres.conf").exists()


def test_check_mode_writes_nothing_and_tells_what_differs(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    edited = BASE_CONF + "MaxJobCount=7\n"
    (tmp_path / "etc" / "topology.conf").write_text("Switch=s Nodes=n[0-2]\n")
    assert _files_tool(tmp_path, edited, "--check") == {"changed": ["slurm.conf"], "action": "reconfigure",
                                                        "pending": False, "done": []}
    assert (tmp_path / "etc" / "slurm.conf").read_text() == BASE_CONF
    assert not (tmp_path / "pending").exists()
