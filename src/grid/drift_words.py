"""What a drifted task means, in an operator's words: check mode names the tasks that would change, and for
grid's Slurm role (templates/ansible/roles/slurm) a task that would change says what was found on the host."""

from __future__ import annotations

SLURM_ROLE = "slurm : "
OUT_OF_SERVICE = "Out of service in Slurm, not by grid: "
"""The role's check-mode task whose name lists the nodes Slurm holds out of service, separated by '; '."""
FILES_DIFFER = "Slurm's files differ from grid's: "
"""The role's check-mode task whose name lists the files that differ on the host, separated by ', '."""
LEFT_UNDONE = "Slurm action left undone: "
"""The role's check-mode task naming the restart or reconfigure a killed run did not do (its marker is there)."""

SLURM_TASKS = {
    "Munge key": "munge key on {host} is not the cluster's (replaced by hand)",
    "Munged running": "munged down on {host}",
    "Slurmctld running": "slurmctld down on {host}",
    "Slurmd running": "slurmd down on {host}",
    "Daemon control script": "grid's Slurm tools changed on {host}",
}
"""A changed task of the slurm role in check mode -> what it means."""


def findings(tasks: tuple[str, ...], hostname: str) -> tuple[str, ...]:
    """One line per drifted task: its meaning when grid knows it, else `task changed: NAME`."""
    out: list[str] = []
    for task in tasks:
        name = task.removeprefix(SLURM_ROLE) if task.startswith(SLURM_ROLE) else None
        if name is not None and name.startswith(OUT_OF_SERVICE):
            out += [part.strip() for part in name.removeprefix(OUT_OF_SERVICE).split("; ") if part.strip()]
        elif name is not None and name.startswith(FILES_DIFFER):
            out += [f"{file} edited on {hostname} (differs from what grid renders)"
                    for file in name.removeprefix(FILES_DIFFER).split(", ") if file]
        elif name is not None and name.startswith(LEFT_UNDONE):
            out.append(f"Slurm {name.removeprefix(LEFT_UNDONE)} left undone on {hostname} by an interrupted run")
        elif name is not None and name in SLURM_TASKS:
            out.append(SLURM_TASKS[name].format(host=hostname))
        else:
            out.append(f"task changed: {task}")
    return tuple(dict.fromkeys(out))
