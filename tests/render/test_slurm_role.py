"""The slurm role's choice between `scontrol reconfigure` and a restart, played in check mode on this machine.

Slurm 22.05 dies on a reconfigure after the node list changed (docs/lab-notes.md, "Slurm in lab nodes"), so a
changed NodeName line must notify the restart and anything else only the reconfigure. Check mode runs no daemon
command; the handlers' headers still show which one was notified.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

BASE_CONF = "SlurmctldHost=ctl\nProctrackType=proctrack/linuxproc\nNodeName=n[0-2] CPUs=1\n" \
            "PartitionName=main Nodes=n[0-2] MaxTime=INFINITE\n"


def _playbook() -> str:
    found = Path(sys.executable).parent / "ansible-playbook"
    if found.is_file():
        return str(found)
    which = shutil.which("ansible-playbook")
    if which is None:
        pytest.skip("ansible-playbook is not installed (pip install ansible-core)")
    return which


def _handlers_notified(tmp_path: Path, new_conf: str) -> list[str]:
    roles = tmp_path / "roles"
    if not roles.exists():
        with resources.as_file(resources.files("grid.templates") / "ansible" / "roles" / "slurm") as role:
            shutil.copytree(role, roles / "slurm")
    (tmp_path / "site.yml").write_text(yaml.safe_dump([{
        "name": "Slurm configuration only", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Configuration files",
                   "ansible.builtin.import_role": {"name": "slurm", "tasks_from": "config"}}],
    }]))
    extra = {"slurm_conf_dir": str(tmp_path / "etc"), "grid_slurm_conf": new_conf,
             "grid_slurm_controller": "localhost", "ansible_python_interpreter": sys.executable}
    (tmp_path / "extra.yml").write_text(yaml.safe_dump(extra))
    proc = subprocess.run(
        [_playbook(), "-i", "localhost,", "-c", "local", "--check", "-e", f"@{tmp_path / 'extra.yml'}",
         str(tmp_path / "site.yml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_ROLES_PATH": str(roles), "ANSIBLE_NOCOWS": "1",
             "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line.split("[slurm : ", 1)[1].split("]", 1)[0]
            for line in proc.stdout.splitlines() if line.startswith("RUNNING HANDLER")]


def _installed(tmp_path: Path, text: str) -> None:
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc" / "slurm.conf").write_text(text)


def test_a_new_node_restarts_slurm(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    grown = BASE_CONF.replace("n[0-2]", "n[0-3]")
    assert _handlers_notified(tmp_path, grown) == ["Restart slurmctld", "Restart slurmd"]


def test_a_partition_limit_only_reconfigures(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    longer = BASE_CONF.replace("MaxTime=INFINITE", "MaxTime=1-00:00:00")
    assert _handlers_notified(tmp_path, longer) == ["Reconfigure slurm"]


def test_an_unchanged_file_notifies_nothing(tmp_path: Path) -> None:
    _installed(tmp_path, BASE_CONF)
    assert _handlers_notified(tmp_path, BASE_CONF) == []
