"""`ansible-playbook` as grid runs it: Ansible's own command, its imports made with the cyclic GC paused.

Ansible's command imports for ~0.5 s before it runs a task, and the cyclic GC keeps rescanning what those imports
made (grid.startup): a one-task playbook here took 0.64 s as `ansible-playbook` and 0.51 s through this module
(8 runs each, best). When Ansible is installed beside grid's interpreter, grid.drivers.ansible puts a launcher
of that name first on a run's PATH; ansible-runner then starts it as it starts Ansible's own, with the same
arguments, environment and process (the launcher execs). Anywhere else Ansible's own command runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from grid.drivers.launchers import write_launcher

COMMAND = "ansible-playbook"


def launcher_dir(directory: Path) -> Path | None:
    """`directory`, holding a launcher named ansible-playbook, to put first on PATH; None when Ansible's command
    is not beside this interpreter (this interpreter may then not import Ansible: its own command runs)."""
    if not (Path(sys.executable).parent / COMMAND).is_file():
        return None
    path = directory / COMMAND
    # -P: the run's working directory (the Ansible project) is not put on sys.path, as with Ansible's script.
    text = (f"#!/bin/sh\n# Written by grid: Ansible's {COMMAND}, its imports with the GC paused "
            f"(grid.drivers.ansible_playbook).\nexec {shlex.quote(sys.executable)} -P -m grid.drivers.ansible_playbook "
            '"$@"\n')
    write_launcher(path, text)
    return directory


def main() -> int:
    from grid.startup import importing, keep_dataclass_code

    keep_dataclass_code("ansible-playbook")
    with importing():
        from ansible.cli.playbook import main as playbook
    sys.argv[0] = str(Path(sys.executable).parent / COMMAND)  # as Ansible's own script is started
    return int(playbook() or 0)


if __name__ == "__main__":
    sys.exit(main())
